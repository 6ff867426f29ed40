"""GET /v1/event/stream (issue 15, point 8): Nomad's event stream as NDJSON
frames ``{"Index": N, "Events": [...]}``, with ``topic=Topic:Key`` filters
and ``index=`` to start from.

Every stream here is read on a thread of its own with a bounded wait, and
closed when the test ends; the server may be shared, so each test filters on
the IDs it made.
"""

from __future__ import annotations

import json
import time

import requests


class Stream:
    """An open event stream, read on the test's thread: a frame or a
    heartbeat comes at least every 30 s, so a read never blocks longer."""

    def __init__(self, api, params):
        self.resp = requests.get(
            api.addr + "/v1/event/stream", params=params, stream=True, timeout=(3, 45)
        )
        assert self.resp.status_code == 200, self.resp.text
        # chunk_size None: each chunk as it comes (512 would wait for 512
        # bytes).
        self.lines = self.resp.iter_lines(chunk_size=None)
        self.got: list = []

    def until(self, pred, timeout=10.0) -> list:
        """Frames (heartbeats left out) until ``pred(frames)`` holds."""
        deadline = time.monotonic() + timeout
        while not pred(self.got):
            assert time.monotonic() < deadline, f"no such frames within {timeout}s: {self.got}"
            line = next(self.lines, None)
            assert line is not None, f"the stream ended: {self.got}"
            if line and json.loads(line):
                self.got.append(json.loads(line))
        return self.got

    def events(self) -> list:
        return [e for f in self.got for e in f["Events"]]

    def close(self):
        self.resp.close()


def _has(topic, typ=None):
    def pred(frames):
        return any(
            e["Topic"] == topic and (typ is None or e["Type"] == typ)
            for f in frames
            for e in f["Events"]
        )

    return pred


def test_a_register_streams_its_job_evaluation_and_allocations_in_order(api):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=2)
    jid = job["ID"]
    s = Stream(api, [("topic", f"Job:{jid}"), ("topic", f"Evaluation:{jid}"),
                     ("topic", f"Allocation:{jid}")])
    try:
        reply = api.register(job)
        frames = s.until(_has("Allocation", "PlanResult"))
        indexes = [f["Index"] for f in frames]
        assert indexes == sorted(set(indexes)), indexes
        for f in frames:
            keys = [(e["Topic"], e["Key"]) for e in f["Events"]]
            assert len(keys) == len(set(keys)), f"an object twice in one frame: {keys}"
            for e in f["Events"]:
                assert e["Index"] == f["Index"]
                assert set(e) >= {"Topic", "Type", "Key", "Namespace", "Index", "Payload"}
        first = frames[0]
        assert first["Index"] == reply["Index"]
        job_event = next(e for e in first["Events"] if e["Topic"] == "Job")
        assert job_event["Type"] == "JobRegistered"
        assert job_event["Key"] == jid
        assert job_event["Namespace"] == "default"
        assert job_event["Payload"]["Job"]["ID"] == jid
        assert job_event["Payload"]["Job"]["JobModifyIndex"] == reply["JobModifyIndex"]
        ev = next(e for e in first["Events"] if e["Topic"] == "Evaluation")
        assert ev["Key"] == reply["EvalID"]
        assert ev["Payload"]["Evaluation"]["JobID"] == jid
        allocs = [e for e in s.events() if e["Topic"] == "Allocation"]
        assert {e["Payload"]["Allocation"]["JobID"] for e in allocs} == {jid}
        placed = {a["ID"] for a in api.job_allocs(jid)}
        assert {e["Key"] for e in allocs} == placed

        api.deregister(jid)
        s.until(_has("Job", "JobDeregistered"))
    finally:
        s.close()


def test_a_key_filter_gets_that_object_only(api):
    dc = api.dc()
    mine = api.add_node(dc)["ID"]
    other = api.add_node(dc)["ID"]
    s = Stream(api, {"topic": f"Node:{mine}"})
    try:
        r = api.request("POST", api.node_path(other, "/eligibility"),
                        body={"NodeID": other, "Eligibility": "ineligible"})
        r.ok()
        r = api.request("POST", api.node_path(mine, "/eligibility"),
                        body={"NodeID": mine, "Eligibility": "ineligible"})
        r.ok()
        frames = s.until(_has("Node"))
        assert {e["Key"] for f in frames for e in f["Events"]} == {mine}
        e = frames[0]["Events"][0]
        assert e["Type"] == "NodeDrain"
        assert e["Payload"]["Node"]["SchedulingEligibility"] == "ineligible"
    finally:
        s.close()


def test_index_starts_from_a_past_write(api):
    dc = api.dc()
    api.add_node(dc)
    job = api.fitting_job(dc, count=1)
    reply = api.register(job)
    s = Stream(api, {"topic": f"Job:{job['ID']}", "index": reply["Index"]})
    try:
        frames = s.until(lambda fs: len(fs) >= 1)
        assert frames[0]["Index"] == reply["Index"]
        assert frames[0]["Events"][0]["Type"] == "JobRegistered"
    finally:
        s.close()


def test_bad_parameters_are_refused_before_the_stream(api):
    for params in ({"index": "abc"}, {"topic": "Job:"}):
        r = requests.get(api.addr + "/v1/event/stream", params=params, timeout=10)
        assert r.status_code == 400, (params, r.status_code, r.text)
    r = requests.post(api.addr + "/v1/event/stream", timeout=10)
    assert r.status_code == 405
