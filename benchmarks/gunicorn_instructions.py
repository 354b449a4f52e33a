"""Instructions per request of each configuration in a gunicorn worker (valgrind callgrind): ``python -m
benchmarks.gunicorn_instructions``. The deterministic companion of the HTTP table, as
:mod:`benchmarks.request_instructions` is of the in-process one: what a configuration adds here beside what it
adds in-process tells whether it does more work under a real server, or the same work more slowly.

gunicorn (one sync worker, :mod:`benchmarks.gunicorn_conf`) runs under callgrind, which follows the fork into
the worker; a client sends what wrk sends (``GET`` with a ``Host`` header, one connection per request, as
the sync worker closes each): 300 warm-up requests, N requests, then SIGTERM, so the worker's flush at exit
counts, for N = 600 and N = 100; the worker's difference over 500 is one request. C and D export to the
receiver of :mod:`benchmarks.receiver`. Under valgrind a request takes ~100 times longer, so exports driven
by the clock (the batch processors' schedule delays, the metric reader's interval) would be charged ~100
times over to each request: those are set to an hour, and only the batches that fill, and the flush at
exit, count, as at the real rate. ``BENCH_DCM_OTEL`` applies to D.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, closing
from pathlib import Path

from benchmarks import callgrind, configs
from benchmarks.__main__ import bench_env
from benchmarks.http import free_port
from benchmarks.inprocess import WARMUP
from benchmarks.paths import QUERIES, TRIVIAL, VIEWS
from benchmarks.request_instructions import COUNTS, NO_CLOCK, print_table

_COLLECTED = re.compile(r"^==(\d+)== Collected : (\d+)", re.MULTILINE)
START_TIMEOUT = 600.0


def _get(port: int, view: str) -> bytes:
    """One request as wrk sends it, on a connection of its own; the status line."""
    with closing(socket.create_connection(("127.0.0.1", port), timeout=START_TIMEOUT)) as sock:
        sock.sendall(f"GET {view} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


def _serve(view: str, count: int, env: dict[str, str]) -> int:
    """The worker's instructions, start-up, warm-up, ``count`` requests and exit included."""
    port = free_port()
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m"]
    command += ["gunicorn", "-c", "python:benchmarks.gunicorn_conf", "--timeout", "900"]
    command += ["-b", f"127.0.0.1:{port}", "benchmarks.wsgi:application"]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, env={**env, "PYTHONHASHSEED": "0"}, stdout=log, stderr=log)
        try:
            _wait_ready(port, view, server)
            for _ in range(WARMUP - 1 + count):
                _get(port, view)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=START_TIMEOUT)
        log.seek(0)
        output = log.read().decode(errors="replace")
    workers = [int(n) for pid, n in _COLLECTED.findall(output) if int(pid) != server.pid]
    if len(workers) != 1:
        raise RuntimeError(f"expected one worker's count:\n{output[-3000:]}")
    return workers[0]


def _wait_ready(port: int, view: str, server: subprocess.Popen[bytes]) -> None:
    """Until the worker answers ``view`` with 200 (that first request is one of the warm-up's)."""
    while server.poll() is None:
        try:
            status = _get(port, view)
        except OSError:
            time.sleep(0.5)
            continue
        if not status.endswith(b"200 OK"):
            raise RuntimeError(f"{view} answered {status!r}")
        return
    raise RuntimeError(f"gunicorn exited with status {server.returncode}")


def per_request(view: str, env: dict[str, str]) -> int:
    more, fewer = COUNTS
    return (_serve(view, more, env) - _serve(view, fewer, env)) // (more - fewer)


def main() -> None:
    from benchmarks.receiver import otlp_receiver

    parser = argparse.ArgumentParser(prog="python -m benchmarks.gunicorn_instructions", description=__doc__)
    parser.add_argument("--configs", nargs="+", choices=sorted(configs.APPLY), default=sorted(configs.APPLY))
    parser.add_argument("--views", nargs="+", choices=VIEWS, default=[TRIVIAL, QUERIES])
    args = parser.parse_args()
    callgrind.require_valgrind()
    with ExitStack() as stack:
        database = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dcm_otel_bench-"))) / "db"
        subprocess.run([sys.executable, "-m", "benchmarks.prepare"], env=bench_env(database), check=True)
        receiver = stack.enter_context(otlp_receiver())
        print(f"exporting to {receiver.description}", flush=True)
        extra = {k: v for k, v in os.environ.items() if k == configs.DCM_OTEL_OVERRIDES}
        extra.update(NO_CLOCK, **{configs.OTLP_ENDPOINT: receiver.endpoint})

        def env(config: str) -> dict[str, str]:
            return {**bench_env(database, config), **extra}

        figures = {view: [per_request(view, env(config)) for config in args.configs] for view in args.views}
    labels = [f"{config} {configs.NAMES[config]}" for config in args.configs]
    print_table(labels, figures, relative=args.configs[0] == "A")


if __name__ == "__main__":
    main()
