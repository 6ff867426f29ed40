"""The query string of a request: its parameters, parsed as Nomad's HTTP API
parses them, a bad one refused (400) before the store sees it."""

from __future__ import annotations

import urllib.parse
from typing import Any, Dict, Optional, Tuple

from ordu import _ordu
from ordu._ordu import parse_duration, parse_index


class BadRequest(Exception):
    """A request the HTTP layer refuses (400) before the store sees it."""


def parse_bool(name: str, text: str) -> bool:
    """Go's strconv.ParseBool forms; anything else is a 400."""
    try:
        return _ordu.parse_bool(text)
    except ValueError:
        pass
    raise BadRequest(f"Failed to parse value of {name!r} ({text!r}): want true or false")


class Query:
    """The query string of one request."""

    def __init__(self, raw: str):
        self.params: Dict[str, str] = {}
        for key, value in urllib.parse.parse_qsl(raw, keep_blank_values=True):
            self.params.setdefault(key, value)

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        return self.params.get(key, default)

    def has(self, key: str) -> bool:
        return key in self.params

    def region(self) -> Optional[str]:
        return self.params.get("region") or None

    def namespace(self) -> Optional[str]:
        """``?namespace=``: the namespace of the job a job route names, or of
        a list (``*``: every one); None (``default``) when absent or empty."""
        return self.params.get("namespace") or None

    def flag(self, key: str) -> bool:
        value = self.params.get(key)
        return False if value is None else parse_bool(key, value)

    def pretty(self) -> bool:
        return "pretty" in self.params and self.params["pretty"] != "0"

    def list_args(self) -> Dict[str, Any]:
        """A list's ``prefix``, ``per_page``, ``next_token`` and ``reverse``:
        400 on a bad ``per_page`` or ``reverse``."""
        raw = self.params.get("per_page", "")
        try:
            per_page = _ordu.parse_per_page(raw) if raw else 0
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return {"prefix": self.params.get("prefix", ""), "per_page": per_page,
                "next_token": self.params.get("next_token", ""),
                "reverse": self.flag("reverse")}

    def blocking(self) -> Tuple[int, Optional[float]]:
        """``(index, wait)`` for a read: 400 on a bad index or wait."""
        try:
            raw = self.params.get("index", "")
            index = parse_index(raw) if raw else 0
        except ValueError:
            raise BadRequest("Invalid index") from None
        wait: Optional[float] = None
        if "wait" in self.params:
            try:
                seconds = parse_duration(self.params["wait"])
            except ValueError:
                raise BadRequest("Invalid wait time") from None
            # Zero or less: the default wait.
            wait = seconds if seconds > 0 else None
        return index, wait
