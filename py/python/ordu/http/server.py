"""The :class:`Server`: an HTTP front end over a store."""

from __future__ import annotations

import json
import threading
from typing import Any, Dict, Optional

from ordu._ordu import Store
from ordu.http.serving import _default_max_connections, _HTTPServer


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
