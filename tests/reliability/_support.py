"""What the reliability tests share: unreachable backends, a bounded wrk load, worker memory sampling, and a
line of figures per run (``pytest -s`` shows them; docs/reliability.md quotes them)."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil

from tests.services._common import free_port


def report(name: str, **figures: object) -> None:
    print(f"\nRELIABILITY {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()), flush=True)


def refused_endpoint() -> str:
    """An endpoint whose port nothing listens on: every connect is refused at once."""
    return f"http://127.0.0.1:{free_port()}"


@contextmanager
def black_hole() -> Iterator[str]:
    """An endpoint that accepts connections and never answers: every export waits for its full timeout."""
    server = socket.create_server(("127.0.0.1", 0), backlog=256)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


@dataclass
class Load:
    requests: int
    non_2xx: int
    socket_errors: int
    p99_ms: float


_P99 = re.compile(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, seconds: int = 5, connections: int = 8) -> Load:
    """A bounded load on 127.0.0.1: fixed duration and connections, two threads."""
    assert url.startswith("http://127.0.0.1:")
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    p99 = _P99.search(out)
    assert p99, out
    requests = re.search(r"(\d+) requests in", out)
    assert requests, out
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Load(
        requests=int(requests.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(map(int, errors.groups())) if errors else 0,
        p99_ms=float(p99.group(1)) * _UNITS[p99.group(2)],
    )


@dataclass
class WorkerMemory:
    """Peak RSS of every child of a gunicorn master, sampled in a thread while the load runs."""

    master: int
    peak_mb: dict[int, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            try:
                children = psutil.Process(self.master).children()
            except psutil.Error:
                return
            for child in children:
                try:
                    rss = child.memory_info().rss / 2**20
                except psutil.Error:
                    continue
                self.peak_mb[child.pid] = max(rss, self.peak_mb.get(child.pid, 0.0))

    @contextmanager
    def sampling(self) -> Iterator[WorkerMemory]:
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


def seconds_since(start: float) -> float:
    return round(time.monotonic() - start, 2)
