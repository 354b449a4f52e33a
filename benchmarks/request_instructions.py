"""Instructions per request of each configuration (valgrind callgrind): ``python -m
benchmarks.request_instructions``. The deterministic companion of the in-process table: on a shared machine
the medians move with the neighbours, instruction counts do not, so a change to the hot path is judged here
first and confirmed by a quiet ``nox -s bench``.

Each configuration and view runs in ``python -m benchmarks.request_instructions --serve CONFIG VIEW N``
under callgrind, through the same ``WSGIHandler`` as :mod:`benchmarks.inprocess`: 300 warm-up requests, the
providers flushed, N requests, flushed again (so the export threads' work and the last batches count, every
thread's instructions do), for N = 600 and N = 100; the difference over 500 is one request. The batch
processors' schedule delays and the metric interval are an hour (:data:`NO_CLOCK`). With
``--export`` (the default) C and D send to the receiver of :mod:`benchmarks.receiver` as in the bars'
table; ``--discard`` measures the discarding pipelines instead. ``BENCH_DCM_OTEL`` (a JSON object of
dcm_otel settings) applies to D, as in :mod:`benchmarks.breakdown`; ``--breakdown`` measures A and that
module's variants of D (one signal's export off at a time). ``--l2`` also counts each request's simulated
misses of a 1 MiB L2 (:func:`benchmarks.callgrind.l2_simulation`, about twice as slow): the lines it
brings in from beyond L2, which the instruction count does not price; ``--l2 2`` (4, ...) of a larger L2,
which bounds the request's working set.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from benchmarks import callgrind, configs
from benchmarks.__main__ import bench_env
from benchmarks.breakdown import BASELINE, VARIANTS
from benchmarks.paths import QUERIES, TRIVIAL, VIEWS

COUNTS = (600, 100)
HOUR_MS = str(3600 * 1000)
#: The clock-driven exports out of the count: under valgrind a request is ~100x slower, so a batch sent
#: every second (or a metric collection every minute) would be charged to each request ~100x over; with
#: these, batches leave when they are full and at the final flush, as at the benchmark's real request rates.
NO_CLOCK = {
    "OTEL_BSP_SCHEDULE_DELAY": HOUR_MS,
    "OTEL_BLRP_SCHEDULE_DELAY": HOUR_MS,
    "OTEL_METRIC_EXPORT_INTERVAL": HOUR_MS,
}


def _serve(config: str, view: str, count: int) -> None:
    import django

    from benchmarks.inprocess import WARMUP, Requester

    configs.apply(config)
    django.setup()
    requester = Requester()
    for _ in range(WARMUP):
        if requester.get(view) != 200:
            raise SystemExit(f"{config}: {view} did not answer 200")
    configs.flush()
    for _ in range(count):
        requester.get(view)
    configs.flush()
    sys.stdout.flush()
    os._exit(0)


def per_request(
    config: str, view: str, database: Path, env: dict[str, str], options: tuple[str, ...] = ()
) -> dict[str, int]:
    """Callgrind's events per request of one configuration on one view (``Ir``: instructions)."""
    return callgrind.per_unit_events(
        lambda count: ["-m", "benchmarks.request_instructions", "--serve", config, view, str(count)],
        COUNTS,
        env={**bench_env(database, config), **env},
        options=options,
    )


def _rows(args: argparse.Namespace) -> list[tuple[str, str, dict[str, str]]]:
    """(label, configuration, extra environment) per row: the configurations, or A and D's breakdown
    variants (one signal's export off at a time)."""
    if not args.breakdown:
        return [(f"{config} {configs.NAMES[config]}", config, {}) for config in args.configs]
    variants = [
        (f"D {name}", "D", {configs.DCM_OTEL_OVERRIDES: json.dumps(overrides)})
        for name, overrides in VARIANTS.items()
    ]
    return [(BASELINE, "A", {}), *variants]


def _l2_mebibytes(text: str) -> int:
    """``--l2``'s size, refused at the command line when valgrind could not simulate it."""
    try:
        size = int(text)
        callgrind.l2_simulation(size)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return size


def main() -> None:
    from benchmarks.receiver import otlp_receiver

    parser = argparse.ArgumentParser(prog="python -m benchmarks.request_instructions", description=__doc__)
    parser.add_argument("--serve", nargs=3, metavar=("CONFIG", "VIEW", "COUNT"), help="internal: one run")
    parser.add_argument("--configs", nargs="+", choices=sorted(configs.APPLY), default=sorted(configs.APPLY))
    parser.add_argument("--views", nargs="+", choices=VIEWS, default=[TRIVIAL, QUERIES])
    parser.add_argument("--discard", action="store_true", help="C and D discard instead of exporting")
    parser.add_argument(
        "--breakdown", action="store_true", help="A and D's variants of python -m benchmarks --breakdown"
    )
    parser.add_argument(
        "--l2",
        nargs="?",
        const=1,
        type=_l2_mebibytes,
        metavar="MIB",
        help="also the simulated misses per request of an L2 of MIB MiB (default 1, this CPU's)",
    )
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve[0], args.serve[1], int(args.serve[2]))
    callgrind.require_valgrind()
    rows = _rows(args)
    with ExitStack() as stack:
        database = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dcm_otel_bench-"))) / "db"
        subprocess.run([sys.executable, "-m", "benchmarks.prepare"], env=bench_env(database), check=True)
        env = {k: v for k, v in os.environ.items() if k == configs.DCM_OTEL_OVERRIDES}
        if not args.discard:
            receiver = stack.enter_context(otlp_receiver())
            env.update(NO_CLOCK, **{configs.OTLP_ENDPOINT: receiver.endpoint})
            print(f"exporting to {receiver.description}", flush=True)
        options = callgrind.l2_simulation(args.l2) if args.l2 else ()
        measured = {
            view: [
                per_request(config, view, database, {**env, **extra}, options) for _, config, extra in rows
            ]
            for view in args.views
        }
    labels, relative = [label for label, *_ in rows], rows[0][1] == "A"
    print_table(labels, {view: [row["Ir"] for row in events] for view, events in measured.items()}, relative)
    if args.l2:
        misses = {
            view: [sum(row[name] for name in callgrind.L2_MISSES) for row in events]
            for view, events in measured.items()
        }
        print(f"\nsimulated L2 misses per request ({args.l2} MiB, 8-way):")
        print_table(labels, misses, relative, what="L2 misses")


def print_table(
    labels: list[str], figures: dict[str, list[int]], relative: bool, what: str = "instructions"
) -> None:
    """``figures[view][row]`` (``what`` they count) as a Markdown table; with ``relative``, what each row adds
    to the first (A)."""
    views = list(figures)
    print("| config | " + " | ".join(f"{view} {what} | added" for view in views) + " |")
    print("|---|" + "---|---|" * len(views))
    for index, label in enumerate(labels):
        cells = []
        for view in views:
            value, base = figures[view][index], figures[view][0]
            cells += [f"{value:,}", f"{value - base:+,}" if relative else ""]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
