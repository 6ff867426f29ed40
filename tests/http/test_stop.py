"""DELETE /v1/job/<id> on a server configured to stop jobs, as Nomad 1.x does
(`ordu-http --deregister stop`, `python -m ordu.http --config
'{"deregister": "stop"}'`): the job stays, `Stop: true` as a new version, its
allocations stopped and its status `dead`, until `?purge=true`; registering it
again starts it.

The default server purges (the seed's endpoint), so these run only where the
test scripts start a second server so configured and set
``ORDU_HTTP_DEREGISTER=stop``.
"""

import os

import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("ORDU_HTTP_DEREGISTER") != "stop",
    reason="the server purges; scripts/test.d runs these against one that stops",
)


def test_a_stop_keeps_the_job_until_a_purge(api, h):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=2)
    api.register(job)
    assert len(h.running(api.job_allocs(job["ID"]))) == 2
    last = api.job(job["ID"])

    r = api.request("DELETE", api.job_path(job["ID"]))
    body = r.ok()
    assert r.index == body["Index"] == body["EvalCreateIndex"] == body["JobModifyIndex"]
    assert body["Index"] > last["ModifyIndex"]

    stopped = api.job(job["ID"])
    assert stopped["Stop"] is True
    assert stopped["Version"] == last["Version"] + 1
    assert stopped["JobModifyIndex"] == body["Index"]
    assert stopped["CreateIndex"] == last["CreateIndex"]
    assert stopped["Status"] == "dead"
    assert h.running(api.job_allocs(job["ID"])) == []
    assert job["ID"] in [s["ID"] for s in api.jobs(prefix=job["ID"])]
    ev = api.eval(body["EvalID"])
    assert (ev["TriggeredBy"], ev["Status"]) == ("job-deregister", "complete")

    # Registered again (Stop absent, so false): it runs again.
    api.register(job)
    again = api.job(job["ID"])
    assert again["Stop"] is False
    assert again["Version"] == last["Version"] + 2
    assert again["Status"] == "running"
    assert len(h.running(api.job_allocs(job["ID"]))) == 2

    # A purge removes it, running or not.
    r = api.request("DELETE", api.job_path(job["ID"]), params={"purge": "true"})
    purged = r.ok()
    assert purged["JobModifyIndex"] == purged["Index"] > again["ModifyIndex"]
    api.get(api.job_path(job["ID"])).error(404, "job not found")
    assert h.running(api.job_allocs(job["ID"])) == []


def test_a_missing_job_is_no_write_either_way(api):
    for params in (None, {"purge": "true"}):
        r = api.request("DELETE", api.job_path("ordu-no-such-job"), params=params)
        body = r.ok()
        assert (body["EvalID"], body["Index"], r.index) == ("", 0, 0)


def test_a_bad_purge_value_is_refused(api):
    api.request("DELETE", api.job_path("x"), params={"purge": "maybe"}).error(400)
