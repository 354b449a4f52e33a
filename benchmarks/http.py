"""Throughput of one configuration under gunicorn (one sync worker), or another server, and wrk, on
127.0.0.1, and the serving process's CPU time per request served (all its threads: the exporters' too). On a
shared machine the rate moves with everything else running; the CPU time per request much less."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, closing, contextmanager

import psutil

WRK = "/usr/bin/wrk"
_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_COUNT = re.compile(r"(\d+) requests in ")
# A server for the configuration in an environment, yielding its base URL and the process serving requests.
Server = Callable[[Mapping[str, str]], AbstractContextManager[tuple[str, psutil.Process]]]


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(url: str, server: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own http://127.0.0.1 URL)
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer {url} within {timeout} s")


@contextmanager
def gunicorn(env: Mapping[str, str]) -> Iterator[tuple[str, psutil.Process]]:
    """A server for the configuration in ``env``; yields its base URL and its worker process, and stops it
    afterwards."""
    command = [sys.executable, "-m", "gunicorn", "-c", "python:benchmarks.gunicorn_conf"]
    with serving(lambda port: [*command, "-b", f"127.0.0.1:{port}", "benchmarks.wsgi:application"], env) as (
        base,
        master,
    ):
        (worker,) = master.children()
        yield base, worker


@contextmanager
def serving(
    command: Callable[[int], list[str]], env: Mapping[str, str]
) -> Iterator[tuple[str, psutil.Process]]:
    """The server ``command(port)`` starts on a free 127.0.0.1 port, once it answers; yields its base URL
    and its process, and stops it afterwards."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command(port), env=dict(env), stdout=log, stderr=log)
        try:
            _wait_ready(f"http://127.0.0.1:{port}/trivial/", server)
            yield f"http://127.0.0.1:{port}", psutil.Process(server.pid)
        except RuntimeError:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            server.terminate()
            server.wait(timeout=30)


def _wrk(url: str, seconds: int, connections: int = 2) -> tuple[float, int]:
    """Requests per second and requests served."""
    result = subprocess.run(
        [WRK, "-t1", f"-c{connections}", f"-d{seconds}s", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    )
    rate, count = _RATE.search(result.stdout), _COUNT.search(result.stdout)
    if rate is None or count is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{result.stdout}{result.stderr}")
    return float(rate.group(1)), int(count.group(1))


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def throughput(
    env: Mapping[str, str], paths: Sequence[str], seconds: int, server: Server | None = None
) -> dict[str, dict[str, float]]:
    """Per path, ``rps`` (requests per second) and ``worker_cpu_us`` (the serving process's CPU time per
    request), after a short warm-up, from one server (gunicorn by default)."""
    with (server or gunicorn)(env) as (base, worker):
        figures = {}
        for path in paths:
            _wrk(base + path, 1)
            cpu = cpu_seconds(worker)
            rate, count = _wrk(base + path, seconds)
            figures[path] = {"rps": rate, "worker_cpu_us": (cpu_seconds(worker) - cpu) / count * 1e6}
        return figures
