"""Shared machinery of the HTTP conformance suite.

The suite talks to a running server named by ``ORDU_HTTP_ADDR`` (for example
``http://127.0.0.1:4646``). Without it every test is skipped, unless
``ORDU_HTTP_REQUIRED=1`` is set: then the session stops at once with an error, so a
CI job cannot pass by running nothing. An address that does not answer also stops
the session at once, with the connection error.

The server may be shared and may hold other data (demo nodes, demo jobs), so every
test uses fresh job IDs, node IDs and a datacenter of its own, compares indexes only
by relation, and removes what it created when it ends.

Tunables (match them to the server's configuration when it differs from the
defaults): ``ORDU_HTTP_MAX_COUNT`` (largest group Count, default 10000) and
``ORDU_HTTP_MAX_BODY`` (largest request body in bytes, default 8 MiB).
"""

from __future__ import annotations

import copy
import json
import os
import pathlib
import random
import re
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import requests

ADDR = os.environ.get("ORDU_HTTP_ADDR", "").strip().rstrip("/")
REQUIRED = os.environ.get("ORDU_HTTP_REQUIRED", "").strip() == "1"
MAX_COUNT = int(os.environ.get("ORDU_HTTP_MAX_COUNT", "10000"))
MAX_BODY = int(os.environ.get("ORDU_HTTP_MAX_BODY", str(8 << 20)))

SEED_PATH = pathlib.Path(__file__).resolve().parents[2] / "testdata" / "seed-job.json"
SEED_JOB = json.loads(SEED_PATH.read_text())

SKIP_REASON = (
    "ORDU_HTTP_ADDR is not set: point it at a running server "
    "(e.g. ORDU_HTTP_ADDR=http://127.0.0.1:4646) to run the HTTP conformance suite"
)

UUID_RE = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")

# Fields a server sets on a job whatever the client sends.
JOB_SERVER_FIELDS = (
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "Version",
    "Status",
    "StatusDescription",
    "SubmitTime",
)

JOB_STUB_FIELDS = (
    "ID", "ParentID", "Name", "Namespace", "Datacenters", "Type", "Priority", "Stop",
    "Status", "StatusDescription", "CreateIndex", "ModifyIndex", "JobModifyIndex",
    "SubmitTime",
)
ALLOC_STUB_FIELDS = (
    "ID", "EvalID", "Name", "Namespace", "NodeID", "NodeName", "JobID", "JobType",
    "JobVersion", "TaskGroup", "DesiredStatus", "DesiredDescription", "ClientStatus",
    "ClientDescription", "TaskStates", "CreateIndex", "ModifyIndex", "CreateTime",
    "ModifyTime",
)
EVAL_FIELDS = (
    "ID", "Namespace", "Priority", "Type", "TriggeredBy", "JobID", "JobModifyIndex",
    "NodeID", "NodeModifyIndex", "Status", "StatusDescription", "Wait", "NextEval",
    "PreviousEval", "BlockedEval", "FailedTGAllocs", "QueuedAllocations",
    "CreateIndex", "ModifyIndex", "CreateTime", "ModifyTime",
)
NODE_STUB_FIELDS = (
    "ID", "Datacenter", "Name", "NodeClass", "Drain", "Status", "StatusDescription",
    "CreateIndex", "ModifyIndex",
)

LINUX = {"LTarget": "${attr.kernel.os}", "RTarget": "linux", "Operand": "="}
AMD64 = {"LTarget": "${attr.kernel.arch}", "RTarget": "amd64", "Operand": "="}

# A driver no node advertises: jobs using it are never placed anywhere, so they
# cannot take capacity from nodes of other tests (or of the server's demo data).
NO_DRIVER = "ordu-test-no-such-driver"


# --------------------------------------------------------------------------------
# Session set-up: skip, or fail loudly, or check that the server answers.


def pytest_collection_modifyitems(config, items):
    if not ADDR and not REQUIRED:
        skip = pytest.mark.skip(reason=SKIP_REASON)
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def server():
    """The address under test, checked once: stops the session if it is unusable."""
    if not ADDR:
        pytest.exit(
            "ORDU_HTTP_REQUIRED=1 but ORDU_HTTP_ADDR is not set: "
            "the HTTP conformance suite has no server to test",
            returncode=1,
        )
    parts = urllib.parse.urlsplit(ADDR)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        pytest.exit(
            f"ORDU_HTTP_ADDR={ADDR!r} is not an http(s) URL like http://127.0.0.1:4646",
            returncode=1,
        )
    try:
        resp = requests.get(ADDR + "/v1/jobs", timeout=(3, 10))
    except requests.RequestException as exc:
        pytest.exit(
            f"cannot reach the ordu HTTP server at ORDU_HTTP_ADDR={ADDR}: {exc}",
            returncode=1,
        )
    if resp.status_code != 200:
        pytest.exit(
            f"GET {ADDR}/v1/jobs answered {resp.status_code} {resp.text[:300]!r}: "
            "this is not an ordu HTTP server",
            returncode=1,
        )
    return ADDR


@pytest.fixture(scope="session")
def server_region(server):
    """The server's region, learnt from a job registered without `Region`."""
    c = Api(server)
    job = c.sparse_job()
    job.pop("Region", None)
    c.register(job)
    region = c.job(job["ID"])["Region"]
    c.cleanup()
    assert isinstance(region, str) and region, "a job registered without Region has none"
    return region


@pytest.fixture
def api(server):
    """A client for one test; deletes the test's jobs and nodes when the test ends."""
    c = Api(server)
    yield c
    c.cleanup()


# --------------------------------------------------------------------------------
# Replies.


class Reply:
    """One HTTP answer, with the pieces the tests look at."""

    def __init__(self, method, path, resp: requests.Response, started: float, ended: float):
        self.method = method
        self.path = path
        self.status = resp.status_code
        self.headers = resp.headers
        self.raw = resp.content
        self.text = resp.text
        self.started = started
        self.ended = ended
        self.elapsed = ended - started

    def __repr__(self):
        return f"<{self.method} {self.path} -> {self.status} {self.text[:800]!r}>"

    @property
    def json(self):
        try:
            return json.loads(self.text)
        except ValueError as exc:
            raise AssertionError(f"body is not JSON ({exc}): {self!r}") from None

    @property
    def index(self) -> int:
        value = self.headers.get("X-Nomad-Index")
        assert value is not None, f"no X-Nomad-Index header: {self!r}"
        assert re.fullmatch(r"[0-9]+", value), f"X-Nomad-Index {value!r} is not a u64"
        return int(value)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def expect(self, status: int) -> "Reply":
        assert self.status == status, f"expected HTTP {status}, got {self!r}"
        return self

    def ok(self):
        """Asserts a 200 JSON answer and returns the decoded body."""
        self.expect(200)
        assert self.content_type.startswith("application/json"), (
            f"Content-Type {self.content_type!r} on a successful answer: {self!r}"
        )
        return self.json

    def error(self, status: int, *fragments: str) -> str:
        """Asserts a plain-text error answer containing every fragment."""
        self.expect(status)
        assert self.content_type.startswith("text/plain"), (
            f"Content-Type {self.content_type!r} on an error answer: {self!r}"
        )
        assert self.text.strip(), f"empty error body: {self!r}"
        for frag in fragments:
            assert frag in self.text, f"error body lacks {frag!r}: {self!r}"
        return self.text

    def read_headers(self) -> int:
        """Asserts the headers every read carries; returns the index."""
        index = self.index
        assert self.headers.get("X-Nomad-KnownLeader") == "true", repr(self.headers)
        assert self.headers.get("X-Nomad-LastContact") == "0", repr(self.headers)
        return index


# --------------------------------------------------------------------------------
# Helpers that need no server.


def uid() -> str:
    return uuid.uuid4().hex[:10]


def parse_multierror(text: str) -> list[str]:
    """Splits a modern go-multierror text into its items, checking the format:
    ``1 error occurred:\\n\\t* a\\n\\n`` or ``N errors occurred:\\n\\t* a\\n\\t* b\\n\\n``."""
    m = re.match(r"([0-9]+) (errors?) occurred:\n", text)
    assert m, f"not a multi-error text: {text!r}"
    n = int(m.group(1))
    assert n >= 1, text
    assert (n == 1) == (m.group(2) == "error"), f"wrong plural in {text!r}"
    assert text.endswith("\n\n"), f"multi-error text must end with a blank line: {text!r}"
    body = text[m.end():-2]
    assert body.startswith("\t* "), f"items must start with TAB '* ': {text!r}"
    items = body[3:].split("\n\t* ")
    assert len(items) == n, f"header says {n} errors, body has {len(items)}: {text!r}"
    for item in items:
        assert item and "\n" not in item.rstrip("\n"), f"malformed item {item!r} in {text!r}"
    return items


def item_for(items: list[str], path: str) -> str | None:
    """The first item about `path` (the path itself, or a field below it)."""
    pat = re.compile(re.escape(path) + r"(?=[:.\[])")
    for item in items:
        if pat.match(item):
            return item
    return None


def assert_problems(text: str, *paths: str) -> list[str]:
    """Asserts a validation text lists a distinct item for every path."""
    items = parse_multierror(text)
    left = list(items)
    for path in paths:
        hit = item_for(left, path)
        assert hit is not None, f"no error about {path!r} in {items!r}"
        left.remove(hit)
    return items


def assert_contains(sent, got, where="Job", ignore=()):
    """Everything `sent` holds comes back in `got` (extra keys in `got` are fine).
    A `null` that was sent may come back as null, [] or {}."""
    if where in ignore:
        return
    if isinstance(sent, dict):
        assert isinstance(got, dict), f"{where}: sent an object, got {got!r}"
        for key, value in sent.items():
            assert key in got, f"{where}.{key} was sent but is missing from {sorted(got)}"
            assert_contains(value, got[key], f"{where}.{key}", ignore)
    elif isinstance(sent, list):
        assert isinstance(got, list), f"{where}: sent a list, got {got!r}"
        assert len(got) == len(sent), f"{where}: sent {len(sent)} items, got {got!r}"
        for i, (s, g) in enumerate(zip(sent, got)):
            assert_contains(s, g, f"{where}[{i}]", ignore)
    elif sent is None:
        assert got in (None, [], {}), f"{where}: sent null, got {got!r}"
    else:
        assert got == sent and isinstance(got, bool) == isinstance(sent, bool), (
            f"{where}: sent {sent!r}, got {got!r}"
        )


def wait_until(fn, timeout=3.0, interval=0.05, what="condition"):
    """Calls fn until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def in_background(fn, *args, **kwargs) -> Future:
    """Runs fn in a thread of its own; returns its future."""
    ex = ThreadPoolExecutor(max_workers=1)
    fut = ex.submit(fn, *args, **kwargs)
    ex.shutdown(wait=False)
    return fut


# --------------------------------------------------------------------------------
# The client.


_NO_BODY = object()


class Api:
    """A thin HTTP client for the contract, plus factories for jobs and nodes.

    Safe to use from many threads: each thread gets its own connection pool."""

    def __init__(self, addr: str):
        self.addr = addr
        self._local = threading.local()
        self._jobs: list[tuple[str, str | None]] = []
        self._nodes: list[str] = []
        self._namespaces: list[str] = []
        self._lock = threading.Lock()

    # ---- raw HTTP

    @property
    def session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
        return s

    def request(self, method, path, params=None, body=_NO_BODY, data=None,
                headers=None, timeout=10.0) -> Reply:
        """One request. `body` is sent as JSON; `data` as raw bytes/str."""
        hdrs = dict(headers or {})
        if body is not _NO_BODY:
            data = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        started = time.monotonic()
        try:
            resp = self.session.request(
                method, self.addr + path, params=params, data=data, headers=hdrs,
                timeout=(3.0, timeout), allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise AssertionError(f"{method} {path}: request failed: {exc}") from None
        return Reply(method, path, resp, started, time.monotonic())

    def get(self, path, params=None, timeout=10.0) -> Reply:
        return self.request("GET", path, params=params, timeout=timeout)

    def poll(self, path, index, wait, params=None) -> Reply:
        """A blocking read: `?index=<index>&wait=<wait>`."""
        q = dict(params or {})
        q.update(index=str(index), wait=wait)
        return self.get(path, params=q, timeout=30.0)

    # ---- paths

    @staticmethod
    def job_path(job_id: str, suffix: str = "") -> str:
        return "/v1/job/" + urllib.parse.quote(job_id, safe="/") + suffix

    @staticmethod
    def node_path(node_id: str, suffix: str = "") -> str:
        return "/v1/node/" + urllib.parse.quote(node_id, safe="") + suffix

    @staticmethod
    def namespace_path(name: str) -> str:
        return "/v1/namespace/" + urllib.parse.quote(name, safe="")

    # ---- bookkeeping

    def track_job(self, job_id: str, namespace: str | None = None):
        """Deletes the job when the test ends (`namespace` None: `default`)."""
        with self._lock:
            if (job_id, namespace) not in self._jobs:
                self._jobs.append((job_id, namespace))

    def track_namespace(self, name: str):
        """Deletes the namespace when the test ends, after the jobs."""
        with self._lock:
            if name not in self._namespaces:
                self._namespaces.append(name)

    def track_node(self, node_id: str):
        with self._lock:
            if node_id not in self._nodes:
                self._nodes.append(node_id)

    def cleanup(self):
        """Best effort: the test's jobs first, then its namespaces (a namespace
        holding a job cannot be deleted: the jobs of one are purged), then its
        nodes."""
        for job_id, namespace in self._jobs:
            params = {"namespace": namespace, "purge": "true"} if namespace else None
            try:
                self.session.delete(self.addr + self.job_path(job_id), params=params,
                                    timeout=(3, 10))
            except requests.RequestException:
                pass
        for name in self._namespaces:
            try:
                self.session.delete(self.addr + self.namespace_path(name), timeout=(3, 10))
            except requests.RequestException:
                pass
        for node_id in self._nodes:
            try:
                self.session.delete(self.addr + self.node_path(node_id), timeout=(3, 10))
            except requests.RequestException:
                pass
        self._jobs.clear()
        self._namespaces.clear()
        self._nodes.clear()

    # ---- factories

    @staticmethod
    def job_id(tag: str = "job") -> str:
        return f"ordu-test-{tag}-{uid()}"

    @staticmethod
    def dc() -> str:
        return f"ordu-test-dc-{uid()}"

    def seed_job(self, job_id: str | None = None) -> dict:
        """The seed page's job, as published, under a fresh ID. Its job-level
        constraint (`kernel.os = windows`, literal targets) matches no node, so it
        is never placed."""
        job = copy.deepcopy(SEED_JOB)
        job["ID"] = job_id or self.job_id("seed")
        return job

    def fitting_job(self, dc: str, count: int = 2, job_id: str | None = None) -> dict:
        """The seed job adapted to run on nodes made by `node(dc)`: its datacenter,
        interpolated constraints they satisfy, `count` allocations of CPU 1000
        (two tasks of 500) and 100 MBits each. `Name` stays the seed's, so
        allocation names show they are built from the ID."""
        job = self.seed_job(job_id or self.job_id("fit"))
        job["Datacenters"] = [dc]
        job["Constraints"] = [dict(LINUX)]
        group = job["TaskGroups"][0]
        group["Count"] = count
        group["Constraints"] = [dict(LINUX)]
        group["Tasks"][1]["Constraints"] = [dict(AMD64)]
        return job

    def sparse_job(self, job_id: str | None = None, driver: str = NO_DRIVER, **fields) -> dict:
        """A minimal modern job relying on server defaults; by default its driver
        exists on no node, so it is never placed."""
        job = {
            "ID": job_id or self.job_id("sparse"),
            "TaskGroups": [
                {"Name": "g", "Tasks": [{"Name": "t", "Driver": driver, "Config": {"x": 1}}]}
            ],
        }
        job.update(fields)
        return job

    def node(self, dc: str | None = None, *, cpu=4000, memory=8192, disk=100000,
             kernel_os="linux", arch="amd64", drivers=("docker", "java"),
             status="ready", node_class="", mbits=1000) -> dict:
        node_id = str(uuid.uuid4())
        ip = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        attrs = {"kernel.os": kernel_os, "kernel.arch": arch}
        attrs.update({f"driver.{d}": "1" for d in drivers})
        return {
            "ID": node_id,
            "Name": f"ordu-test-node-{node_id[:8]}",
            "Datacenter": dc or self.dc(),
            "NodeClass": node_class,
            "Attributes": attrs,
            "Resources": {
                "CPU": cpu, "MemoryMB": memory, "DiskMB": disk, "IOPS": 1000,
                "Networks": [{"Device": "eth0", "CIDR": f"{ip}/32", "IP": ip, "MBits": mbits}],
            },
            "Reserved": {"CPU": 0, "MemoryMB": 0, "DiskMB": 0, "IOPS": 0},
            "Meta": {"ordu_test": "1"},
            "Status": status,
        }

    # ---- jobs

    def register_raw(self, job: dict | None = None, path: str | None = None,
                     method: str = "POST", params=None, **envelope) -> Reply:
        """Registers without checking the answer (still cleaned up afterwards)."""
        body = dict(envelope)
        if job is not None:
            body["Job"] = job
            if isinstance(job.get("ID"), str):
                # The job's own namespace wins over `?namespace=`.
                namespace = job.get("Namespace") or (params or {}).get("namespace")
                self.track_job(job["ID"], namespace if isinstance(namespace, str) else None)
        if path is None:
            path = self.job_path(job["ID"]) if job is not None else "/v1/jobs"
        return self.request(method, path, params=params, body=body)

    def register(self, job: dict, **kw) -> dict:
        """Registers and asserts success; returns the reply body."""
        r = self.register_raw(job, **kw)
        body = r.ok()
        assert r.index == body["Index"], f"X-Nomad-Index != body Index: {r!r}"
        return body

    def job(self, job_id: str) -> dict:
        return self.get(self.job_path(job_id)).ok()

    def job_allocs(self, job_id: str, all_: bool = False) -> list:
        params = {"all": "true"} if all_ else None
        return self.get(self.job_path(job_id, "/allocations"), params=params).ok()

    def job_evals(self, job_id: str) -> list:
        return self.get(self.job_path(job_id, "/evaluations")).ok()

    def jobs(self, prefix: str | None = None) -> list:
        params = {"prefix": prefix} if prefix is not None else None
        return self.get("/v1/jobs", params=params).ok()

    def jobs_index(self) -> int:
        return self.get("/v1/jobs").expect(200).index

    def deregister(self, job_id: str, params=None) -> dict:
        r = self.request("DELETE", self.job_path(job_id), params=params)
        body = r.ok()
        assert r.index == body["Index"], f"X-Nomad-Index != body Index: {r!r}"
        return body

    def evaluate(self, job_id: str, method: str = "POST") -> dict:
        r = self.request(method, self.job_path(job_id, "/evaluate"))
        body = r.ok()
        assert r.index == body["Index"], f"X-Nomad-Index != body Index: {r!r}"
        return body

    # ---- namespaces

    @staticmethod
    def namespace_name(tag: str = "ns") -> str:
        return f"ordu-test-{tag}-{uid()}"

    def create_namespace(self, name: str | None = None, **fields) -> str:
        """Creates a namespace (deleted when the test ends); returns its name."""
        name = name or self.namespace_name()
        body = {"Name": name}
        body.update(fields)
        self.track_namespace(name)
        r = self.request("PUT", "/v1/namespace", body=body)
        r.expect(200)
        assert r.index > 0, f"a namespace write answers its index: {r!r}"
        return name

    def namespace(self, name: str) -> dict:
        return self.get(self.namespace_path(name)).ok()

    # ---- nodes, evaluations, allocations

    def register_node(self, node: dict, method: str = "PUT") -> dict:
        self.track_node(node["ID"])
        r = self.request(method, self.node_path(node["ID"]), body={"Node": node})
        body = r.ok()
        assert r.index == body["Index"], f"X-Nomad-Index != body Index: {r!r}"
        return body

    def add_node(self, dc: str | None = None, **kw) -> dict:
        """Makes and registers a node; returns the node as sent."""
        node = self.node(dc, **kw)
        self.register_node(node)
        return node

    def get_node(self, node_id: str) -> dict:
        return self.get(self.node_path(node_id)).ok()

    def node_status(self, node_id: str, status: str) -> dict:
        r = self.request("PUT", self.node_path(node_id, "/status"), body={"Status": status})
        body = r.ok()
        assert r.index == body["Index"], f"X-Nomad-Index != body Index: {r!r}"
        return body

    def node_drain(self, node_id: str, drain: bool) -> dict:
        r = self.request("PUT", self.node_path(node_id, "/drain"), body={"Drain": drain})
        body = r.ok()
        assert r.index == body["Index"], f"X-Nomad-Index != body Index: {r!r}"
        return body

    def node_allocs(self, node_id: str) -> list:
        return self.get(self.node_path(node_id, "/allocations")).ok()

    def eval(self, eval_id: str) -> dict:
        return self.get("/v1/evaluation/" + eval_id).ok()

    def alloc(self, alloc_id: str) -> dict:
        return self.get("/v1/allocation/" + alloc_id).ok()

    def alloc_status_raw(self, alloc_id: str, body: dict, method: str = "PUT") -> Reply:
        return self.request(method, f"/v1/allocation/{alloc_id}/status", body=body)

    def alloc_status(self, alloc_id: str, status: str, **fields) -> dict:
        body = {"ClientStatus": status}
        body.update(fields)
        r = self.alloc_status_raw(alloc_id, body)
        reply = r.ok()
        assert r.index == reply["Index"], f"X-Nomad-Index != body Index: {r!r}"
        return reply

    # ---- waiting on asynchronous effects (node-triggered scheduling)

    def wait_allocs(self, job_id: str, pred, timeout=3.0, what="allocations") -> list:
        def check():
            allocs = self.job_allocs(job_id)
            return allocs if pred(allocs) else None
        return wait_until(check, timeout=timeout, what=f"{what} of job {job_id}")


def running(allocs: list) -> list:
    """Allocations the server still wants running."""
    return [a for a in allocs if a["DesiredStatus"] == "run"]


def names(allocs: list) -> list:
    return sorted(a["Name"] for a in allocs)


# Fixtures exposing the helpers, so test modules need not import this file.


@pytest.fixture
def h():
    """The suite's helper functions and constants."""
    class H:
        parse_multierror = staticmethod(parse_multierror)
        assert_problems = staticmethod(assert_problems)
        assert_contains = staticmethod(assert_contains)
        item_for = staticmethod(item_for)
        wait_until = staticmethod(wait_until)
        in_background = staticmethod(in_background)
        running = staticmethod(running)
        names = staticmethod(names)
        uid = staticmethod(uid)
        UUID_RE = UUID_RE
        MAX_COUNT = MAX_COUNT
        MAX_BODY = MAX_BODY
        SEED_JOB = SEED_JOB
        JOB_SERVER_FIELDS = JOB_SERVER_FIELDS
        JOB_STUB_FIELDS = JOB_STUB_FIELDS
        ALLOC_STUB_FIELDS = ALLOC_STUB_FIELDS
        EVAL_FIELDS = EVAL_FIELDS
        NODE_STUB_FIELDS = NODE_STUB_FIELDS
        LINUX = LINUX
        AMD64 = AMD64
        NO_DRIVER = NO_DRIVER
    return H
