"""Accepting connections and serving each in a thread of its own, at most
``max_connections`` at once."""

from __future__ import annotations

import errno
import selectors
import socket
import threading
import time
from http.server import HTTPServer
from typing import Any, Tuple

from ordu._ordu import Store
from ordu.http.handler import _Handler


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
