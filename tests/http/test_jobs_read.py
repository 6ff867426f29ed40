"""Reads: GET /v1/job/<id>, /v1/jobs, /v1/job/<id>/allocations and /evaluations,
with the common headers, content types and ?pretty."""

import json

import pytest


def test_get_job_returns_every_field_sent(api, server_region, h):
    job = api.seed_job()
    reply = api.register(job)
    r = api.get(api.job_path(job["ID"]))
    got = r.ok()
    ignore = {f"Job.{k}" for k in h.JOB_SERVER_FIELDS} | {"Job.Region"}
    h.assert_contains(job, got, ignore=ignore)
    assert got["Region"] == server_region
    for key in ("CreateIndex", "ModifyIndex", "JobModifyIndex", "Version", "Status",
                "Namespace", "SubmitTime"):
        assert key in got, f"GET job lacks {key}"
    assert got["Status"] in ("pending", "running", "dead")
    assert got["CreateIndex"] == reply["Index"]


def test_get_job_headers_carry_its_modify_index(api):
    job = api.seed_job()
    api.register(job)
    r = api.get(api.job_path(job["ID"]))
    got = r.ok()
    assert r.read_headers() == got["ModifyIndex"]


def test_get_missing_job_is_404_with_headers(api):
    r = api.get(api.job_path(api.job_id("missing")))
    r.error(404)
    assert r.text.strip() == "job not found"
    r.read_headers()


def test_job_list_is_an_array_of_stubs(api, h):
    job = api.seed_job()
    api.register(job)
    r = api.get("/v1/jobs")
    stubs = r.ok()
    r.read_headers()
    assert isinstance(stubs, list)
    mine = [s for s in stubs if s["ID"] == job["ID"]]
    assert len(mine) == 1
    stub = mine[0]
    for key in h.JOB_STUB_FIELDS:
        assert key in stub, f"job list stub lacks {key}: {stub}"
    full = api.job(job["ID"])
    for key in h.JOB_STUB_FIELDS:
        if key == "ParentID" and key not in full:
            # Not a modelled job field: a job registered without it has none
            # (GET returns what was sent, the defaults and the server fields).
            continue
        assert stub[key] == full[key], f"stub {key}={stub[key]!r}, job has {full[key]!r}"
    assert stub["Stop"] is False
    assert stub["ParentID"] == ""
    assert stub["Datacenters"] == ["us2", "eu1"]
    assert "TaskGroups" not in stub, "the list holds stubs, not full jobs"


def test_job_list_is_sorted_by_id_and_filtered_by_prefix(api, h):
    prefix = f"ordu-test-list-{h.uid()}-"
    ids = [prefix + s for s in ("b", "a", "C", "a/x", "aa")]
    for job_id in ids:
        api.register(api.seed_job(job_id))
    got = [s["ID"] for s in api.jobs(prefix=prefix)]
    assert got == sorted(ids, key=lambda s: s.encode())
    assert [s["ID"] for s in api.jobs(prefix=prefix + "a")] == [
        prefix + "a", prefix + "a/x", prefix + "aa"]
    everything = [s["ID"] for s in api.jobs()]
    assert everything == sorted(everything, key=lambda s: s.encode())
    assert set(ids) <= set(everything)


def test_job_list_with_unmatched_prefix_is_an_empty_array(api):
    r = api.get("/v1/jobs", params={"prefix": api.job_id("nothing-matches")})
    assert r.ok() == []
    assert r.text.strip() == "[]"
    r.read_headers()


def test_job_list_index_follows_job_changes(api):
    a = api.seed_job()
    ra = api.register(a)
    index_a = api.jobs_index()
    assert index_a >= ra["Index"]
    b = api.seed_job()
    rb = api.register(b)
    index_b = api.jobs_index()
    assert index_b > index_a
    assert index_b >= rb["Index"]


@pytest.mark.parametrize("suffix", ["/allocations", "/evaluations"])
def test_children_of_missing_job_are_empty_arrays(api, suffix):
    r = api.get(api.job_path(api.job_id("missing"), suffix))
    assert r.ok() == []
    assert r.text.strip() == "[]"
    r.read_headers()


def test_job_evaluations_are_full_evaluations(api, h):
    job = api.seed_job()
    reply = api.register(job)
    r = api.get(api.job_path(job["ID"], "/evaluations"))
    evals = r.ok()
    index = r.read_headers()
    mine = {e["ID"]: e for e in evals}
    assert reply["EvalID"] in mine
    for e in evals:
        for key in h.EVAL_FIELDS:
            assert key in e, f"evaluation lacks {key}: {e}"
        assert e["JobID"] == job["ID"]
        assert index >= e["ModifyIndex"]
    ev = mine[reply["EvalID"]]
    assert ev["Namespace"] == "default"
    assert ev["Priority"] == 50
    assert ev["Type"] == "service"
    assert ev["TriggeredBy"] == "job-register"
    assert ev["JobModifyIndex"] == reply["JobModifyIndex"]
    assert ev["NodeID"] == ""
    assert ev["NodeModifyIndex"] == 0
    assert ev["Status"] == "complete"
    assert ev["Wait"] == 0
    assert ev["CreateIndex"] == reply["EvalCreateIndex"]
    assert ev["ModifyIndex"] >= ev["CreateIndex"]
    assert isinstance(ev["CreateTime"], int) and isinstance(ev["ModifyTime"], int)
    assert ev["ModifyTime"] >= ev["CreateTime"] > 0


def test_job_allocations_are_list_stubs(api, h):
    dc = api.dc()
    node = api.add_node(dc)
    job = api.fitting_job(dc, count=2)
    reply = api.register(job)
    r = api.get(api.job_path(job["ID"], "/allocations"))
    allocs = r.ok()
    index = r.read_headers()
    assert len(allocs) == 2
    for a in allocs:
        for key in h.ALLOC_STUB_FIELDS:
            assert key in a, f"allocation stub lacks {key}: {a}"
        assert "Job" not in a, "the list holds stubs, not full allocations"
        assert h.UUID_RE.match(a["ID"])
        assert a["EvalID"] == reply["EvalID"]
        assert a["Namespace"] == "default"
        assert a["NodeID"] == node["ID"]
        assert a["NodeName"] == node["Name"]
        assert a["JobID"] == job["ID"]
        assert a["JobType"] == "service"
        assert a["JobVersion"] == 0
        assert a["TaskGroup"] == "binsl"
        assert a["DesiredStatus"] == "run"
        assert a["ClientStatus"] == "pending"
        assert a["CreateIndex"] >= reply["Index"]
        assert index >= a["ModifyIndex"] >= a["CreateIndex"]
        assert isinstance(a["CreateTime"], int) and a["CreateTime"] > 0
    assert h.names(allocs) == [f"{job['ID']}.binsl[0]", f"{job['ID']}.binsl[1]"]


def test_job_allocations_all_true_is_accepted(api):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=1)
    api.register(job)
    assert len(api.job_allocs(job["ID"], all_=True)) == 1


# ---- content type and ?pretty


@pytest.mark.parametrize("value", ["", "1", "true"], ids=["bare", "1", "true"])
def test_pretty_indents_the_same_json(api, value):
    job = api.seed_job()
    api.register(job)
    path = api.job_path(job["ID"])
    compact = api.get(path)
    query = "?pretty" if value == "" else f"?pretty={value}"
    pretty = api.get(path + query)
    assert pretty.ok() == compact.ok()
    assert "\n " in pretty.text, f"?pretty did not indent: {pretty.text[:200]!r}"
    assert "\n " not in compact.text, "the default answer must be compact"


def test_pretty_zero_is_compact(api):
    job = api.seed_job()
    api.register(job)
    r = api.get(api.job_path(job["ID"]), params={"pretty": "0"})
    r.ok()
    assert "\n " not in r.text


def test_pretty_applies_to_lists(api):
    job = api.seed_job()
    api.register(job)
    r = api.get("/v1/jobs", params={"prefix": job["ID"], "pretty": "1"})
    assert r.ok() == api.jobs(prefix=job["ID"])
    assert "\n " in r.text
    assert json.loads(r.text)[0]["ID"] == job["ID"]
