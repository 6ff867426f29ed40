"""Job versions as Nomad 1.x serves them (issue 15, point 2):
GET /v1/job/<id>/versions, POST /v1/job/<id>/revert (with EnforcePriorVersion)
and POST /v1/job/<id>/stable.

Each spec change keeps the version it replaces (6 versions by default, the
current one included). ordu answers ``"Diffs": null`` even with ``?diffs=true``
(Nomad then lists the diffs between consecutive versions).
"""


def _versions(api, job_id, params=None):
    r = api.get(api.job_path(job_id, "/versions"), params=params)
    body = r.ok()
    r.read_headers()
    return r, body


def _register_versions(api, counts):
    job = api.sparse_job()
    for n in counts:
        job["TaskGroups"][0]["Count"] = n
        api.register(job)
    return job


def test_versions_are_newest_first_with_nomads_shape(api):
    job = _register_versions(api, [1, 2, 3])
    r, body = _versions(api, job["ID"])
    assert set(body) == {"Versions", "Diffs"}
    assert body["Diffs"] is None
    got = [(v["Version"], v["TaskGroups"][0]["Count"]) for v in body["Versions"]]
    assert got == [(2, 3), (1, 2), (0, 1)]
    for v in body["Versions"]:
        assert v["ID"] == job["ID"]
        assert v["Stable"] is False
    current = api.job(job["ID"])
    assert body["Versions"][0]["JobModifyIndex"] == current["JobModifyIndex"]
    assert r.index >= current["JobModifyIndex"]
    # ordu computes no diffs.
    _, body = _versions(api, job["ID"], params={"diffs": "true"})
    assert body["Diffs"] is None


def test_versions_keep_six_by_default(api):
    job = _register_versions(api, range(1, 9))
    _, body = _versions(api, job["ID"])
    assert [v["Version"] for v in body["Versions"]] == [7, 6, 5, 4, 3, 2]


def test_versions_of_a_missing_job_is_404(api):
    api.get(api.job_path(api.job_id("missing"), "/versions")).error(404, "not found")


def test_versions_only_read(api):
    job = _register_versions(api, [1])
    api.request("PUT", api.job_path(job["ID"], "/versions")).expect(405)


def test_revert_registers_the_old_spec_as_a_new_version(api):
    job = _register_versions(api, [1, 2])
    before = api.job(job["ID"])
    r = api.request("POST", api.job_path(job["ID"], "/revert"),
                    body={"JobID": job["ID"], "JobVersion": 0})
    body = r.ok()
    assert r.index == body["Index"]
    assert body["EvalID"]
    assert body["JobModifyIndex"] == body["Index"] > before["JobModifyIndex"]
    after = api.job(job["ID"])
    assert after["Version"] == 2
    assert after["TaskGroups"][0]["Count"] == 1
    ev = api.eval(body["EvalID"])
    assert ev["JobID"] == job["ID"]
    assert ev["TriggeredBy"] == "job-register"
    _, versions = _versions(api, job["ID"])
    assert [v["Version"] for v in versions["Versions"]] == [2, 1, 0]


def test_revert_enforce_prior_version(api):
    job = _register_versions(api, [1, 2])
    path = api.job_path(job["ID"], "/revert")
    r = api.request("PUT", path, body={"JobID": job["ID"], "JobVersion": 0,
                                       "EnforcePriorVersion": 0})
    r.error(500, "Current job has version 1; enforcing version 0")
    assert api.job(job["ID"])["Version"] == 1
    body = api.request("PUT", path, body={"JobID": job["ID"], "JobVersion": 0,
                                          "EnforcePriorVersion": 1}).ok()
    assert body["EvalID"]
    assert api.job(job["ID"])["Version"] == 2


def test_revert_errors(api):
    job = _register_versions(api, [1, 2])
    path = api.job_path(job["ID"], "/revert")
    api.request("POST", path, body={"JobID": job["ID"], "JobVersion": 1}).error(
        500, "can't revert to current version")
    api.request("POST", path, body={"JobID": job["ID"], "JobVersion": 9}).error(
        500, f'job "{job["ID"]}" at version 9 not found')
    api.request("POST", path, body={"JobID": "other", "JobVersion": 0}).error(
        400, "Job ID does not match")
    api.request("POST", path, body={"JobVersion": 0}).error(400, "JobID must be specified")
    missing = api.job_id("missing")
    api.request("POST", api.job_path(missing, "/revert"),
                body={"JobID": missing, "JobVersion": 0}).error(500, "not found")
    api.get(path).expect(405)
    assert api.job(job["ID"])["Version"] == 1


def test_stable_marks_a_version(api):
    job = _register_versions(api, [1, 2])
    before = api.job(job["ID"])
    path = api.job_path(job["ID"], "/stable")
    r = api.request("POST", path, body={"JobID": job["ID"], "JobVersion": 1, "Stable": True})
    body = r.ok()
    assert set(body) >= {"Index"}
    assert r.index == body["Index"] > before["ModifyIndex"]
    after = api.job(job["ID"])
    assert after["Stable"] is True
    assert after["Version"] == before["Version"]
    assert after["JobModifyIndex"] == before["JobModifyIndex"]
    api.request("PUT", path, body={"JobID": job["ID"], "JobVersion": 0, "Stable": True}).ok()
    _, versions = _versions(api, job["ID"])
    assert [(v["Version"], v["Stable"]) for v in versions["Versions"]] == [(1, True), (0, True)]
    api.request("PUT", path, body={"JobID": job["ID"], "JobVersion": 1, "Stable": False}).ok()
    _, versions = _versions(api, job["ID"])
    assert [v["Stable"] for v in versions["Versions"]] == [False, True]


def test_stable_errors(api):
    job = _register_versions(api, [1])
    path = api.job_path(job["ID"], "/stable")
    api.request("POST", path, body={"JobID": job["ID"], "JobVersion": 5, "Stable": True}).error(
        500, f'job "{job["ID"]}" at version 5 not found')
    api.request("POST", path, body={"JobID": "x", "JobVersion": 0, "Stable": True}).error(
        400, "Job ID does not match")
    api.get(path).expect(405)


def test_versions_block_until_a_change(api):
    job = _register_versions(api, [1])
    r, _ = _versions(api, job["ID"])
    import threading
    import time

    def later():
        time.sleep(0.3)
        api.request("POST", api.job_path(job["ID"], "/stable"),
                    body={"JobID": job["ID"], "JobVersion": 0, "Stable": True}).ok()

    t = threading.Thread(target=later)
    t.start()
    started = time.monotonic()
    polled = api.poll(api.job_path(job["ID"], "/versions"), r.index, "5s")
    t.join()
    assert polled.index > r.index
    assert time.monotonic() - started >= 0.2
    assert polled.ok()["Versions"][0]["Stable"] is True
