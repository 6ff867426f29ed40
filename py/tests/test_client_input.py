"""What clients send (issue 11) through the Python binding: bytes after the
JSON body and store configs with limits out of range are refused and change
nothing; a v0.2 restart policy (no Mode) registers."""

from __future__ import annotations

import json

import pytest

import ordu


def _body(job_id: str) -> dict:
    return {"Job": {"ID": job_id, "TaskGroups": [
        {"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}]}]}}


@pytest.mark.parametrize("tail", [b" garbage {]]", b"}", b" {}"])
def test_trailing_garbage_is_refused(tail):
    store = ordu.Store()
    with pytest.raises(ordu.InvalidError) as err:
        store.register_job(json.dumps(_body("web")).encode() + tail)
    assert err.value.stage == "decode"
    assert "trailing" in str(err.value)
    assert store.index == 0


@pytest.mark.parametrize("limits", [{"max_group_count": -5}, {"max_job_count": 0},
                                    {"max_request_bytes": -1}, {"max_constraints": -2}])
def test_negative_limits_are_refused(limits):
    with pytest.raises(ordu.InvalidError) as err:
        ordu.Store({"limits": limits})
    assert f"limits.{next(iter(limits))}" in str(err.value)


def test_v02_restart_policy_registers():
    store = ordu.Store()
    body = _body("v02")
    body["Job"]["TaskGroups"][0]["RestartPolicy"] = {
        "Attempts": 2, "Interval": 60_000_000_000, "Delay": 15_000_000_000}
    store.register_job(body)
    job, _ = store.job("v02")
    assert job["TaskGroups"][0]["RestartPolicy"]["Mode"] == "fail"
