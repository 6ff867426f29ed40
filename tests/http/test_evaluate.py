"""PUT|POST /v1/job/<id>/evaluate: a new job-register evaluation for an existing job."""

import pytest

WRITE_REPLY_KEYS = ("EvalID", "EvalCreateIndex", "JobModifyIndex", "Index")


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_evaluate_with_empty_body(api, h, method):
    job = api.seed_job()
    reg = api.register(job)
    before = api.job(job["ID"])
    r = api.request(method, api.job_path(job["ID"], "/evaluate"))
    body = r.ok()
    for key in WRITE_REPLY_KEYS:
        assert key in body, f"evaluate reply lacks {key}: {body}"
    assert r.index == body["Index"] == body["EvalCreateIndex"]
    assert body["Index"] > reg["Index"]
    assert h.UUID_RE.match(body["EvalID"]) and body["EvalID"] != reg["EvalID"]
    assert body["JobModifyIndex"] == before["JobModifyIndex"]
    ev = api.eval(body["EvalID"])
    assert ev["TriggeredBy"] == "job-register"
    assert ev["JobID"] == job["ID"]
    assert ev["CreateIndex"] == body["EvalCreateIndex"]
    assert ev["Priority"] == before["Priority"]
    assert ev["Type"] == before["Type"]
    assert ev["Status"] in ("complete", "blocked", "canceled")
    assert body["EvalID"] in [e["ID"] for e in api.job_evals(job["ID"])]
    after = api.job(job["ID"])
    for key in ("Version", "JobModifyIndex", "CreateIndex"):
        assert after[key] == before[key], f"evaluate changed the job's {key}"


def test_evaluate_with_json_content_type_and_no_body(api):
    job = api.seed_job()
    api.register(job)
    r = api.request("POST", api.job_path(job["ID"], "/evaluate"), data=b"",
                    headers={"Content-Type": "application/json"})
    assert "EvalID" in r.ok()


def test_evaluate_missing_job_is_500(api):
    job_id = api.job_id("ghost")
    before = api.jobs_index()
    r = api.request("POST", api.job_path(job_id, "/evaluate"))
    r.error(500, "job not found")
    assert api.job_evals(job_id) == []
    assert api.jobs_index() == before


def test_evaluate_keeps_placed_allocations(api):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=2)
    api.register(job)
    first = {a["ID"]: a for a in api.job_allocs(job["ID"])}
    reply = api.evaluate(job["ID"])
    ev = api.eval(reply["EvalID"])
    assert ev["Status"] == "complete"
    now = {a["ID"]: a for a in api.job_allocs(job["ID"])}
    assert set(now) == set(first), "evaluating an unchanged, placed job moved allocations"
    assert all(a["DesiredStatus"] == "run" for a in now.values())


def test_evaluate_on_job_with_slash_in_id(api, h):
    job_id = f"ordu-test-eval-{h.uid()}/a/b"
    api.register(api.seed_job(job_id))
    reply = api.evaluate(job_id)
    assert api.eval(reply["EvalID"])["JobID"] == job_id
