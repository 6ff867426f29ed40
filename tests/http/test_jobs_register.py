"""Register: PUT|POST /v1/jobs and /v1/job/<id> — replies, defaults, indexes,
versions, unknown fields, regions and check-and-set."""

import copy

import pytest

REGISTER_REPLY_KEYS = (
    "EvalID", "EvalCreateIndex", "JobModifyIndex", "Warnings", "Index", "LastContact",
    "KnownLeader",
)


def test_seed_job_registers_as_published(api, h):
    job = api.seed_job()
    r = api.register_raw(job)
    body = r.ok()
    for key in REGISTER_REPLY_KEYS:
        assert key in body, f"register reply lacks {key}: {body}"
    assert h.UUID_RE.match(body["EvalID"]), body
    assert body["Warnings"] == ""
    assert body["LastContact"] == 0
    assert body["KnownLeader"] is False
    assert r.index == body["Index"]
    # A new job and its evaluation are one write.
    assert body["EvalCreateIndex"] == body["Index"] == body["JobModifyIndex"]


@pytest.mark.parametrize("method", ["PUT", "POST"])
@pytest.mark.parametrize("collection", [True, False], ids=["/v1/jobs", "/v1/job/<id>"])
def test_register_routes_and_methods(api, method, collection):
    job = api.seed_job()
    path = "/v1/jobs" if collection else api.job_path(job["ID"])
    body = api.register_raw(job, path=path, method=method).ok()
    got = api.job(job["ID"])
    assert got["ID"] == job["ID"]
    assert got["JobModifyIndex"] == body["JobModifyIndex"]


def test_new_job_indexes_version_and_status(api, h):
    job = api.seed_job()
    # Server-owned fields a client sends are ignored.
    job.update(CreateIndex=7777777, ModifyIndex=7777777, JobModifyIndex=7777777,
               Version=42, Status="running", SubmitTime=5)
    reply = api.register(job)
    got = api.job(job["ID"])
    idx = reply["Index"]
    assert got["CreateIndex"] == idx
    assert got["JobModifyIndex"] == idx
    # The seed job is never placed, so nothing rewrites it after the register.
    assert got["ModifyIndex"] == idx
    assert got["Version"] == 0
    assert got["Status"] == "pending"
    assert isinstance(got["SubmitTime"], int) and got["SubmitTime"] > 1_500_000_000 * 10**9
    assert got["Namespace"] == "default"
    evals = api.job_evals(job["ID"])
    first = [e for e in evals if e["ID"] == reply["EvalID"]]
    assert len(first) == 1, evals
    assert first[0]["CreateIndex"] == reply["EvalCreateIndex"]
    assert first[0]["JobModifyIndex"] == reply["JobModifyIndex"]


def test_defaults_for_absent_fields(api, server_region):
    job = api.sparse_job()
    api.register(job)
    got = api.job(job["ID"])
    assert got["Name"] == job["ID"]
    assert got["Type"] == "service"
    assert got["Priority"] == 50
    assert got["Namespace"] == "default"
    assert got["Region"] == server_region
    assert got["Datacenters"] == ["*"]
    group = got["TaskGroups"][0]
    assert group["Count"] == 1
    res = group["Tasks"][0]["Resources"]
    assert res["CPU"] == 100
    assert res["MemoryMB"] == 300
    rp = group["RestartPolicy"]
    assert rp["Attempts"] == 2
    assert rp["Interval"] == 30 * 60 * 10**9
    assert rp["Delay"] == 15 * 10**9
    assert rp["Mode"] == "fail"


def test_batch_restart_policy_default(api):
    job = api.sparse_job(Type="batch")
    api.register(job)
    got = api.job(job["ID"])
    assert got["Type"] == "batch"
    rp = got["TaskGroups"][0]["RestartPolicy"]
    assert rp["Attempts"] == 3
    assert rp["Interval"] == 24 * 3600 * 10**9
    assert rp["Delay"] == 15 * 10**9


def test_sent_restart_policy_is_kept(api):
    job = api.sparse_job()
    rp = {"Attempts": 1, "Interval": 600 * 10**9, "Delay": 5 * 10**9, "Mode": "delay"}
    job["TaskGroups"][0]["RestartPolicy"] = dict(rp)
    api.register(job)
    got = api.job(job["ID"])["TaskGroups"][0]["RestartPolicy"]
    for key, value in rp.items():
        assert got[key] == value, got


def test_fields_sent_as_zero_are_kept(api):
    job = api.sparse_job()
    job["TaskGroups"][0]["Count"] = 0
    job["TaskGroups"][0]["Tasks"][0]["Resources"] = {"CPU": 0, "MemoryMB": 0}
    api.register(job)
    got = api.job(job["ID"])
    assert got["TaskGroups"][0]["Count"] == 0
    res = got["TaskGroups"][0]["Tasks"][0]["Resources"]
    assert res["CPU"] == 0
    assert res["MemoryMB"] == 0
    assert api.job_allocs(job["ID"]) == []


def test_seed_memory_zero_is_kept(api):
    job = api.seed_job()
    api.register(job)
    for task in api.job(job["ID"])["TaskGroups"][0]["Tasks"]:
        assert task["Resources"]["MemoryMB"] == 0
        assert task["Resources"]["CPU"] == 500


def test_partial_resources_get_defaults(api):
    job = api.sparse_job()
    job["TaskGroups"][0]["Tasks"][0]["Resources"] = {"CPU": 250}
    api.register(job)
    res = api.job(job["ID"])["TaskGroups"][0]["Tasks"][0]["Resources"]
    assert res["CPU"] == 250
    assert res["MemoryMB"] == 300


def test_priority_zero_is_kept_and_rejected(api, h):
    job = api.sparse_job(Priority=0)
    text = api.register_raw(job).error(500)
    h.assert_problems(text, "Priority")
    api.get(api.job_path(job["ID"])).expect(404)


def test_identical_reregister(api, h):
    job = api.seed_job()
    first = api.register(copy.deepcopy(job))
    before = api.job(job["ID"])
    second = api.register(copy.deepcopy(job))
    assert second["EvalID"] != first["EvalID"]
    assert h.UUID_RE.match(second["EvalID"])
    assert second["JobModifyIndex"] == first["JobModifyIndex"]
    assert second["Index"] > first["Index"]
    assert second["EvalCreateIndex"] == second["Index"]
    after = api.job(job["ID"])
    assert after["Version"] == before["Version"] == 0
    assert after["JobModifyIndex"] == before["JobModifyIndex"]
    assert after["CreateIndex"] == before["CreateIndex"]
    evals = {e["ID"] for e in api.job_evals(job["ID"])}
    assert {first["EvalID"], second["EvalID"]} <= evals


def test_posting_back_what_get_returned_is_identical(api):
    """Clients read a job, edit it and post it back; unedited, that is no change."""
    job = api.seed_job()
    first = api.register(job)
    got = api.job(job["ID"])
    again = api.register(copy.deepcopy(got))
    assert again["JobModifyIndex"] == first["JobModifyIndex"]
    assert api.job(job["ID"])["Version"] == 0


def test_changed_spec_bumps_version_and_job_modify_index(api):
    job = api.seed_job()
    first = api.register(copy.deepcopy(job))
    job["Priority"] = 70
    second = api.register(copy.deepcopy(job))
    assert second["JobModifyIndex"] == second["Index"] == second["EvalCreateIndex"]
    assert second["JobModifyIndex"] > first["JobModifyIndex"]
    got = api.job(job["ID"])
    assert got["Version"] == 1
    assert got["Priority"] == 70
    assert got["JobModifyIndex"] == second["JobModifyIndex"]
    assert got["CreateIndex"] == first["Index"]
    job["TaskGroups"][0]["Meta"]["elb_mode"] = "http"
    third = api.register(copy.deepcopy(job))
    got = api.job(job["ID"])
    assert got["Version"] == 2
    assert got["JobModifyIndex"] == third["Index"] > second["Index"]
    assert got["TaskGroups"][0]["Meta"]["elb_mode"] == "http"


def test_unknown_fields_are_kept_at_every_level(api):
    job = api.seed_job()
    job["Foo"] = {"Bar": [1, 2, {"Baz": None}], "Qux": "x"}
    job["XOrduNumber"] = 12.5
    group = job["TaskGroups"][0]
    group["XOrduGroupExtra"] = {"SizeMB": 150, "Sticky": True}
    task = group["Tasks"][0]
    task["LogConfig"] = {"MaxFiles": 3, "MaxFileSizeMB": 7}
    task["Resources"]["XOrduResExtra"] = ["a", "b"]
    task["Resources"]["Networks"][0]["XOrduNetExtra"] = {"k": "v"}
    job["Constraints"][0]["XOrduConstraintExtra"] = False
    job["Update"]["XOrduUpdateExtra"] = 3
    api.register(copy.deepcopy(job))
    got = api.job(job["ID"])
    assert got["Foo"] == job["Foo"]
    assert got["XOrduNumber"] == 12.5
    gg = got["TaskGroups"][0]
    assert gg["XOrduGroupExtra"] == {"SizeMB": 150, "Sticky": True}
    gt = gg["Tasks"][0]
    assert gt["LogConfig"] == {"MaxFiles": 3, "MaxFileSizeMB": 7}
    assert gt["Resources"]["XOrduResExtra"] == ["a", "b"]
    assert gt["Resources"]["Networks"][0]["XOrduNetExtra"] == {"k": "v"}
    assert got["Constraints"][0]["XOrduConstraintExtra"] is False
    assert got["Update"]["XOrduUpdateExtra"] == 3


@pytest.mark.parametrize("region", ["", "global", None], ids=["empty", "global", "absent"])
def test_job_region_takes_the_server_region(api, server_region, region):
    job = api.seed_job()
    if region is None:
        job.pop("Region")
    else:
        job["Region"] = region
    api.register(job)
    assert api.job(job["ID"])["Region"] == server_region


def test_job_in_another_region_is_refused(api, h):
    job = api.seed_job()
    job["Region"] = "ordu-test-nowhere-" + h.uid()
    before = api.jobs_index()
    api.register_raw(job).error(500, "No path to region")
    api.get(api.job_path(job["ID"])).expect(404)
    assert api.jobs_index() == before


def test_region_query_parameter_on_register(api, server_region, h):
    job = api.seed_job()
    api.register(job, params={"region": server_region})
    other = api.seed_job()
    api.register_raw(other, params={"region": "ordu-test-nowhere-" + h.uid()}).error(
        500, "No path to region")
    api.get(api.job_path(other["ID"])).expect(404)


def test_job_ids_are_case_sensitive(api, h):
    base = f"ordu-test-case-{h.uid()}"
    lower, upper = base + "-web", base + "-Web"
    api.register(api.seed_job(lower))
    api.get(api.job_path(upper)).expect(404)
    job = api.seed_job(upper)
    job["Priority"] = 60
    api.register(job)
    assert api.job(lower)["Priority"] == 50
    assert api.job(upper)["Priority"] == 60
    assert [j["ID"] for j in api.jobs(prefix=base)] == [upper, lower]
    assert [j["ID"] for j in api.jobs(prefix=base + "-w")] == [lower]


def test_job_id_with_slashes(api, h):
    job_id = f"ordu-test-slash-{h.uid()}/team/web"
    job = api.seed_job(job_id)
    reply = api.register(job)  # PUT/POST /v1/job/ordu-test-slash-.../team/web
    got = api.job(job_id)
    assert got["ID"] == job_id
    assert [j["ID"] for j in api.jobs(prefix=job_id)] == [job_id]
    evals = api.job_evals(job_id)
    assert reply["EvalID"] in [e["ID"] for e in evals]
    assert all(e["JobID"] == job_id for e in evals)
    assert api.job_allocs(job_id) == []
    # The parent "directory" is not a job.
    api.get(api.job_path(job_id.rsplit("/", 1)[0])).expect(404)


def test_register_on_collection_needs_no_path_id(api, h):
    """On /v1/jobs there is no path ID to match; the body's ID is used."""
    job = api.seed_job()
    api.register(job, path="/v1/jobs")
    assert api.job(job["ID"])["ID"] == job["ID"]


# ---- check-and-set


def test_enforce_index_zero_creates_a_new_job(api):
    job = api.seed_job()
    reply = api.register(job, EnforceIndex=True, JobModifyIndex=0)
    assert api.job(job["ID"])["JobModifyIndex"] == reply["JobModifyIndex"]


def _snapshot(api, job_id):
    return (api.jobs_index(), api.job(job_id), len(api.job_evals(job_id)))


def _assert_unchanged(api, job_id, snap):
    index, job, nevals = snap
    assert api.jobs_index() == index, "a rejected register changed the job list index"
    now = api.job(job_id)
    for key in ("Version", "JobModifyIndex", "ModifyIndex", "Priority"):
        assert now[key] == job[key], f"a rejected register changed {key}"
    assert len(api.job_evals(job_id)) == nevals, "a rejected register created an evaluation"


def test_enforce_index_zero_on_existing_job_conflicts(api):
    job = api.seed_job()
    api.register(copy.deepcopy(job))
    snap = _snapshot(api, job["ID"])
    job["Priority"] = 80
    api.register_raw(job, EnforceIndex=True, JobModifyIndex=0).error(500, "job already exists")
    _assert_unchanged(api, job["ID"], snap)


@pytest.mark.parametrize("delta", [-1, 1000])
def test_enforce_index_mismatch_conflicts(api, delta):
    job = api.seed_job()
    reply = api.register(copy.deepcopy(job))
    snap = _snapshot(api, job["ID"])
    job["Priority"] = 80
    api.register_raw(job, EnforceIndex=True,
                     JobModifyIndex=reply["JobModifyIndex"] + delta).error(
        500, "conflicting job modify index")
    _assert_unchanged(api, job["ID"], snap)


def test_enforce_index_on_missing_job_conflicts(api):
    job = api.seed_job()
    before = api.jobs_index()
    api.register_raw(job, EnforceIndex=True, JobModifyIndex=5).error(500, "job does not exist")
    api.get(api.job_path(job["ID"])).expect(404)
    assert api.job_evals(job["ID"]) == []
    assert api.jobs_index() == before


def test_enforce_index_match_updates(api):
    job = api.seed_job()
    first = api.register(copy.deepcopy(job))
    job["Priority"] = 80
    second = api.register(copy.deepcopy(job), EnforceIndex=True,
                          JobModifyIndex=first["JobModifyIndex"])
    got = api.job(job["ID"])
    assert got["Priority"] == 80
    assert got["Version"] == 1
    assert got["JobModifyIndex"] == second["JobModifyIndex"] > first["JobModifyIndex"]


def test_job_modify_index_is_ignored_without_enforce_index(api):
    job = api.seed_job()
    api.register(copy.deepcopy(job))
    job["Priority"] = 80
    api.register(job, EnforceIndex=False, JobModifyIndex=123456789)
    assert api.job(job["ID"])["Priority"] == 80
