"""``python -m ordu.http``: the command line."""

from __future__ import annotations

import argparse
import signal
from typing import List, Optional, Tuple

from ordu import http as _package  # its doc's first paragraph is --help's description
from ordu._ordu import OrduError, Store
from ordu.http.demo import demo_node
from ordu.http.server import Server, _with_grouped


def _split_addr(addr: str) -> Tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"--addr wants HOST:PORT, not {addr!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m ordu.http``: serves a new store until Ctrl-C."""
    p = argparse.ArgumentParser(prog="python -m ordu.http", description=_package.__doc__.split("\n\n")[0])
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
