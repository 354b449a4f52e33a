"""The cost of ``middleware_spans``: configuration D with four of Django's middlewares, per-middleware
spans off and on, each in a fresh process, alternately; prints the fastest of ``ROUNDS`` runs of each.

``python -m benchmarks.middleware_spans [REQUESTS]`` (docs/benchmarks.md, "Middleware spans").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROUNDS = 5
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",
]


def measure(spans: bool, requests: int) -> float:
    """One process: µs per trivial request."""
    from django.conf import settings

    from benchmarks import configs, inprocess
    from benchmarks.paths import TRIVIAL

    settings.MIDDLEWARE = MIDDLEWARE
    configs.DCM_OTEL["middleware_spans"] = spans
    configs.apply("D")
    import django

    django.setup()
    return inprocess.per_request_us(inprocess.Requester(), TRIVIAL, requests)


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    env = {**os.environ, "BENCH_CONFIG": "D", "DJANGO_SETTINGS_MODULE": "benchmarks.settings"}
    best = {"off": float("inf"), "on": float("inf")}
    for _ in range(ROUNDS):
        for name in best:
            code = (
                f"from benchmarks.middleware_spans import measure; print(measure({name == 'on'}, {requests}))"
            )
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            best[name] = min(best[name], float(out.stdout.split()[-1]))
    per_middleware = (best["on"] - best["off"]) / len(MIDDLEWARE)
    print(json.dumps({**best, "per_middleware_us": per_middleware, "middlewares": len(MIDDLEWARE)}))


if __name__ == "__main__":
    main()
