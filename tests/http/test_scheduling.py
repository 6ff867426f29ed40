"""Scheduling as seen over HTTP. Servers schedule inline: when a job register
returns, its evaluation has been processed. Effects of node changes (unblocking,
node down, drain) are awaited for up to 3 s.

Every test has a datacenter of its own, so only its own nodes are candidates."""

import pytest

LINUX_KEY = "${attr.kernel.os} = linux"


def failed_metrics(ev, group="binsl"):
    failed = ev.get("FailedTGAllocs") or {}
    assert group in failed, f"FailedTGAllocs does not name {group!r}: {ev}"
    return failed[group]


def test_placement_on_a_fitting_node(api, h):
    dc = api.dc()
    node = api.add_node(dc)
    job = api.fitting_job(dc, count=3)
    reply = api.register(job)
    allocs = api.job_allocs(job["ID"])
    # Names are built from the job ID (the seed's Name differs from it).
    assert h.names(allocs) == [f"{job['ID']}.binsl[{i}]" for i in range(3)]
    for a in allocs:
        assert a["DesiredStatus"] == "run"
        assert a["ClientStatus"] == "pending"
        assert a["NodeID"] == node["ID"]
        assert a["EvalID"] == reply["EvalID"]
    ev = api.eval(reply["EvalID"])
    assert ev["Status"] == "complete"
    assert not ev["FailedTGAllocs"], ev
    assert ev["BlockedEval"] == ""
    got = api.job(job["ID"])
    assert got["Status"] == "running"
    assert got["JobModifyIndex"] == reply["JobModifyIndex"]
    assert got["ModifyIndex"] >= got["JobModifyIndex"]
    assert sorted(a["ID"] for a in api.node_allocs(node["ID"])) == sorted(a["ID"] for a in allocs)


def test_unplaceable_job_is_pending_with_a_blocked_evaluation(api):
    job = api.seed_job()  # its literal constraint matches no node anywhere
    reply = api.register(job)
    ev = api.eval(reply["EvalID"])
    assert ev["Status"] == "complete"
    failed_metrics(ev)
    assert ev["BlockedEval"], ev
    blocked = api.eval(ev["BlockedEval"])
    assert blocked["Status"] == "blocked"
    assert blocked["JobID"] == job["ID"]
    assert blocked["PreviousEval"] == ev["ID"]
    assert api.job(job["ID"])["Status"] == "pending"
    assert api.job_allocs(job["ID"]) == []
    assert ev["BlockedEval"] in [e["ID"] for e in api.job_evals(job["ID"])]


def test_constraint_filtered_then_placed_when_a_fitting_node_arrives(api, h):
    dc = api.dc()
    windows = api.add_node(dc, kernel_os="windows")
    job = api.fitting_job(dc, count=2)
    reply = api.register(job)
    ev = api.eval(reply["EvalID"])
    assert ev["Status"] == "complete"
    metrics = failed_metrics(ev)
    assert metrics["NodesEvaluated"] >= 1
    assert metrics["NodesFiltered"] >= 1
    assert metrics["ConstraintFiltered"].get(LINUX_KEY, 0) >= 1, metrics
    assert api.job_allocs(job["ID"]) == []
    assert api.job(job["ID"])["Status"] == "pending"
    blocked_id = ev["BlockedEval"]
    assert api.eval(blocked_id)["Status"] == "blocked"

    linux = api.add_node(dc)
    allocs = api.wait_allocs(job["ID"], lambda a: len(h.running(a)) == 2)
    assert {a["NodeID"] for a in allocs} == {linux["ID"]}
    assert windows["ID"] not in {a["NodeID"] for a in allocs}
    assert h.names(allocs) == [f"{job['ID']}.binsl[0]", f"{job['ID']}.binsl[1]"]
    h.wait_until(lambda: api.eval(blocked_id)["Status"] == "complete",
                 what="the blocked evaluation to complete")
    h.wait_until(lambda: api.job(job["ID"])["Status"] == "running", what="job running")


def test_cpu_exhausted(api):
    dc = api.dc()
    api.add_node(dc, cpu=800)  # one allocation asks 1000
    job = api.fitting_job(dc, count=1)
    reply = api.register(job)
    metrics = failed_metrics(api.eval(reply["EvalID"]))
    assert metrics["NodesEvaluated"] == 1
    assert metrics["NodesExhausted"] == 1
    assert metrics["DimensionExhausted"].get("cpu exhausted", 0) >= 1, metrics
    assert api.job_allocs(job["ID"]) == []


def test_memory_exhausted(api):
    dc = api.dc()
    api.add_node(dc, memory=256)
    job = api.fitting_job(dc, count=1)
    job["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] = 512
    reply = api.register(job)
    metrics = failed_metrics(api.eval(reply["EvalID"]))
    assert metrics["DimensionExhausted"].get("memory exhausted", 0) >= 1, metrics


def test_missing_driver_is_filtered(api):
    dc = api.dc()
    api.add_node(dc, drivers=("docker",))  # the seed's second task needs java
    job = api.fitting_job(dc, count=1)
    reply = api.register(job)
    metrics = failed_metrics(api.eval(reply["EvalID"]))
    assert metrics["NodesFiltered"] == 1
    assert any("driver" in k for k in metrics["ConstraintFiltered"]), metrics
    assert api.job_allocs(job["ID"]) == []


def test_other_datacenters_are_not_candidates(api):
    api.add_node(api.dc())
    job = api.fitting_job(api.dc(), count=1)
    reply = api.register(job)
    failed_metrics(api.eval(reply["EvalID"]))
    assert api.job_allocs(job["ID"]) == []


def test_datacenter_globs(api, h):
    tag = h.uid()
    node = api.add_node(f"ordu-test-glob-{tag}-east")
    job = api.fitting_job(f"ordu-test-glob-{tag}-*", count=1)
    api.register(job)
    allocs = api.job_allocs(job["ID"])
    assert [a["NodeID"] for a in allocs] == [node["ID"]]


def test_partial_placement_never_overcommits_then_capacity_unblocks(api, h):
    dc = api.dc()
    small = api.add_node(dc, cpu=2500)  # room for two allocations of 1000
    job = api.fitting_job(dc, count=3)
    reply = api.register(job)
    allocs = h.running(api.job_allocs(job["ID"]))
    assert len(allocs) == 2
    ev = api.eval(reply["EvalID"])
    assert ev["Status"] == "complete"
    metrics = failed_metrics(ev)
    assert metrics["DimensionExhausted"].get("cpu exhausted", 0) >= 1, metrics
    on_node = [a for a in api.node_allocs(small["ID"]) if a["DesiredStatus"] == "run"]
    assert sum(a["Resources"]["CPU"] for a in on_node) <= 2500
    assert api.job(job["ID"])["Status"] == "running"

    big = api.add_node(dc)
    allocs = api.wait_allocs(job["ID"], lambda a: len(h.running(a)) == 3)
    assert h.names(h.running(allocs)) == [f"{job['ID']}.binsl[{i}]" for i in range(3)]
    assert sorted(a["NodeID"] for a in h.running(allocs)).count(big["ID"]) == 1


def test_draining_node_gets_no_placement(api, h):
    dc = api.dc()
    node = api.add_node(dc)
    api.node_drain(node["ID"], True)
    job = api.fitting_job(dc, count=1)
    reply = api.register(job)
    failed_metrics(api.eval(reply["EvalID"]))
    assert api.job_allocs(job["ID"]) == []
    api.node_drain(node["ID"], False)
    allocs = api.wait_allocs(job["ID"], lambda a: len(h.running(a)) == 1)
    assert allocs[0]["NodeID"] == node["ID"]


@pytest.mark.parametrize("status", ["down", "initializing"])
def test_node_not_ready_gets_no_placement(api, status):
    dc = api.dc()
    node = api.add_node(dc, status=status)
    job = api.fitting_job(dc, count=1)
    reply = api.register(job)
    failed_metrics(api.eval(reply["EvalID"]))
    assert api.node_allocs(node["ID"]) == []


def test_node_down_loses_its_allocations_and_replaces_them(api, h):
    dc = api.dc()
    first = api.add_node(dc)
    job = api.fitting_job(dc, count=1)
    api.register(job)
    [old] = api.job_allocs(job["ID"])
    assert old["NodeID"] == first["ID"]
    second = api.add_node(dc)
    api.node_status(first["ID"], "down")

    def replaced(allocs):
        by_id = {a["ID"]: a for a in allocs}
        lost = by_id.get(old["ID"])
        fresh = [a for a in h.running(allocs) if a["ID"] != old["ID"]]
        return lost and lost["ClientStatus"] == "lost" and len(fresh) == 1

    allocs = api.wait_allocs(job["ID"], replaced, what="a lost allocation and its replacement")
    lost = [a for a in allocs if a["ID"] == old["ID"]][0]
    assert lost["DesiredStatus"] == "stop"
    [fresh] = [a for a in h.running(allocs) if a["ID"] != old["ID"]]
    assert fresh["NodeID"] == second["ID"]
    assert fresh["Name"] == old["Name"]


def test_count_changes_by_name(api, h):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=3)
    api.register(dict(job))
    first = {a["Name"]: a for a in api.job_allocs(job["ID"])}
    prefix = f"{job['ID']}.binsl"

    job["TaskGroups"][0]["Count"] = 1
    api.register(job)
    allocs = api.job_allocs(job["ID"])
    assert h.names(h.running(allocs)) == [f"{prefix}[0]"]
    stopped = [a for a in allocs if a["DesiredStatus"] == "stop"]
    assert h.names(stopped) == [f"{prefix}[1]", f"{prefix}[2]"], "count down stops the highest"
    assert {a["ID"] for a in stopped} == {first[f"{prefix}[1]"]["ID"], first[f"{prefix}[2]"]["ID"]}

    job["TaskGroups"][0]["Count"] = 2
    api.register(job)
    running = h.running(api.job_allocs(job["ID"]))
    assert h.names(running) == [f"{prefix}[0]", f"{prefix}[1]"], "count up takes the lowest free"


def test_batch_job_is_dead_when_its_allocations_complete(api, h):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=1)
    job["Type"] = "batch"
    api.register(job)
    [alloc] = api.job_allocs(job["ID"])
    assert api.job(job["ID"])["Status"] == "running"
    api.alloc_status(alloc["ID"], "running")
    assert api.job(job["ID"])["Status"] == "running"
    api.alloc_status(alloc["ID"], "complete")
    h.wait_until(lambda: api.job(job["ID"])["Status"] == "dead", what="the batch job to be dead")
    allocs = api.job_allocs(job["ID"])
    assert [a["ID"] for a in allocs] == [alloc["ID"]], "a completed batch allocation is not replaced"
    assert allocs[0]["ClientStatus"] == "complete"


def test_system_job_runs_on_every_feasible_node(api, h):
    dc = api.dc()
    a = api.add_node(dc)
    b = api.add_node(dc)
    api.add_node(dc, kernel_os="windows")
    job = api.fitting_job(dc, count=1)
    job["Type"] = "system"
    api.register(job)
    allocs = h.running(api.job_allocs(job["ID"]))
    assert sorted(x["NodeID"] for x in allocs) == sorted([a["ID"], b["ID"]])
    c = api.add_node(dc)
    allocs = api.wait_allocs(job["ID"], lambda xs: len(h.running(xs)) == 3,
                             what="a system allocation on the new node")
    assert c["ID"] in {x["NodeID"] for x in h.running(allocs)}
