"""Namespaces: ``GET /v1/namespaces``, ``GET|PUT|POST|DELETE /v1/namespace/<name>``,
``PUT|POST /v1/namespace``, and ``?namespace=`` on the job routes and on the job,
evaluation and allocation lists (``*``: every namespace).

A namespace is created by a write, as in Nomad; ``default`` always exists. A job's
own ``Namespace`` wins over ``?namespace=``, which wins over ``default``. Two jobs
with one ID in two namespaces are two jobs, with their own evaluations,
allocations, versions and indexes."""

import time

import pytest

NEXT = "X-Nomad-NextToken"


def ns_params(namespace, **more):
    return dict(more, namespace=namespace)


# --------------------------------------------------------------------------------
# The namespace endpoints.


def test_default_namespace_always_exists(api):
    r = api.get("/v1/namespaces")
    listed = r.ok()
    r.read_headers()
    names = [n["Name"] for n in listed]
    assert "default" in names
    assert names == sorted(names), "listed by name"
    r = api.get(api.namespace_path("default"))
    ns = r.ok()
    r.read_headers()
    assert ns["Name"] == "default"
    for field in ("Name", "Description", "Quota", "Meta", "CreateIndex", "ModifyIndex"):
        assert field in ns, f"{field} missing from {ns!r}"


def test_create_read_update_delete(api):
    name = api.namespace_name()
    api.track_namespace(name)
    r = api.request("PUT", "/v1/namespace",
                    body={"Name": name, "Description": "first", "Meta": {"team": "a"}})
    assert r.ok() is None, "a namespace write answers null"
    created = r.index
    assert created > 0

    r = api.get(api.namespace_path(name))
    ns = r.ok()
    assert r.read_headers() >= created
    assert ns["Name"] == name
    assert ns["Description"] == "first"
    assert ns["Meta"] == {"team": "a"}
    assert ns["CreateIndex"] == ns["ModifyIndex"] == created
    listed = api.get("/v1/namespaces", params={"prefix": name}).ok()
    assert [n["Name"] for n in listed] == [name]
    assert listed[0] == ns

    # An update on the path of the namespace; the body may leave the name out.
    r = api.request("POST", api.namespace_path(name), body={"Description": "second"})
    assert r.ok() is None
    updated = r.index
    assert updated > created
    ns = api.namespace(name)
    assert ns["Description"] == "second"
    assert (ns["CreateIndex"], ns["ModifyIndex"]) == (created, updated)
    # The same name in the body is fine, on PUT as on POST.
    r = api.request("PUT", api.namespace_path(name), body={"Name": name, "Description": "3"})
    r.expect(200)
    assert api.namespace(name)["Description"] == "3"

    r = api.request("DELETE", api.namespace_path(name))
    assert r.ok() is None
    assert r.index > updated
    api.get(api.namespace_path(name)).error(404, "namespace not found")
    assert api.get("/v1/namespaces", params={"prefix": name}).ok() == []


def test_a_missing_namespace_is_404_with_the_read_headers(api):
    r = api.get(api.namespace_path(api.namespace_name("missing")))
    r.error(404, "namespace not found")
    r.read_headers()


def test_namespace_list_blocks_until_a_namespace_changes(api, h):
    at = api.get("/v1/namespaces").index
    poll = h.in_background(api.poll, "/v1/namespaces", at, "10s")
    time.sleep(0.3)
    assert not poll.done(), "the list answered before any change"
    name = api.create_namespace()
    r = poll.result(timeout=15)
    assert r.index > at
    assert name in [n["Name"] for n in r.ok()]


@pytest.mark.parametrize("bad", ["", "has space", "under_score", "*", "x" * 129, "dé"])
def test_a_bad_name_is_refused_naming_the_field(api, h, bad):
    at = api.get("/v1/namespaces").index
    text = api.request("PUT", "/v1/namespace", body={"Name": bad}).error(500)
    h.assert_problems(text, "Name")
    assert api.get("/v1/namespaces").index == at, "a refused write changes nothing"


def test_other_refusals(api, h):
    name, other = api.namespace_name(), api.namespace_name()
    api.track_namespace(name)
    api.track_namespace(other)
    # A body naming another namespace than the path.
    text = api.request("PUT", api.namespace_path(name), body={"Name": other}).error(500)
    h.assert_problems(text, "Name")
    api.get(api.namespace_path(name)).expect(404)
    api.get(api.namespace_path(other)).expect(404)
    # A description over 256 bytes.
    text = api.request("PUT", "/v1/namespace",
                       body={"Name": name, "Description": "d" * 257}).error(500)
    h.assert_problems(text, "Description")
    # A body that does not decode.
    api.request("PUT", "/v1/namespace", data="{not json",
                headers={"Content-Type": "application/json"}).error(400)
    api.request("PUT", "/v1/namespace", body={"Name": name, "Meta": "x"}).error(400)
    # Deleting one that does not exist.
    api.request("DELETE", api.namespace_path(name)).error(500, "namespace not found")


def test_default_cannot_be_deleted(api):
    at = api.get("/v1/namespaces").index
    api.request("DELETE", api.namespace_path("default")).error(500, "default")
    assert api.namespace("default")["Name"] == "default"
    assert api.get("/v1/namespaces").index == at


def test_a_namespace_holding_a_job_cannot_be_deleted(api):
    name = api.create_namespace()
    job = api.sparse_job(Namespace=name)
    api.register(job)
    api.request("DELETE", api.namespace_path(name)).error(500, name)
    assert api.namespace(name)["Name"] == name
    # Gone once the job is purged.
    api.deregister(job["ID"], params=ns_params(name, purge="true"))
    api.request("DELETE", api.namespace_path(name)).expect(200)
    api.get(api.namespace_path(name)).expect(404)


def test_namespace_routes_and_methods(api):
    assert api.request("PUT", "/v1/namespaces", body={}).status == 405
    assert api.request("DELETE", "/v1/namespaces").status == 405
    assert api.get("/v1/namespace").status == 405
    assert api.request("DELETE", "/v1/namespace").status == 405
    assert api.request("PATCH", api.namespace_path("default"), body={}).status == 405


# --------------------------------------------------------------------------------
# Jobs in namespaces.


def test_register_into_a_missing_namespace_is_refused(api, h):
    missing = api.namespace_name("missing")
    at = api.jobs_index()
    text = api.register_raw(api.sparse_job(Namespace=missing)).error(500)
    h.assert_problems(text, "Namespace")
    text = api.register_raw(api.sparse_job(), params={"namespace": missing}).error(500)
    h.assert_problems(text, "Namespace")
    text = api.register_raw(api.sparse_job(), path="/v1/jobs",
                            params={"namespace": missing}).error(500)
    h.assert_problems(text, "Namespace")
    assert api.jobs_index() == at, "a refused register writes nothing"
    api.get(api.namespace_path(missing)).expect(404)


def test_a_bad_job_namespace_is_a_validation_error(api, h):
    text = api.register_raw(api.sparse_job(Namespace="not a name")).error(500)
    h.assert_problems(text, "Namespace")


def test_register_takes_the_query_namespace_unless_the_job_names_one(api):
    a, b = api.create_namespace(), api.create_namespace()
    job_id = api.job_id("nsq")
    api.register(api.sparse_job(job_id), params={"namespace": a})
    got = api.get(api.job_path(job_id), params=ns_params(a)).ok()
    assert got["Namespace"] == a
    api.get(api.job_path(job_id)).error(404, "job not found")

    other = api.job_id("nsq")
    api.register(api.sparse_job(other, Namespace=b), path="/v1/jobs", params={"namespace": a})
    assert api.get(api.job_path(other), params=ns_params(b)).ok()["Namespace"] == b
    api.get(api.job_path(other), params=ns_params(a)).expect(404)
    # `default` named outright is the default.
    third = api.job_id("nsq")
    api.register(api.sparse_job(third), params={"namespace": "default"})
    assert api.job(third)["Namespace"] == "default"


@pytest.fixture
def twins(api):
    """One job ID in `default` (one allocation) and in a fresh namespace (two),
    placed on a node of a datacenter of their own."""
    ns = api.create_namespace()
    dc = api.dc()
    node = api.add_node(dc)
    job_id = api.job_id("twin")
    mine = api.fitting_job(dc, count=1, job_id=job_id)
    theirs = api.fitting_job(dc, count=2, job_id=job_id)
    theirs["Namespace"] = ns
    return {
        "ns": ns,
        "id": job_id,
        "node": node,
        "default": api.register(mine),
        "other": api.register(theirs),
    }


def test_same_id_in_two_namespaces_is_two_jobs(api, twins):
    ns, job_id = twins["ns"], twins["id"]
    path = api.job_path(job_id)
    r = api.get(path)
    mine = r.ok()
    assert r.read_headers() == mine["ModifyIndex"]
    r = api.get(path, params=ns_params(ns))
    theirs = r.ok()
    assert r.read_headers() == theirs["ModifyIndex"]
    assert mine["Namespace"] == "default" and theirs["Namespace"] == ns
    assert mine["TaskGroups"][0]["Count"] == 1 and theirs["TaskGroups"][0]["Count"] == 2
    assert mine["CreateIndex"] == twins["default"]["JobModifyIndex"]
    assert theirs["CreateIndex"] == twins["other"]["JobModifyIndex"]
    assert mine["Version"] == theirs["Version"] == 0
    assert api.get(path, params=ns_params("default")).ok() == mine
    # `*` names no one job.
    api.get(path, params=ns_params("*")).expect(404)
    api.get(path, params=ns_params(api.namespace_name("missing"))).error(404, "job not found")


def test_allocations_and_evaluations_stay_with_their_namespace(api, twins):
    ns, job_id = twins["ns"], twins["id"]
    mine = api.job_allocs(job_id)
    theirs = api.get(api.job_path(job_id, "/allocations"), params=ns_params(ns)).ok()
    assert len(mine) == 1 and len(theirs) == 2
    assert {a["Namespace"] for a in mine} == {"default"}
    assert {a["Namespace"] for a in theirs} == {ns}
    assert {a["JobID"] for a in mine + theirs} == {job_id}
    assert not {a["ID"] for a in mine} & {a["ID"] for a in theirs}
    all_theirs = api.get(api.job_path(job_id, "/allocations"),
                         params=ns_params(ns, all="true")).ok()
    assert sorted(a["ID"] for a in all_theirs) == sorted(a["ID"] for a in theirs)
    assert {a["EvalID"] for a in theirs} == {twins["other"]["EvalID"]}

    evals = api.job_evals(job_id)
    their_evals = api.get(api.job_path(job_id, "/evaluations"), params=ns_params(ns)).ok()
    assert [e["ID"] for e in evals] == [twins["default"]["EvalID"]]
    assert [e["ID"] for e in their_evals] == [twins["other"]["EvalID"]]
    assert their_evals[0]["Namespace"] == ns and evals[0]["Namespace"] == "default"

    # By ID, an evaluation or an allocation carries its namespace (no ?namespace=).
    assert api.eval(twins["other"]["EvalID"])["Namespace"] == ns
    alloc = api.alloc(theirs[0]["ID"])
    assert alloc["Namespace"] == ns and alloc["Job"]["Namespace"] == ns
    evald = api.get(f"/v1/evaluation/{twins['other']['EvalID']}/allocations").ok()
    assert sorted(a["ID"] for a in evald) == sorted(a["ID"] for a in theirs)


def test_lists_take_the_namespace(api, twins):
    ns, job_id = twins["ns"], twins["id"]
    mine = api.jobs(prefix=job_id)
    theirs = api.get("/v1/jobs", params=ns_params(ns, prefix=job_id)).ok()
    both = api.get("/v1/jobs", params=ns_params("*", prefix=job_id)).ok()
    assert [(j["Namespace"], j["ID"]) for j in mine] == [("default", job_id)]
    assert [(j["Namespace"], j["ID"]) for j in theirs] == [(ns, job_id)]
    # Every namespace: by namespace, then ID.
    assert both == sorted(mine + theirs, key=lambda j: (j["Namespace"], j["ID"]))
    assert api.get("/v1/jobs", params=ns_params(api.namespace_name("missing"))).ok() == []

    for path in ("/v1/evaluations", "/v1/allocations"):
        mine = api.get(path, params={"job": job_id}).ok()
        theirs = api.get(path, params=ns_params(ns, job=job_id)).ok()
        both = api.get(path, params=ns_params("*", job=job_id)).ok()
        assert mine and theirs, path
        assert {x["Namespace"] for x in mine} == {"default"}, path
        assert {x["Namespace"] for x in theirs} == {ns}, path
        key = lambda x: (x["CreateIndex"], x["ID"])  # noqa: E731
        assert both == sorted(mine + theirs, key=key), path
        whole = api.get(path, params=ns_params(ns)).ok()
        assert sorted(x["ID"] for x in whole) == sorted(x["ID"] for x in theirs), path
        assert api.get(path, params=ns_params(api.namespace_name("missing"))).ok() == []
    allocs = api.get("/v1/allocations", params=ns_params("*", job=job_id)).ok()
    assert len(allocs) == 3


def walk(api, path, per_page, params):
    """Every item of a list a page at a time, checking that each page's token is
    the `<Namespace>.<ID>` of the next page's first item."""
    params = dict(params, per_page=per_page)
    out, token = [], None
    for _ in range(1000):
        r = api.get(path, params=params)
        page = r.ok()
        if token is not None:
            assert page, f"token {token!r} led to an empty page"
            assert token == f"{page[0]['Namespace']}.{page[0]['ID']}", (token, page[0])
        out.extend(page)
        token = r.headers.get(NEXT)
        if token is None:
            return out
        assert len(page) == per_page, f"a short page names a next one: {r!r}"
        params["next_token"] = token
    raise AssertionError("the walk does not end")


def test_job_pages_across_namespaces(api):
    a, b = api.create_namespace(), api.create_namespace()
    prefix = api.job_id("nspage")
    placed = [("default", "0"), ("default", "1"), (a, "1"), (a, "2"), (b, "0")]
    for ns, n in placed:
        api.register(api.sparse_job(f"{prefix}-{n}", Namespace=ns))
    params = ns_params("*", prefix=prefix)
    whole = api.get("/v1/jobs", params=params).ok()
    assert [(j["Namespace"], j["ID"]) for j in whole] == \
        sorted((ns, f"{prefix}-{n}") for ns, n in placed)
    for per_page in (1, 2, 3, 5):
        assert walk(api, "/v1/jobs", per_page, params) == whole, per_page
    backwards = api.get("/v1/jobs", params=dict(params, reverse="true")).ok()
    assert backwards == whole[::-1]
    assert walk(api, "/v1/jobs", 2, dict(params, reverse="true")) == backwards
    # A token names a namespace: a page of one namespace starts at the same place.
    r = api.get("/v1/jobs", params=ns_params(a, prefix=prefix, per_page=1))
    assert [j["ID"] for j in r.ok()] == [f"{prefix}-1"]
    assert r.headers[NEXT] == f"{a}.{prefix}-2"


def test_namespaced_pages_of_evaluations_and_allocations(api, twins):
    ns = twins["ns"]
    for path in ("/v1/evaluations", "/v1/allocations"):
        whole = api.get(path, params=ns_params("*")).ok()
        # A shared server may hold many: a few pages, not hundreds.
        params = ns_params("*", per_page=max(2, len(whole) // 7 + 1))
        out = []
        for _ in range(1000):
            r = api.get(path, params=params)
            out.extend(r.ok())
            token = r.headers.get(NEXT)
            if token is None:
                break
            params["next_token"] = token
        assert [x["ID"] for x in out] == [x["ID"] for x in whole], path
        assert ns in {x["Namespace"] for x in whole}


def test_blocking_query_on_a_namespaced_job(api, h):
    ns = api.create_namespace()
    job_id = api.job_id("nsblock")
    api.register(api.sparse_job(job_id))
    api.register(api.sparse_job(job_id, Namespace=ns))
    path, params = api.job_path(job_id), ns_params(ns)
    r = api.get(path, params=params)
    at = r.read_headers()
    assert at == r.ok()["ModifyIndex"]
    poll = h.in_background(api.poll, path, at, "10s", params)
    time.sleep(0.3)
    # The job with the same ID in `default` is another job: it does not wake the poll.
    api.register(api.sparse_job(job_id, Priority=60))
    time.sleep(0.5)
    assert not poll.done(), "a write to default's job woke a read of another namespace's"
    changed = api.register(api.sparse_job(job_id, Namespace=ns, Priority=70))
    got = poll.result(timeout=15)
    assert got.index >= changed["JobModifyIndex"] > at
    job = got.ok()
    assert job["Namespace"] == ns and job["Priority"] == 70
    assert api.job(job_id)["Priority"] == 60


def test_job_sub_resources_take_the_namespace(api, twins):
    ns, job_id = twins["ns"], twins["id"]
    q = ns_params(ns)

    versions = api.get(api.job_path(job_id, "/versions"), params=q).ok()["Versions"]
    assert [(v["Namespace"], v["Version"]) for v in versions] == [(ns, 0)]
    summary = api.get(api.job_path(job_id, "/summary"), params=q).ok()
    assert (summary["JobID"], summary["Namespace"]) == (job_id, ns)
    assert summary["Summary"]["binsl"]["Starting"] == 2
    scale = api.get(api.job_path(job_id, "/scale"), params=q).ok()
    assert scale["Namespace"] == ns and scale["TaskGroups"]["binsl"]["Desired"] == 2
    assert api.get(api.job_path(job_id, "/deployments"), params=q).ok() == []

    # Evaluate: the evaluation is the namespace's job's.
    r = api.request("POST", api.job_path(job_id, "/evaluate"), params=q)
    ev = r.ok()
    their_evals = api.get(api.job_path(job_id, "/evaluations"), params=q).ok()
    assert ev["EvalID"] in [e["ID"] for e in their_evals]
    assert ev["EvalID"] not in [e["ID"] for e in api.job_evals(job_id)]

    # Plan against the namespace's job: its JobModifyIndex, nothing changes.
    theirs = api.get(api.job_path(job_id), params=q).ok()
    plan = api.request("POST", api.job_path(job_id, "/plan"), params=q,
                       body={"Job": theirs}).ok()
    assert plan["JobModifyIndex"] == theirs["JobModifyIndex"]
    assert plan["Annotations"]["DesiredTGUpdates"]["binsl"]["Ignore"] == 2

    # Scale the namespace's job down: a new version there, none in default.
    r = api.request("POST", api.job_path(job_id, "/scale"), params=q,
                    body={"Count": 1, "Target": {"Group": "binsl"}})
    r.ok()
    theirs = api.get(api.job_path(job_id), params=q).ok()
    assert (theirs["Version"], theirs["TaskGroups"][0]["Count"]) == (1, 1)
    mine = api.job(job_id)
    assert (mine["Version"], mine["TaskGroups"][0]["Count"]) == (0, 1)

    # Stable, then revert, in the namespace.
    api.request("POST", api.job_path(job_id, "/stable"), params=q,
                body={"JobID": job_id, "JobVersion": 0, "Stable": True}).ok()
    versions = api.get(api.job_path(job_id, "/versions"), params=q).ok()["Versions"]
    assert {v["Version"]: v["Stable"] for v in versions} == {1: False, 0: True}
    api.request("POST", api.job_path(job_id, "/revert"), params=q,
                body={"JobID": job_id, "JobVersion": 0}).ok()
    theirs = api.get(api.job_path(job_id), params=q).ok()
    assert (theirs["Version"], theirs["TaskGroups"][0]["Count"]) == (2, 2)
    assert api.job(job_id)["Version"] == 0

    # Deregister the namespace's job: default's stays.
    api.deregister(job_id, params=ns_params(ns, purge="true"))
    api.get(api.job_path(job_id), params=q).error(404, "job not found")
    assert api.job(job_id)["Namespace"] == "default"


def test_job_writes_on_a_missing_job_in_a_namespace(api):
    ns = api.create_namespace()
    job_id = api.job_id("nsmissing")
    api.register(api.sparse_job(job_id))
    q = ns_params(ns)
    api.request("POST", api.job_path(job_id, "/evaluate"), params=q).error(500, "job not found")
    r = api.request("DELETE", api.job_path(job_id), params=q)
    assert r.ok()["EvalID"] == "" and r.index == 0
    assert api.job(job_id)["ID"] == job_id
