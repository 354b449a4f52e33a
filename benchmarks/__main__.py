"""``python -m benchmarks``: every configuration in a fresh subprocess per round, rounds interleaved,
medians reported as a table with the two ratios the overhead budget is about; then the Docker SDK
instrumentation's cost per call, the queue gauges' collection time and the cost of a log record
(:mod:`benchmarks.extras`)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import asgi, extras, http, queue, report
from benchmarks.configs import NAMES
from benchmarks.paths import VIEWS
from benchmarks.report import Samples


def _env(database: Path, config: str = "A") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DCM_OTEL_", "DJANGO_"))}
    root = str(Path(__file__).resolve().parent.parent)
    env.update(
        DJANGO_SETTINGS_MODULE="benchmarks.settings",
        BENCH_DB=str(database),
        BENCH_CONFIG=config,
        PYTHONPATH=os.pathsep.join(filter(None, (root, env.get("PYTHONPATH")))),
    )
    return env


def _python(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def _order(round_index: int) -> list[str]:
    """A, B, C, D rotated by one each round, so no configuration always runs first or last."""
    names = sorted(NAMES)
    shift = round_index % len(names)
    return names[shift:] + names[:shift]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="in-process rounds (median reported)")
    parser.add_argument("--requests", type=int, default=3000, help="requests per view per round")
    parser.add_argument("--http-rounds", type=int, default=3, help="gunicorn + wrk rounds; 0 skips them")
    parser.add_argument("--asgi-rounds", type=int, default=3, help="uvicorn + wrk rounds; 0 skips them")
    parser.add_argument("--http-seconds", type=int, default=3, help="wrk duration per view (whole seconds)")
    parser.add_argument("--docker-calls", type=int, default=3000, help="Docker calls per side; 0 skips them")
    parser.add_argument("--queue-jobs", type=int, default=queue.JOBS, help="queue-gauge jobs; 0 skips them")
    parser.add_argument("--log-records", type=int, default=20000, help="log records per step; 0 skips them")
    args = parser.parse_args()

    inprocess: Samples = {config: {view: [] for view in VIEWS} for config in NAMES}
    throughput: Samples = {config: {view: [] for view in VIEWS} for config in NAMES}
    with tempfile.TemporaryDirectory(prefix="dcm_otel_bench-") as tmp:
        database = Path(tmp) / "bench.sqlite3"
        _python(_env(database), "-m", "benchmarks.prepare")
        for index in range(args.rounds):
            for config in _order(index):
                out = _python(
                    _env(database, config), "-m", "benchmarks.inprocess", config, str(args.requests)
                )
                for view, value in json.loads(out).items():
                    inprocess[config][view].append(value)
            print(f"in-process round {index + 1}/{args.rounds} done", file=sys.stderr, flush=True)
        if args.http_rounds and shutil.which(http.WRK):
            for index in range(args.http_rounds):
                for config in _order(index):
                    rates = http.throughput(_env(database, config), VIEWS, args.http_seconds)
                    for view, value in rates.items():
                        throughput[config][view].append(value)
                print(f"http round {index + 1}/{args.http_rounds} done", file=sys.stderr, flush=True)
    print(report.render(inprocess, throughput, args), flush=True)
    if args.asgi_rounds and shutil.which(http.WRK):
        print("\n" + asgi.section(args.asgi_rounds, args.http_seconds), flush=True)
    if args.docker_calls:
        print("\n" + extras.docker_section(args.docker_calls), flush=True)
    if args.queue_jobs:
        print("\n" + extras.queue_section(args.queue_jobs), flush=True)
    if args.log_records:
        print("\n" + extras.logs_section(args.log_records), flush=True)


if __name__ == "__main__":
    main()
