"""One connection's requests: routed to the store, answered in Nomad's
status codes and headers, with the event stream and the connection's time
limits."""

from __future__ import annotations

import io
import json
import socket
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from ordu import _ordu
from ordu._ordu import OrduError, Store, parse_index
from ordu.http.query import BadRequest, Query

if TYPE_CHECKING:
    from ordu.http.serving import _HTTPServer


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


# The agent and status endpoints, by what the store's `agent` call names.
_AGENT_PATHS = {
    "/v1/agent/self": "self",
    "/v1/agent/members": "members",
    "/v1/status/leader": "leader",
    "/v1/status/peers": "peers",
    "/v1/regions": "regions",
}
