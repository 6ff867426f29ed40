#!/usr/bin/env python3
"""Issue 11 point 6's attacks at full size against a running ordu-http.

    limits.py ADDR PID bodies [--conns 300]   # partial 8 MiB bodies: VmRSS
    limits.py ADDR PID slow                   # a body a byte a second: time to cut off
    limits.py ADDR PID idle [--conns 20000]   # idle connections: a new client's wait

Raise `ulimit -n` above --conns for this driver. Figures go to stdout.
"""
import argparse
import socket
import threading
import time

BODY = 8 << 20


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def connect(host, port):
    s = socket.create_connection((host, port))
    s.settimeout(60)
    return s


def get(host, port):
    """A GET on a new connection: (status line or error, seconds)."""
    started = time.monotonic()
    try:
        s = connect(host, port)
        s.sendall(b"GET /v1/jobs HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
        got = s.recv(4096).split(b"\r\n", 1)[0].decode() or "closed"
        s.close()
    except OSError as e:
        got = f"error: {e}"
    return got, time.monotonic() - started


def bodies(host, port, pid, conns):
    before = rss_mb(pid)
    head = f"PUT /v1/jobs HTTP/1.1\r\nHost: b\r\nContent-Length: {BODY}\r\n\r\n".encode()
    piece = b" " * (64 << 10)
    socks = []

    def attack():
        s = connect(host, port)
        socks.append(s)
        try:
            s.sendall(head)
            for _ in range(BODY // len(piece) - 1):
                s.sendall(piece)
            s.sendall(piece[:-1])
        except OSError:
            pass

    started = time.monotonic()
    threads = [threading.Thread(target=attack) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(0.5)
    print(f"{conns} bodies of {BODY} - 1 bytes sent in {time.monotonic() - started:.1f} s")
    print(f"VmRSS: {before:.0f} MB before, {rss_mb(pid):.0f} MB while they are held")
    print("a new client meanwhile: %s in %.3f s" % get(host, port))
    for s in socks:
        s.close()
    time.sleep(0.5)
    print(f"VmRSS after they left: {rss_mb(pid):.0f} MB")


def slow(host, port):
    s = connect(host, port)
    started = time.monotonic()
    s.sendall(b"PUT /v1/jobs HTTP/1.1\r\nHost: b\r\nContent-Length: 1000\r\n\r\n")
    stop = threading.Event()

    def drip():
        while not stop.is_set():
            try:
                s.send(b" ")
            except OSError:
                return
            stop.wait(1)

    threading.Thread(target=drip, daemon=True).start()
    try:
        got = s.recv(4096).split(b"\r\n", 1)[0].decode() or "closed"
    except OSError as e:
        got = f"error: {e}"
    stop.set()
    print(f"a body sent a byte a second: {got} after {time.monotonic() - started:.2f} s")


def idle(host, port, conns):
    socks = []
    started = time.monotonic()
    for _ in range(conns):
        try:
            socks.append(socket.create_connection((host, port)))
        except OSError as e:
            print(f"connect {len(socks)}: {e}")
            break
    print(f"{len(socks)} idle connections opened in {time.monotonic() - started:.1f} s")
    time.sleep(1)
    print("a new client: %s in %.3f s" % get(host, port))
    for s in socks:
        s.close()
    time.sleep(1)
    print("after they closed: %s in %.3f s" % get(host, port))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("addr")
    p.add_argument("pid", type=int)
    p.add_argument("attack", choices=["bodies", "slow", "idle"])
    p.add_argument("--conns", type=int)
    a = p.parse_args()
    host, port = a.addr.removeprefix("http://").rsplit(":", 1)
    port = int(port)
    if a.attack == "bodies":
        bodies(host, port, a.pid, a.conns or 300)
    elif a.attack == "slow":
        slow(host, port)
    else:
        idle(host, port, a.conns or 20000)


if __name__ == "__main__":
    main()
