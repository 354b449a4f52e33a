"""``python -m benchmarks``: every configuration in a fresh subprocess per round, rounds interleaved,
medians reported as a table per mode (telemetry exported over OTLP to a receiver process, or discarded)
with the ratios the overhead budget is about, then gunicorn's throughput with export on; then the Docker SDK
instrumentation's cost per call, the queue gauges' collection time and the cost of a log record
(:mod:`benchmarks.extras`), the profiler's (:mod:`benchmarks.profiles`) and the trace explorer's."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TypeVar

from benchmarks import asgi, breakdown, extras, http, queue, report
from benchmarks.configs import DCM_OTEL_OVERRIDES, NAMES, OTLP_ENDPOINT
from benchmarks.paths import VIEWS
from benchmarks.receiver import Receiver, otlp_receiver
from benchmarks.report import Samples

T = TypeVar("T")


def bench_env(database: Path, config: str = "A") -> dict[str, str]:
    """The environment of a benchmark subprocess: no OTEL_* or DCM_OTEL_* of the caller, the configuration
    and the database named."""
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


def _jobs(modes: Sequence[str]) -> list[tuple[str, str]]:
    """(configuration, mode) per measurement of a round: A and B export nothing, so they run once and
    serve as the baseline of every mode's table."""
    return [("A", modes[0]), ("B", modes[0])] + [(config, mode) for mode in modes for config in "CD"]


def _order(jobs: Sequence[T], round_index: int) -> list[T]:
    """``jobs`` rotated by one each round, so no configuration always runs first or last."""
    shift = round_index % len(jobs)
    return [*jobs[shift:], *jobs[:shift]]


def _mode_env(env: dict[str, str], mode: str, receiver: Receiver | None) -> dict[str, str]:
    if mode == "otlp" and receiver is not None:
        return {**env, OTLP_ENDPOINT: receiver.endpoint}
    return env


def _inprocess(env: dict[str, str], config: str, requests: int) -> dict[str, dict[str, float]]:
    """{view: {metric: value}} of one configuration in a fresh process."""
    measured: dict[str, dict[str, float]] = json.loads(
        _python(env, "-m", "benchmarks.inprocess", config, str(requests))
    )
    return measured


def _add(into: dict[str, dict[str, list[float]]], measured: dict[str, dict[str, float]]) -> None:
    for view, metrics in measured.items():
        for metric, value in metrics.items():
            into.setdefault(view, {}).setdefault(metric, []).append(value)


def _tables(
    args: argparse.Namespace, modes: Sequence[str], database: Path, receiver: Receiver | None
) -> None:
    """The in-process table of every mode and the HTTP table (with export on)."""
    where = receiver.description if receiver is not None else "-"
    samples: dict[str, Samples] = {mode: {config: {} for config in NAMES} for mode in modes}
    for index in range(args.rounds):
        for config, mode in _order(_jobs(modes), index):
            measured = _inprocess(
                _mode_env(bench_env(database, config), mode, receiver), config, args.requests
            )
            for shared in modes if config in "AB" else [mode]:
                _add(samples[shared][config], measured)
        print(f"in-process round {index + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    served: Samples = {config: {} for config in NAMES}
    if args.http_rounds and shutil.which(http.WRK):
        for index in range(args.http_rounds):
            for config in _order(sorted(NAMES), index):
                env = _mode_env(bench_env(database, config), "otlp", receiver)
                _add(served[config], http.throughput(env, VIEWS, args.http_seconds))
            print(f"http round {index + 1}/{args.http_rounds} done", file=sys.stderr, flush=True)
    print(report.header(args), flush=True)
    for mode in modes:
        print("\n" + report.inprocess_table(samples[mode], mode, where), flush=True)
    if served["A"]:
        print("\n" + report.http_table(served, args, where), flush=True)


def _breakdown(args: argparse.Namespace, database: Path, receiver: Receiver) -> None:
    samples: Samples = {name: {} for name in (breakdown.BASELINE, *breakdown.VARIANTS)}
    for index in range(args.rounds):
        for name in _order(list(samples), index):
            config = "D" if name in breakdown.VARIANTS else "A"
            env = _mode_env(bench_env(database, config), "otlp", receiver)
            env[DCM_OTEL_OVERRIDES] = json.dumps(breakdown.VARIANTS.get(name, {}))
            _add(samples[name], _inprocess(env, config, args.requests))
        print(f"breakdown round {index + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(report.header(args) + "\n\n" + breakdown.table(samples, receiver.description), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="in-process rounds (median reported)")
    parser.add_argument("--requests", type=int, default=3000, help="requests per view per round")
    parser.add_argument(
        "--modes",
        default="otlp,discard",
        help="comma-separated: otlp (C and D export to a receiver process), discard (their exporters"
        " discard); each gets its own table, A and B are shared",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="instead of everything else: D's added cost per exported signal, request vs other threads",
    )
    parser.add_argument("--http-rounds", type=int, default=3, help="gunicorn + wrk rounds; 0 skips them")
    parser.add_argument("--asgi-rounds", type=int, default=3, help="uvicorn + wrk rounds; 0 skips them")
    parser.add_argument("--http-seconds", type=int, default=3, help="wrk duration per view (whole seconds)")
    parser.add_argument("--docker-calls", type=int, default=3000, help="Docker calls per side; 0 skips them")
    parser.add_argument("--queue-jobs", type=int, default=queue.JOBS, help="queue-gauge jobs; 0 skips them")
    parser.add_argument("--log-records", type=int, default=20000, help="log records per step; 0 skips them")
    parser.add_argument(
        "--trace-store-rounds", type=int, default=5, help="trace explorer storage rounds; 0 skips them"
    )
    parser.add_argument("--profile-rounds", type=int, default=3, help="profiler rounds; 0 skips them")
    args = parser.parse_args()
    modes = [mode for mode in dict.fromkeys(args.modes.split(",")) if mode]
    if not modes or not set(modes) <= set(report.MODES):
        parser.error(f"--modes: a comma-separated list of {', '.join(report.MODES)}, not {args.modes!r}")

    with ExitStack() as stack:
        database = (
            Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dcm_otel_bench-"))) / "bench.sqlite3"
        )
        exporting = args.breakdown or "otlp" in modes or args.http_rounds > 0
        receiver = stack.enter_context(otlp_receiver()) if exporting else None
        _python(bench_env(database), "-m", "benchmarks.prepare")
        if args.breakdown:
            assert receiver is not None
            _breakdown(args, database, receiver)
            return
        _tables(args, modes, database, receiver)
        if args.asgi_rounds and shutil.which(http.WRK):
            endpoint = receiver.endpoint if receiver is not None and "otlp" in modes else None
            print("\n" + asgi.section(args.asgi_rounds, args.http_seconds, endpoint), flush=True)
        if args.profile_rounds:
            rounds = str(args.profile_rounds)
            env = bench_env(database, "D")
            print("\n" + _python(env, "-m", "benchmarks.profiles", "--rounds", rounds), flush=True)
    if args.docker_calls:
        print("\n" + extras.docker_section(args.docker_calls), flush=True)
    if args.queue_jobs:
        print("\n" + extras.queue_section(args.queue_jobs), flush=True)
    if args.log_records:
        print("\n" + extras.logs_section(args.log_records), flush=True)
    if args.trace_store_rounds:
        rounds = str(args.trace_store_rounds)
        print(
            "\n" + _python(dict(os.environ), "-m", "benchmarks.trace_store", "--rounds", rounds), flush=True
        )


if __name__ == "__main__":
    main()
