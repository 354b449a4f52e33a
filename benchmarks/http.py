"""Throughput of one configuration under gunicorn (one sync worker), or another server, and wrk, on
127.0.0.1."""

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

WRK = "/usr/bin/wrk"
_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
# A server for the configuration in an environment, yielding its base URL.
Server = Callable[[Mapping[str, str]], AbstractContextManager[str]]


def _free_port() -> int:
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
def gunicorn(env: Mapping[str, str]) -> Iterator[str]:
    """A server for the configuration in ``env``; yields its base URL and stops it afterwards."""
    command = [sys.executable, "-m", "gunicorn", "-c", "python:benchmarks.gunicorn_conf"]
    with serving(
        lambda port: [*command, "-b", f"127.0.0.1:{port}", "benchmarks.wsgi:application"], env
    ) as base:
        yield base


@contextmanager
def serving(command: Callable[[int], list[str]], env: Mapping[str, str]) -> Iterator[str]:
    """The server ``command(port)`` starts on a free 127.0.0.1 port, once it answers; stopped afterwards."""
    port = _free_port()
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command(port), env=dict(env), stdout=log, stderr=log)
        try:
            _wait_ready(f"http://127.0.0.1:{port}/trivial/", server)
            yield f"http://127.0.0.1:{port}"
        except RuntimeError:
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            server.terminate()
            server.wait(timeout=30)


def requests_per_second(url: str, seconds: int, connections: int = 2) -> float:
    result = subprocess.run(
        [WRK, "-t1", f"-c{connections}", f"-d{seconds}s", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    )
    match = _RATE.search(result.stdout)
    if match is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{result.stdout}{result.stderr}")
    return float(match.group(1))


def throughput(
    env: Mapping[str, str], paths: Sequence[str], seconds: int, server: Server | None = None
) -> dict[str, float]:
    """Requests per second for each path, after a short warm-up, from one server (gunicorn by default)."""
    with (server or gunicorn)(env) as base:
        rates = {}
        for path in paths:
            requests_per_second(base + path, 1)
            rates[path] = requests_per_second(base + path, seconds)
        return rates
