"""Nomad's HTTP API over an ordu :class:`~ordu.Store` (docs/http-api.md).

Serves ``/v1/jobs``, ``/v1/job/<id>`` (``/allocations``, ``/evaluations``,
``/evaluate``, ``/plan``, ``DELETE``), ``/v1/nodes``, ``/v1/node/<id>`` (``/status``,
``/drain``, ``/eligibility``, ``/evaluate``, ``/allocations``),
``/v1/evaluations``, ``/v1/evaluation/<id>`` (``/allocations``),
``/v1/allocations``, ``/v1/allocation/<id>`` (``/status``, ``/stop``),
``/v1/namespaces``, ``/v1/namespace[/<name>]`` (``GET``, ``PUT``/``POST``,
``DELETE``), and
the agent and status endpoints
(``/v1/agent/self``, ``/v1/agent/members``, ``/v1/status/leader``,
``/v1/status/peers``, ``/v1/regions``) with Nomad's status codes, plain-text
error bodies, the ``X-Nomad-*`` headers and ``?index=&wait=`` blocking
queries. Job routes and the job, evaluation and allocation lists take
``?namespace=`` (absent: ``default``; ``*`` on lists: every namespace; a
register's job ``Namespace`` wins); the lists (jobs, nodes, evaluations,
allocations) take
``?per_page=&next_token=&reverse=`` and answer ``X-Nomad-NextToken`` when
there is a next page. ``/v1/event/stream`` streams NDJSON frames (chunked)
with ``?topic=&index=&namespace=``, a ``{}`` heartbeat every 30 s; an open
stream holds its connection's thread. Every connection has a thread of its own (at most
``max_connections`` at once, 1,024 by default) and a blocked read holds no
lock, so hundreds of long polls do not hold up other requests.

In a program::

    from ordu.http import Server
    with Server(port=0) as server:      # started in a background thread
        print(server.address)           # http://127.0.0.1:PORT

From a shell::

    python -m ordu.http --addr 127.0.0.1:4646 --demo-nodes 3

The store does all the work; this module only parses HTTP (routes, query
parameters, Go durations) and writes answers. Status codes come from the
errors themselves (``http_status`` / ``http_status_lookup``, the core's one
table).
"""

from __future__ import annotations

import argparse
import errno
import io
import json
import selectors
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple

from ordu import _ordu
from ordu._ordu import OrduError, Store, parse_duration, parse_index

__all__ = ["Server", "parse_duration", "parse_index", "demo_node", "main"]


# ---- query parameters


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


# ---- routing

Answer = Tuple[int, Dict[str, str], bytes, str]

#: Seconds without events after which the event stream sends ``{}``, as Nomad.
EVENT_HEARTBEAT = 30.0


class NotFound(Exception):
    """No route for the path (404)."""


class MethodNotAllowed(Exception):
    """A route that does not take the method (405 ``Invalid method``)."""


READ_HEADERS = {"X-Nomad-KnownLeader": "true", "X-Nomad-LastContact": "0"}


def _dumps(value: Any, pretty: bool) -> bytes:
    if pretty:
        text = json.dumps(value, indent=4, ensure_ascii=False)
    else:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    """One connection; each request is routed to the store."""

    protocol_version = "HTTP/1.1"
    server_version = "ordu"
    sys_version = ""
    server: "_HTTPServer"

    # Every method goes through `_serve`; routes answer 405 for the ones they
    # do not take.
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve("GET")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve("PATCH")

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve("HEAD")

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._serve("OPTIONS")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.verbose:
            super().log_message(format, *args)

    # ---- plumbing

    def setup(self) -> None:
        self.connection = self.request
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._deadline: Optional[float] = None
        self.rfile = io.BufferedReader(_Reader(self), 1 << 16)
        self.wfile = _Writer(self.connection)

    def finish(self) -> None:
        self.rfile.close()

    def handle_one_request(self) -> None:
        # The deadline of this request starts at its first byte (see `_Reader`).
        self._deadline = None
        super().handle_one_request()

    @property
    def store(self) -> Store:
        return self.server.store

    def _serve(self, method: str) -> None:
        self._body_read = False
        parts = urllib.parse.urlsplit(self.path)
        query = Query(parts.query)
        try:
            if parts.path == "/v1/event/stream":
                if method != "GET":
                    raise MethodNotAllowed
                events = self._subscribe(parts.query)
                self._discard_body()
                self._stream(events)
                return
            status, headers, body, ctype = self._route(method, parts.path, query)
        except NotFound:
            status, headers, body, ctype = 404, {}, b"404 page not found", "text/plain"
        except MethodNotAllowed:
            status, headers, body, ctype = 405, {}, b"Invalid method", "text/plain"
        except BadRequest as exc:
            status, headers, body, ctype = 400, {}, str(exc).encode(), "text/plain"
        except OrduError as exc:
            # Writes and lists: the error's own status.
            status, headers, body, ctype = _error(exc, lookup=False)
        except OSError:
            # The body's read timed out or the client went away: no answer.
            self.close_connection = True
            return
        except Exception as exc:  # a bug here must not kill the connection thread
            status, headers, body, ctype = 500, {}, f"internal error: {exc}".encode(), "text/plain"
        if not self._body_read:
            self._discard_body()
        self.send_response(status)
        self.send_header("Content-Type", ctype + "; charset=utf-8" if ctype == "text/plain"
                         else ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        # Headers and body in one write: two small writes would leave the
        # second waiting for the client's delayed ACK (40 ms a request).
        self._headers_buffer.append(b"\r\n")
        if method != "HEAD":
            self._headers_buffer.append(body)
        self.connection.settimeout(self.server.timeout)
        self.flush_headers()

    def _content_length(self) -> Optional[int]:
        value = self.headers.get("Content-Length")
        if value is None:
            return None
        try:
            n = int(value)
        except ValueError:
            raise BadRequest(f"invalid Content-Length {value!r}") from None
        if n < 0:
            raise BadRequest(f"invalid Content-Length {value!r}")
        return n

    def body(self) -> bytes:
        """The request body, refused (400) when over the store's bound."""
        self._body_read = True
        limit = self.store.max_request_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        n = self._content_length() or 0
        try:
            self.store.check_body_size(n)
        except OrduError:
            # Read what was sent (without keeping it) so the client sees the 400.
            self._drain(n)
            raise
        return self.rfile.read(n)

    def _drain(self, n: int) -> None:
        cap = max(4 * self.server.store.max_request_bytes, 64 << 20)
        if n > cap:
            # Too much to read through: answer and close.
            self.close_connection = True
            return
        while n > 0:
            chunk = self.rfile.read(min(n, 1 << 16))
            if not chunk:
                break
            n -= len(chunk)

    def _read_chunked(self, limit: int) -> bytes:
        out = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise BadRequest("malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                break
            if len(out) + size > limit:
                self.close_connection = True
                self.store.check_body_size(len(out) + size)
            out += self.rfile.read(size)
            self.rfile.readline(1024)
        return bytes(out)

    def _discard_body(self) -> None:
        try:
            n = self._content_length()
        except BadRequest:
            self.close_connection = True
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
        elif n:
            self._drain(n)

    # ---- the event stream

    def _subscribe(self, raw_query: str) -> Any:
        """``GET /v1/event/stream``'s subscription: ``topic`` (repeated),
        ``index``, ``namespace`` (default ``default``, as Nomad's)."""
        params = urllib.parse.parse_qsl(raw_query, keep_blank_values=True)
        topics = [v for k, v in params if k == "topic"]
        first = {}
        for k, v in params:
            first.setdefault(k, v)
        try:
            index = parse_index(first["index"]) if first.get("index") else 0
        except ValueError:
            raise BadRequest("Invalid index") from None
        self.store.check_region(first.get("region") or None)
        return self.store.events(topics=topics, index=index,
                                 namespace=first.get("namespace", "default"))

    def _stream(self, events: Any) -> None:
        """NDJSON frames as chunks, one per write, ``{}`` after
        ``EVENT_HEARTBEAT`` seconds without one; this connection's thread
        serves the stream until the client goes, the server stops, or the
        subscriber falls behind the store's buffer (then one line
        ``{"Error": ...}``, as ordu-http). One frame is held at a time."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.connection.settimeout(self.server.timeout)

        def chunk(data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        quiet_since = time.monotonic()
        self.server.stream_started()
        try:
            while not self.server.closing:
                # Short waits, so a stopping server ends the stream soon.
                try:
                    frame = events.next(timeout=0.25)
                except OrduError as exc:
                    chunk(json.dumps({"Error": str(exc)}).encode() + b"\n")
                    break
                if frame is not None:
                    chunk(json.dumps(frame, separators=(",", ":")).encode() + b"\n")
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since >= EVENT_HEARTBEAT:
                    chunk(b"{}\n")
                    quiet_since = time.monotonic()
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client went away
        finally:
            self.server.stream_ended()

    # ---- routes

    def _route(self, method: str, path: str, q: Query) -> Answer:
        if path == "/v1/jobs":
            return self._jobs(method, q)
        if path.startswith("/v1/job/"):
            return self._job(method, urllib.parse.unquote(path[len("/v1/job/"):]), q)
        if path == "/v1/nodes":
            if method != "GET":
                raise MethodNotAllowed
            return self._read_page(q, lambda **kw: self.store.nodes_page(**kw))
        if path in ("/v1/evaluations", "/v1/allocations"):
            if method != "GET":
                raise MethodNotAllowed
            read = self.store.evaluations if path == "/v1/evaluations" else self.store.allocations
            return self._read_page(q, lambda **kw: read(
                job=q.get("job", ""), status=q.get("status", ""), namespace=q.namespace(), **kw))
        if path == "/v1/namespaces":
            if method != "GET":
                raise MethodNotAllowed
            return self._read(q, lambda **kw: self.store.namespaces(
                prefix=q.get("prefix", ""), **kw))
        if path == "/v1/namespace":
            self._writes(method)
            return self._write(q, lambda region: self.store.upsert_namespace(
                self.body(), region=region), body=False)
        if path.startswith("/v1/namespace/"):
            return self._namespace(method, urllib.parse.unquote(path[len("/v1/namespace/"):]), q)
        if path.startswith("/v1/node/"):
            return self._node(method, urllib.parse.unquote(path[len("/v1/node/"):]), q)
        if path in _AGENT_PATHS:
            if method != "GET":
                raise MethodNotAllowed
            return self._agent(_AGENT_PATHS[path], q)
        if path.startswith("/v1/evaluation/"):
            eval_id = urllib.parse.unquote(path[len("/v1/evaluation/"):])
            if eval_id.endswith("/allocations") and "/" not in eval_id[: -len("/allocations")]:
                eval_id = eval_id[: -len("/allocations")]
                if method != "GET":
                    raise MethodNotAllowed
                return self._read(q, lambda **kw: self.store.eval_allocations(eval_id, **kw))
            if "/" in eval_id:
                raise NotFound  # evaluation IDs are UUIDs: a sub-path not served
            if method != "GET":
                raise MethodNotAllowed
            return self._read(q, lambda **kw: self.store.evaluation(eval_id, **kw), lookup=True)
        if path.startswith("/v1/allocation/"):
            rest = urllib.parse.unquote(path[len("/v1/allocation/"):])
            if rest.endswith("/status"):
                alloc_id = rest[: -len("/status")]
                self._writes(method)
                return self._write(q, lambda region: self.store.update_alloc_client(
                    alloc_id, self.body(), region=region))
            if rest.endswith("/stop") and "/" not in rest[: -len("/stop")]:
                alloc_id = rest[: -len("/stop")]
                self._writes(method)
                return self._write(q, lambda region: self.store.stop_allocation(
                    alloc_id, region=region))
            if "/" in rest:
                raise NotFound  # allocation IDs are UUIDs: a sub-path not served
            if method != "GET":
                raise MethodNotAllowed
            return self._read(q, lambda **kw: self.store.allocation(rest, **kw), lookup=True)
        raise NotFound

    @staticmethod
    def _writes(method: str) -> None:
        if method not in ("PUT", "POST"):
            raise MethodNotAllowed

    def _jobs(self, method: str, q: Query) -> Answer:
        ns = q.namespace()
        if method == "GET":
            return self._read_page(q, lambda **kw: self.store.jobs_page(namespace=ns, **kw))
        self._writes(method)
        return self._write(q, lambda region: self.store.register_job(
            self.body(), region=region, namespace=ns))

    def _namespace(self, method: str, name: str, q: Query) -> Answer:
        if "/" in name:
            raise NotFound  # namespace names have no "/": a sub-path not served
        if method == "GET":
            return self._read(q, lambda **kw: self.store.namespace(name, **kw), lookup=True)
        if method in ("PUT", "POST"):
            return self._write(q, lambda region: self.store.upsert_namespace(
                self.body(), name=name, region=region), body=False)
        if method == "DELETE":
            return self._write(q, lambda region: self.store.delete_namespace(
                name, region=region), body=False)
        raise MethodNotAllowed

    def _job(self, method: str, rest: str, q: Query) -> Answer:
        # The job is in ?namespace= (a register's job names its own, which wins).
        ns = q.namespace()
        if rest.endswith("/evaluate"):
            job_id = rest[: -len("/evaluate")]
            self._writes(method)
            return self._write(q, lambda region: self.store.evaluate_job(
                job_id, region=region, namespace=ns))
        if rest.endswith("/plan"):
            job_id = rest[: -len("/plan")]
            self._writes(method)
            return self._write(q, lambda region: self.store.plan_job(
                job_id, self.body(), region=region, namespace=ns))
        if rest.endswith("/allocations"):
            job_id = rest[: -len("/allocations")]
            if method != "GET":
                raise MethodNotAllowed
            return self._read(q, lambda **kw: self.store.job_allocations(
                job_id, all=q.flag("all"), namespace=ns, **kw))
        if rest.endswith("/evaluations"):
            job_id = rest[: -len("/evaluations")]
            if method != "GET":
                raise MethodNotAllowed
            return self._read(q, lambda **kw: self.store.job_evaluations(
                job_id, namespace=ns, **kw))
        if rest.endswith("/versions"):
            job_id = rest[: -len("/versions")]
            if method != "GET":
                raise MethodNotAllowed
            return self._read(q, lambda **kw: self.store.job_versions(
                job_id, namespace=ns, **kw), lookup=True)
        if rest.endswith("/revert"):
            job_id = rest[: -len("/revert")]
            self._writes(method)
            return self._write(q, lambda region: self.store.revert_job(
                job_id, self.body(), region=region, namespace=ns))
        if rest.endswith("/stable"):
            job_id = rest[: -len("/stable")]
            self._writes(method)
            return self._write(q, lambda region: self.store.set_job_stability(
                job_id, self.body(), region=region, namespace=ns))
        if rest.endswith("/summary"):
            job_id = rest[: -len("/summary")]
            if method != "GET":
                raise MethodNotAllowed
            return self._read(q, lambda **kw: self.store.job_summary(
                job_id, namespace=ns, **kw), lookup=True)
        if rest.endswith("/scale"):
            job_id = rest[: -len("/scale")]
            if method == "GET":
                return self._read(q, lambda **kw: self.store.job_scale_status(
                    job_id, namespace=ns, **kw), lookup=True)
            self._writes(method)
            return self._write(q, lambda region: self.store.scale_job(
                job_id, self.body(), region=region, namespace=ns))
        if rest.endswith("/deployments"):
            job_id = rest[: -len("/deployments")]
            if method != "GET":
                raise MethodNotAllowed
            return self._read(q, lambda **kw: self.store.job_deployments(
                job_id, namespace=ns, **kw))
        if rest.endswith("/deployment"):
            job_id = rest[: -len("/deployment")]
            if method != "GET":
                raise MethodNotAllowed
            return self._read(q, lambda **kw: self.store.job_deployment(
                job_id, namespace=ns, **kw))
        if rest.endswith("/periodic/force"):
            job_id = rest[: -len("/periodic/force")]
            self._writes(method)
            return self._write(q, lambda region: self.store.force_periodic_job(
                job_id, region=region, namespace=ns))
        if rest.endswith("/dispatch"):
            job_id = rest[: -len("/dispatch")]
            self._writes(method)
            return self._write(q, lambda region: self.store.dispatch_job(
                job_id, region=region, namespace=ns))
        if _routed_suffix(rest):
            raise NotFound  # a sub-path Nomad serves and ordu does not (yet)
        if method == "GET":
            return self._read(q, lambda **kw: self.store.job(
                rest, namespace=ns, **kw), lookup=True)
        if method in ("PUT", "POST"):
            return self._write(q, lambda region: self.store.register_job(
                self.body(), job_id=rest, region=region, namespace=ns))
        if method == "DELETE":
            purge = q.flag("purge")
            return self._write(q, lambda region: self.store.deregister_job(
                rest, purge=purge, region=region, namespace=ns))
        raise MethodNotAllowed

    def _node(self, method: str, rest: str, q: Query) -> Answer:
        tail = rest.rsplit("/", 1)[-1] if "/" in rest else ""
        if "/" in rest and tail not in ("status", "drain", "eligibility", "evaluate", "allocations"):
            raise NotFound  # node IDs have no "/": a sub-path not served
        if rest.endswith("/status"):
            node_id = rest[: -len("/status")]
            self._writes(method)
            return self._write(q, lambda region: self.store.update_node_status(
                node_id, self.body(), region=region))
        if rest.endswith("/drain"):
            node_id = rest[: -len("/drain")]
            self._writes(method)
            return self._write(q, lambda region: self.store.update_node_drain(
                node_id, self.body(), enable=q.get("enable"), region=region))
        if rest.endswith("/eligibility"):
            node_id = rest[: -len("/eligibility")]
            self._writes(method)
            return self._write(q, lambda region: self.store.update_node_eligibility(
                node_id, self.body(), region=region))
        if rest.endswith("/evaluate"):
            node_id = rest[: -len("/evaluate")]
            self._writes(method)
            return self._write(q, lambda region: self.store.evaluate_node(node_id, region=region))
        if rest.endswith("/allocations"):
            node_id = rest[: -len("/allocations")]
            if method != "GET":
                raise MethodNotAllowed
            return self._read(q, lambda **kw: self.store.node_allocations(node_id, **kw))
        if method == "GET":
            return self._read(q, lambda **kw: self.store.node(rest, **kw), lookup=True)
        if method in ("PUT", "POST"):
            return self._write(q, lambda region: self.store.register_node(
                self.body(), node_id=rest, region=region))
        if method == "DELETE":
            return self._write(q, lambda region: self.store.deregister_node(rest, region=region))
        raise MethodNotAllowed

    # ---- answers

    def _agent(self, what: str, q: Query) -> Answer:
        """An agent or status endpoint: no index headers, as Nomad's."""
        httpd = self.server
        value = self.store.agent(what, name=httpd.node_name, datacenter=httpd.datacenter,
                                 addr=httpd.server_address[0], port=httpd.server_address[1])
        return 200, {}, _dumps(value, q.pretty()), "application/json"

    def _read(self, q: Query, read: Callable[..., Tuple[Any, int]], lookup: bool = False
              ) -> Answer:
        """A GET: the region (before anything else), blocking parameters, the
        read, the read headers (also on errors)."""
        self.store.check_region(q.region())
        index, wait = q.blocking()
        try:
            value, at = read(index=index, wait=wait, region=q.region())
        except OrduError as exc:
            return _error(exc, lookup=lookup, read=True)
        headers = {"X-Nomad-Index": str(at), **READ_HEADERS}
        return 200, headers, _dumps(value, q.pretty()), "application/json"

    def _read_page(self, q: Query, read: Callable[..., Tuple[Any, int, Optional[str]]]
                   ) -> Answer:
        """A GET of a list: as ``_read``, with the list parameters, and
        ``X-Nomad-NextToken`` when there is a next page."""
        self.store.check_region(q.region())
        index, wait = q.blocking()
        args = q.list_args()
        try:
            value, at, token = read(index=index, wait=wait, region=q.region(), **args)
        except OrduError as exc:
            return _error(exc, lookup=False, read=True)
        headers = {"X-Nomad-Index": str(at), **READ_HEADERS}
        if token is not None:
            headers["X-Nomad-NextToken"] = token
        return 200, headers, _dumps(value, q.pretty()), "application/json"

    def _write(self, q: Query, write: Callable[[Optional[str]], Dict[str, Any]],
               body: bool = True) -> Answer:
        """A write: the region first (before any body is read), then the store.
        Without ``body`` (namespace writes, which Nomad answers with nothing)
        the answer is ``null``, the index only in its header."""
        region = q.region()
        self.store.check_region(region)
        reply = write(region)
        headers = {"X-Nomad-Index": str(reply.get("Index", 0))}
        return 200, headers, _dumps(reply if body else None, q.pretty()), "application/json"


def _routed_suffix(job_path: str) -> bool:
    """True when `job_path` ends in a sub-path of Nomad's job API (the core's list)."""
    return any(job_path.endswith("/" + s) and len(job_path) > len(s) + 1
               for s in _ordu.ROUTED_JOB_SUFFIXES)


def _error(exc: OrduError, lookup: bool, read: bool = False) -> Answer:
    """An error answer: the core's status and text; a read's not-found also
    carries the read headers with the index it answered at."""
    status = exc.http_status_lookup if lookup else exc.http_status
    headers: Dict[str, str] = {}
    index = getattr(exc, "index", None)
    if read and isinstance(index, int):
        headers = {"X-Nomad-Index": str(index), **READ_HEADERS}
    return status, headers, str(exc).encode("utf-8"), "text/plain"


class _Reader(io.RawIOBase):
    """A connection's reading side, with its time limits: waiting for a
    request (keep-alive idle) may take ``timeout`` seconds, and a request,
    head and body, must arrive within ``timeout`` seconds of its first byte,
    so a client that sends slowly cannot hold its thread for longer."""

    def __init__(self, handler: "_Handler") -> None:
        super().__init__()
        self._handler = handler
        self._sock: socket.socket = handler.connection

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        h = self._handler
        limit = h.server.timeout
        if h._deadline is not None:
            limit = h._deadline - time.monotonic()
            if limit <= 0:
                raise TimeoutError("the request took too long to arrive")
        self._sock.settimeout(limit)
        n = self._sock.recv_into(buf)
        if h._deadline is None and n:
            h._deadline = time.monotonic() + h.server.timeout
        return n


class _Writer:
    """A connection's writing side: each write is one ``sendall``."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def write(self, data: bytes) -> int:
        self._sock.sendall(data)
        return len(data)

    def flush(self) -> None:
        pass


def _default_max_connections() -> int:
    """1,024, or fewer when the process may open fewer files (each
    connection is a descriptor; keep some for everything else)."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return 1024
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(16, min(1024, soft - 64))


_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}

_FULL = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
         b"Content-Length: 20\r\nConnection: close\r\n\r\ntoo many connections")


# The agent and status endpoints, by what the store's `agent` call names.
_AGENT_PATHS = {
    "/v1/agent/self": "self",
    "/v1/agent/members": "members",
    "/v1/status/leader": "leader",
    "/v1/status/peers": "peers",
    "/v1/regions": "regions",
}


class _HTTPServer(HTTPServer):
    """Accepts in one thread and serves each connection in a thread of its
    own, at most ``max_connections`` at once (so at most that many serving
    threads): a connection beyond them is answered 503 and closed. A
    long poll holds its connection's thread while it waits, so this is also
    the bound on concurrent long polls."""

    # Hundreds of long polls connect at once; a short backlog would drop SYNs.
    request_queue_size = 1024
    store: Store
    verbose: bool
    # What the agent endpoints say about this server.
    node_name: str = socket.gethostname() or "ordu"
    datacenter: str = "dc1"

    def __init__(self, addr: Tuple[str, int], max_connections: int, timeout: float) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, not {max_connections}")
        if not timeout > 0:
            raise ValueError(f"timeout must be a number of seconds > 0, not {timeout}")
        super().__init__(addr, _Handler)
        self.max_connections = max_connections
        self.timeout = float(timeout)
        self._lock = threading.Lock()
        self._connections: set = set()
        self._closing = False
        # Event streams open: `stop` lets them end cleanly first.
        self._streams = 0
        self._serving = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self.socket.setblocking(False)

    @property
    def closing(self) -> bool:
        """The server is stopping: open event streams end."""
        return self._closing

    def stream_started(self) -> None:
        with self._lock:
            self._streams += 1

    def stream_ended(self) -> None:
        with self._lock:
            self._streams -= 1

    @property
    def connections(self) -> int:
        """Connections being served now."""
        with self._lock:
            return len(self._connections)

    def serve(self) -> None:
        """The accept loop, until :meth:`stop`."""
        with self._serving, selectors.DefaultSelector() as sel:
            sel.register(self.socket, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while not self._closing:
                for key, _ in sel.select():
                    if key.fileobj is self.socket and not self._closing:
                        self._accept()

    def _accept(self) -> None:
        try:
            sock, addr = self.socket.accept()
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno in _OUT_OF_RESOURCES:
                # Out of descriptors: the pending connection stays queued;
                # serve the others and try again shortly instead of spinning.
                time.sleep(0.01)
            return
        sock.setblocking(True)
        with self._lock:
            full = len(self._connections) >= self.max_connections
            if not full:
                self._connections.add(sock)
        if full:
            self._refuse(sock)
            return
        try:
            threading.Thread(target=self._serve_connection, args=(sock, addr),
                             name="ordu-http-conn", daemon=True).start()
        except RuntimeError:  # no thread to be had
            self._forget(sock)
            self._refuse(sock)

    @staticmethod
    def _refuse(sock: socket.socket) -> None:
        try:
            sock.setblocking(False)
            sock.send(_FULL)
        except OSError:
            pass
        sock.close()

    def _serve_connection(self, sock: socket.socket, addr: Any) -> None:
        try:
            self.finish_request(sock, addr)
        except Exception:  # the client went away, timed out, or a bug
            if self.verbose:
                self.handle_error(sock, addr)
        finally:
            self._forget(sock)

    def _forget(self, sock: socket.socket) -> None:
        # Closed under the lock, so `stop` never shuts down a descriptor
        # number that a new connection has reused.
        with self._lock:
            self._connections.discard(sock)
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            sock.close()

    def stop(self) -> None:
        """Ends the accept loop, closes the listening socket and shuts down
        every connection (a thread waiting for its client's next request ends
        at once; one in a long poll ends when the poll does, its answer lost;
        an event stream ends its body first, within about 0.25 s)."""
        self._closing = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        # The loop, if one runs, ends within a select.
        if self._serving.acquire(timeout=1.0):
            self._serving.release()
        self.server_close()
        # Open event streams notice within a wait (0.25 s) and end their
        # body; then the connections are shut down.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            with self._lock:
                if self._streams == 0:
                    break
            time.sleep(0.02)
        with self._lock:
            for sock in self._connections:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for s in (self._wake_r, self._wake_w):
            s.close()


# ---- the server

#: The store configuration a server makes its own store with: grouped
#: scheduling (see :class:`Server`).
_GROUPED: Dict[str, Any] = {"mode": "grouped"}


def _with_grouped(config: Any) -> Any:
    """A store configuration (None, a dict, or JSON text) in grouped mode
    unless it names a mode; text that is not a JSON object is handed on as
    it is, for the store to refuse."""
    if config is None:
        return dict(_GROUPED)
    parsed = config
    if isinstance(config, (str, bytes)):
        try:
            parsed = json.loads(config)
        except ValueError:
            return config
    if isinstance(parsed, dict) and "mode" not in parsed:
        return {**_GROUPED, **parsed}
    return config


class Server:
    """An HTTP front end over a store, on ``host:port`` (port 0: a free one).

    ``start()`` serves from a daemon thread and returns at once;
    ``serve_forever()`` serves from the calling thread; ``stop()`` ends either
    within a few milliseconds. Also a context manager (started on enter,
    stopped on exit). ``address`` is the base URL, e.g.
    ``http://127.0.0.1:4646``.

    Each connection is served by a thread of its own, at most
    ``max_connections`` at once (default 1,024, fewer when the file
    descriptor limit is low); a connection beyond them gets ``503 too many
    connections`` and is closed. A long poll holds its connection, so this
    is also how many can wait at once. ``timeout`` (seconds, default 30)
    bounds how long a connection may sit idle between requests and how long
    a request (head and body) may take to arrive once it has begun.
    ``datacenter`` is the one ``/v1/agent/self`` reports the server in.

    Without a ``store``, the server makes one in grouped mode (``Store({"mode":
    "grouped"})``): requests come on threads of their own, so re-registers of
    a job from many clients are scheduled together, each write answers with
    its evaluation processed, and a read sees the evaluations of every write
    answered before it, as ``ordu-http`` does."""

    def __init__(
        self,
        store: Optional[Store] = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        verbose: bool = False,
        max_connections: Optional[int] = None,
        timeout: float = 30.0,
        datacenter: str = "dc1",
    ) -> None:
        self.store = store if store is not None else Store(_GROUPED)
        if max_connections is None:
            max_connections = _default_max_connections()
        self._httpd = _HTTPServer((host, port), max_connections, timeout)
        self._httpd.store = self.store
        self._httpd.verbose = verbose
        self._httpd.datacenter = datacenter
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()
        self._duties: Optional[threading.Thread] = None

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def address(self) -> str:
        """The base URL: ``http://host:port``."""
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def max_connections(self) -> int:
        """How many connections are served at once."""
        return self._httpd.max_connections

    @property
    def connections(self) -> int:
        """How many connections are being served now."""
        return self._httpd.connections

    def start(self) -> "Server":
        """Serves from a daemon thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve, name=f"ordu-http-{self.port}", daemon=True
            )
            self._thread.start()
        self._start_duties()
        return self

    def serve_forever(self) -> None:
        """Serves from this thread until :meth:`stop` (or Ctrl-C)."""
        self._start_duties()
        self._httpd.serve()

    def _start_duties(self) -> None:
        """What the server does on its own, each second, as ordu-http does:
        drain deadlines and drains that are done."""
        if self._duties is not None:
            return

        def run() -> None:
            while not self._stopping.wait(1.0):
                try:
                    self.store.advance_drains()
                except Exception:  # a follower's or a closed store's refusal
                    pass

        self._duties = threading.Thread(
            target=run, name=f"ordu-duties-{self.port}", daemon=True
        )
        self._duties.start()

    def stop(self) -> None:
        """Stops serving, closes the socket and every connection. Requests
        still blocked in a long poll end by themselves (their threads are
        daemons)."""
        self._stopping.set()
        self._httpd.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._duties is not None:
            self._duties.join(timeout=5)
            self._duties = None

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def demo_node(i: int, datacenter: str = "dc1") -> Dict[str, Any]:
    """A ready linux/amd64 node with docker, exec and java drivers, 4 cores and
    8 GiB: something for jobs to be placed on."""
    node_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ordu-demo-node-{datacenter}-{i}"))
    ip = f"10.0.{i // 250}.{i % 250 + 1}"
    return {
        "ID": node_id,
        "Name": f"demo-{i}",
        "Datacenter": datacenter,
        "NodeClass": "",
        "Attributes": {
            "kernel.os": "linux",
            "kernel.arch": "amd64",
            "driver.docker": "1",
            "driver.exec": "1",
            "driver.java": "1",
        },
        "Resources": {
            "CPU": 4000,
            "MemoryMB": 8192,
            "DiskMB": 100000,
            "IOPS": 1000,
            "Networks": [{"Device": "eth0", "CIDR": f"{ip}/32", "IP": ip, "MBits": 1000}],
        },
        "Reserved": {"CPU": 0, "MemoryMB": 0, "DiskMB": 0, "IOPS": 0},
        "Meta": {"demo": "1"},
        "Status": "ready",
    }


def _split_addr(addr: str) -> Tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"--addr wants HOST:PORT, not {addr!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m ordu.http``: serves a new store until Ctrl-C."""
    p = argparse.ArgumentParser(prog="python -m ordu.http", description=__doc__.split("\n\n")[0])
    p.add_argument("--addr", default="127.0.0.1:4646", type=_split_addr,
                   help="HOST:PORT to listen on (default 127.0.0.1:4646; port 0: any free)")
    p.add_argument("--config", default=None,
                   help='store configuration as JSON, e.g. \'{"region": "eu"}\' '
                        '(mode "grouped" unless it says otherwise)')
    p.add_argument("--demo-nodes", type=int, default=0, metavar="N",
                   help="register N ready demo nodes (linux/amd64, docker/exec/java)")
    p.add_argument("--demo-dc", default="dc1",
                   help="datacenter of the demo nodes and of the server (default dc1)")
    p.add_argument("--max-connections", type=int, default=None, metavar="N",
                   help="connections served at once, long polls included; more are "
                        "answered 503 (default 1024, fewer under a low file limit)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="how long a connection may idle between requests, and a request "
                        "take to arrive (default 30)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = p.parse_args(argv)
    if args.demo_nodes < 0 or args.demo_nodes > 100000:
        p.error("--demo-nodes must be between 0 and 100000")
    try:
        store = Store(_with_grouped(args.config))
    except OrduError as exc:
        p.error(f"--config: {exc}")
    for i in range(args.demo_nodes):
        store.register_node({"Node": demo_node(i, args.demo_dc)})
    if args.max_connections is not None and args.max_connections < 1:
        p.error("--max-connections must be at least 1")
    if not args.timeout > 0:
        p.error("--timeout must be > 0")
    host, port = args.addr
    server = Server(store, host, port, verbose=args.verbose,
                    max_connections=args.max_connections, timeout=args.timeout,
                    datacenter=args.demo_dc)
    print(f"ordu: serving Nomad's HTTP API on {server.address} "
          f"(region {store.region}, {args.demo_nodes} demo nodes)", flush=True)
    # SIGTERM stops the server as Ctrl-C does; a shell that started us in the
    # background may have left SIGINT ignored, so take it back too.
    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
