"""One configuration, in this process, through Django's WSGI handler: prints ``{view: us per request}``.

Requests go to ``WSGIHandler`` (what gunicorn calls) with environs made by ``RequestFactory``; like the test
client, it keeps the DB connection open across requests (``close_old_connections`` is disconnected, once).
Neither ``Client.get`` nor its ``ClientHandler`` is used: they disconnect and reconnect signal receivers on
every request, and each connect leaves a ``weakref.finalize`` that is never released (two or three per
request), so the heap grows through a run and every full garbage collection gets slower, which charges
Django's test scaffolding to the configurations that allocate more and so collect more often.

Per view it prints the wall time per request of the request loop, the process CPU time per request from
the loop's start until the providers' ``force_flush`` has returned (so the export threads' work and what
the last batches cost are counted, whichever thread did it), and the request thread's own CPU time.
The warm-up's telemetry is flushed before the measured loop starts.

``python -m benchmarks.inprocess CONFIG REQUESTS [--profile VIEW]``; with ``--profile`` the cProfile of
that view's requests is printed instead (where the time goes).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
from collections.abc import Callable
from time import perf_counter, process_time, thread_time

import django
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory

from benchmarks import configs
from benchmarks.paths import QUERIES, TRIVIAL

WARMUP = 300


def _start_response(
    status: str, headers: list[tuple[str, str]], exc_info: object = None
) -> Callable[[bytes], object]:
    return _write


def _write(data: bytes) -> None:
    return None


class Requester:
    def __init__(self) -> None:
        self.factory = RequestFactory()
        self.handler = WSGIHandler()
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)

    def get(self, path: str) -> int:
        response = self.handler(self.factory.get(path).environ, _start_response)
        response.close()  # sends request_finished, as a WSGI server does
        status: int = response.status_code
        return status


def per_request_us(requester: Requester, path: str, requests: int) -> dict[str, float]:
    """``wall_us``, ``cpu_us`` (whole process, flush included) and ``request_cpu_us`` per request."""
    for _ in range(WARMUP):
        assert requester.get(path) == 200
    configs.flush()
    cpu, thread, start = process_time(), thread_time(), perf_counter()
    for _ in range(requests):
        requester.get(path)
    wall, thread = perf_counter() - start, thread_time() - thread
    configs.flush()
    cpu = process_time() - cpu
    return {
        "wall_us": wall / requests * 1e6,
        "cpu_us": cpu / requests * 1e6,
        "request_cpu_us": thread / requests * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", choices=sorted(configs.APPLY))
    parser.add_argument("requests", type=int)
    parser.add_argument("--profile", choices=(TRIVIAL, QUERIES))
    args = parser.parse_args()
    configs.apply(args.config)
    django.setup()
    requester = Requester()
    if args.profile:
        per_request_us(requester, args.profile, WARMUP)
        profiler = cProfile.Profile()
        profiler.runcall(per_request_us, requester, args.profile, args.requests)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        return
    print(json.dumps({path: per_request_us(requester, path, args.requests) for path in (TRIVIAL, QUERIES)}))


if __name__ == "__main__":
    main()
