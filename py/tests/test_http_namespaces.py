"""ordu.http's namespace routes and `?namespace=` on the job routes and
the lists (the conformance suite, tests/http, checks both front ends; these
are the Python server's own)."""

from __future__ import annotations

import threading
import time

import requests

from conftest import seed_job

T = 5


def put_job(base, job, **params):
    r = requests.put(f"{base}/v1/jobs", json={"Job": job}, params=params, timeout=T)
    assert r.status_code == 200, r.text
    return r


def test_namespace_routes(ordu_server, ordu_store):
    base = ordu_server
    r = requests.get(f"{base}/v1/namespaces", timeout=T)
    assert r.status_code == 200 and [n["Name"] for n in r.json()] == ["default"]
    assert r.headers["X-Nomad-Index"] == "0"

    r = requests.put(f"{base}/v1/namespace", json={"Name": "prod", "Description": "p"},
                     timeout=T)
    assert r.status_code == 200, r.text
    assert r.json() is None and r.headers["X-Nomad-Index"] == str(ordu_store.index)
    r = requests.post(f"{base}/v1/namespace/dev", json={"Description": "d"}, timeout=T)
    assert r.status_code == 200 and r.json() is None
    dev_index = int(r.headers["X-Nomad-Index"])

    r = requests.get(f"{base}/v1/namespace/dev", timeout=T)
    assert r.status_code == 200
    assert (r.json()["Name"], r.json()["Description"]) == ("dev", "d")
    assert r.headers["X-Nomad-Index"] == str(dev_index)
    names = requests.get(f"{base}/v1/namespaces", params={"prefix": "d"}, timeout=T).json()
    assert [n["Name"] for n in names] == ["default", "dev"]

    r = requests.delete(f"{base}/v1/namespace/dev", timeout=T)
    assert r.status_code == 200 and r.json() is None
    assert int(r.headers["X-Nomad-Index"]) > dev_index
    r = requests.get(f"{base}/v1/namespace/dev", timeout=T)
    assert (r.status_code, r.text) == (404, "namespace not found")
    assert r.headers["X-Nomad-Index"] == str(ordu_store.index)


def test_namespace_route_errors(ordu_server):
    base = ordu_server
    # Errors answer as the core maps their kind (Nomad's RPC errors: 500).
    r = requests.put(f"{base}/v1/namespace", json={"Name": "bad name"}, timeout=T)
    assert r.status_code == 500 and "* Name: invalid name" in r.text
    r = requests.put(f"{base}/v1/namespace/a", json={"Name": "b"}, timeout=T)
    assert r.status_code == 500 and "* Name: " in r.text
    # A write's not-found is the core's write status (Nomad's 500), not a lookup's 404.
    r = requests.delete(f"{base}/v1/namespace/nope", timeout=T)
    assert r.status_code == 500 and r.text == "namespace not found"
    r = requests.delete(f"{base}/v1/namespace/default", timeout=T)
    assert (r.status_code, r.text) == (500, "the default namespace cannot be deleted")
    assert requests.get(f"{base}/v1/namespace", timeout=T).status_code == 405
    assert requests.delete(f"{base}/v1/namespaces", timeout=T).status_code == 405
    assert requests.patch(f"{base}/v1/namespace/a", timeout=T).status_code == 405
    assert requests.get(f"{base}/v1/namespace/a/b", timeout=T).status_code == 404
    r = requests.put(f"{base}/v1/namespace/x", json={}, params={"region": "mars"}, timeout=T)
    assert (r.status_code, r.text) == (500, "No path to region")
    assert requests.get(f"{base}/v1/namespace/x", timeout=T).status_code == 404


def test_jobs_by_namespace(ordu_server):
    base = ordu_server
    requests.put(f"{base}/v1/namespace/prod", json={}, timeout=T).raise_for_status()
    web = seed_job("web")
    web["Priority"] = 10
    put_job(base, web)
    web["Priority"] = 90
    put_job(base, web, namespace="prod")             # the query's namespace
    api = seed_job("api")
    api["Namespace"] = "prod"
    put_job(base, api, namespace="default")          # the job's own wins

    def get(path, **params):
        return requests.get(f"{base}{path}", params=params, timeout=T)

    assert get("/v1/job/web").json()["Priority"] == 10
    assert get("/v1/job/web", namespace="prod").json()["Priority"] == 90
    assert get("/v1/job/api").status_code == 404
    assert get("/v1/job/api", namespace="prod").json()["Namespace"] == "prod"
    assert [j["ID"] for j in get("/v1/jobs").json()] == ["web"]
    assert [j["ID"] for j in get("/v1/jobs", namespace="prod").json()] == ["api", "web"]
    assert len(get("/v1/jobs", namespace="*").json()) == 3
    assert {e["Namespace"] for e in get("/v1/evaluations", namespace="prod").json()} == {"prod"}
    assert len({e["JobID"] for e in get("/v1/evaluations", namespace="*").json()}) == 2
    assert get("/v1/allocations", namespace="*").json() == []
    assert get("/v1/job/web/summary", namespace="prod").json()["Namespace"] == "prod"
    versions = get("/v1/job/web/versions", namespace="prod").json()["Versions"]
    assert [v["Priority"] for v in versions] == [90]
    evals = get("/v1/job/web/evaluations", namespace="prod").json()
    assert evals and {e["Namespace"] for e in evals} == {"prod"}

    r = requests.put(f"{base}/v1/job/web/evaluate", params={"namespace": "prod"}, timeout=T)
    assert r.status_code == 200
    assert get(f"/v1/evaluation/{r.json()['EvalID']}").json()["Namespace"] == "prod"
    r = requests.put(f"{base}/v1/job/web/plan", json={"Job": web},
                     params={"namespace": "prod"}, timeout=T)
    assert r.status_code == 200, r.text

    # PUT /v1/job/<id> with ?namespace=, into a namespace that does not exist.
    r = requests.put(f"{base}/v1/job/web", json={"Job": seed_job("web")},
                     params={"namespace": "nope"}, timeout=T)
    assert r.status_code == 500 and '* Namespace: namespace "nope" does not exist' in r.text

    # The namespace holds jobs: refused until they are purged.
    r = requests.delete(f"{base}/v1/namespace/prod", timeout=T)
    assert r.status_code == 500 and "has jobs" in r.text
    for job_id in ("web", "api"):
        r = requests.delete(f"{base}/v1/job/{job_id}",
                            params={"namespace": "prod", "purge": "true"}, timeout=T)
        assert r.status_code == 200
    assert get("/v1/job/web").json()["Priority"] == 10, "default's web is untouched"
    assert requests.delete(f"{base}/v1/namespace/prod", timeout=T).status_code == 200


def test_a_long_poll_wakes_on_its_namespace(ordu_server):
    base = ordu_server
    requests.put(f"{base}/v1/namespace/prod", json={}, timeout=T).raise_for_status()
    job = seed_job("web")
    put_job(base, job, namespace="prod")
    r = requests.get(f"{base}/v1/job/web", params={"namespace": "prod"}, timeout=T)
    index = int(r.headers["X-Nomad-Index"])
    got = {}

    def poll():
        got["r"] = requests.get(f"{base}/v1/job/web", timeout=10, params={
            "namespace": "prod", "index": index, "wait": "3s"})

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.2)
    put_job(base, dict(job, Priority=20))                   # default's "web"
    time.sleep(0.4)
    assert t.is_alive(), "woke on another namespace's job"
    put_job(base, dict(job, Priority=30), namespace="prod")
    t.join(10)
    assert got["r"].json()["Priority"] == 30
    assert int(got["r"].headers["X-Nomad-Index"]) > index
