"""Throughput under an ASGI server: uvicorn (one worker) and wrk on 127.0.0.1, for uninstrumented ASGI
(A), the contrib Django instrumentation's ASGI path (C: opentelemetry-instrumentation-django, which takes
its ASGI helpers from opentelemetry-instrumentation-asgi) and dcm_otel (D), the same views as the gunicorn
rounds. ``python -m benchmarks.asgi [--rounds N] [--seconds S]``; ``python -m benchmarks --asgi-rounds N``.

uvicorn builds the application with ``--factory``: :func:`application` applies the configuration named by
``BENCH_CONFIG`` in the server's process, before Django is set up, as :mod:`benchmarks.wsgi` does.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psutil
from django.core.handlers.asgi import ASGIHandler

from benchmarks import configs, http
from benchmarks.paths import VIEWS
from benchmarks.report import Samples, config_labels, machine, medians, view_table

CONFIGS = {"A": "uninstrumented", "C": "opentelemetry contrib (ASGI path)", "D": "dcm_otel"}
ROOT = Path(__file__).resolve().parent.parent


def application() -> ASGIHandler:
    """The ASGI app uvicorn serves (``--factory``)."""
    from django.core.asgi import get_asgi_application

    configs.apply(os.environ["BENCH_CONFIG"])
    return get_asgi_application()


@contextmanager
def uvicorn(env: Mapping[str, str]) -> Iterator[tuple[str, psutil.Process]]:
    """uvicorn, one worker (the server's own process), no access log (gunicorn's benchmark config has none
    either)."""
    command = [sys.executable, "-m", "uvicorn", "--factory", "benchmarks.asgi:application"]
    command += ["--log-level", "warning", "--no-access-log", "--host", "127.0.0.1", "--port"]
    with http.serving(lambda port: [*command, str(port)], env) as served:
        yield served


def measure(rounds: int, seconds: int, endpoint: str | None = None) -> Samples:
    """Requests per second and the server's CPU time per request, per configuration and view,
    configurations rotated each round; C and D export over OTLP to ``endpoint`` when given, else discard."""
    samples: Samples = {config: {view: {} for view in VIEWS} for config in CONFIGS}
    with tempfile.TemporaryDirectory(prefix="dcm_otel_bench_asgi-") as tmp:
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DCM_OTEL_", "DJANGO_"))}
        environ |= {
            "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
            "BENCH_DB": str(Path(tmp) / "bench.sqlite3"),
            "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), environ.get("PYTHONPATH")))),
        }
        if endpoint:
            environ[configs.OTLP_ENDPOINT] = endpoint
        subprocess.run([sys.executable, "-m", "benchmarks.prepare"], env=environ, check=True, timeout=600)
        names = sorted(CONFIGS)
        for index in range(rounds):
            for config in names[index % len(names) :] + names[: index % len(names)]:
                rates = http.throughput(environ | {"BENCH_CONFIG": config}, VIEWS, seconds, uvicorn)
                for view, figures in rates.items():
                    for metric, value in figures.items():
                        samples[config][view].setdefault(metric, []).append(value)
            print(f"asgi round {index + 1}/{rounds} done", file=sys.stderr, flush=True)
    return samples


def section(rounds: int, seconds: int, endpoint: str | None = None) -> str:
    """The ASGI table: median requests per second, and each configuration's cost per request over A's."""
    rps = {
        c: {v: figures["rps"] for v, figures in views.items()}
        for c, views in medians(measure(rounds, seconds, endpoint)).items()
    }

    def cells(config: str, view: str) -> list[str]:
        value, base = rps[config][view], rps["A"][view]
        return [f"{value:.0f}", f"{value / base:.2f}", f"{(1 / value - 1 / base) * 1e6:+.0f}"]

    lines = [
        machine(),
        f"asgi: uvicorn 1 worker + wrk -t1 -c2, median of {rounds} rounds x {seconds} s, telemetry "
        + (f"exported over OTLP/HTTP to {endpoint}" if endpoint else "discarded at the exporters"),
        "",
        *view_table(
            "| config | trivial req/s | x A | +us/req | 5-query req/s | x A | +us/req |",
            config_labels(CONFIGS),
            cells,
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.asgi", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="rounds (median reported)")
    parser.add_argument("--seconds", type=int, default=3, help="wrk duration per view (whole seconds)")
    args = parser.parse_args()
    print(section(max(args.rounds, 1), max(args.seconds, 1)), flush=True)


if __name__ == "__main__":
    main()
