"""One configuration, in this process, through Django's test client handler: prints ``{view: us per
request}``.

Requests go to ``ClientHandler`` (the WSGI handler inside ``django.test.Client``) with environs made by
``RequestFactory``. ``Client.get`` itself is not used: it connects signal receivers on every request whose
``weakref.finalize`` entries are never released (three per request), so the heap grows through a run and
every full garbage collection gets slower, which would charge the later views and the configurations that
allocate more for Django's test scaffolding.

``python -m benchmarks.inprocess CONFIG REQUESTS [--profile VIEW]``; with ``--profile`` the cProfile of
that view's requests is printed instead (where the time goes).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
from time import perf_counter

import django
from django.test import RequestFactory
from django.test.client import ClientHandler

from benchmarks import configs
from benchmarks.paths import QUERIES, TRIVIAL

WARMUP = 300


class Requester:
    def __init__(self) -> None:
        self.factory = RequestFactory()
        self.handler = ClientHandler()

    def get(self, path: str) -> int:
        status: int = self.handler(self.factory.get(path).environ).status_code
        return status


def per_request_us(requester: Requester, path: str, requests: int) -> float:
    for _ in range(WARMUP):
        assert requester.get(path) == 200
    start = perf_counter()
    for _ in range(requests):
        requester.get(path)
    return (perf_counter() - start) / requests * 1e6


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
