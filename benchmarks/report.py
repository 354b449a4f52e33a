"""The results tables and the bars (issues 3 and 17): with telemetry exported, D's added cost on the trivial
view is at most B's and on the 5-query view at most half of C's, in wall time and in process CPU time; under
gunicorn D serves at least 0.8 x A's trivial requests per second."""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Callable, Mapping
from statistics import median

from benchmarks.configs import NAMES
from benchmarks.paths import QUERIES, TRIVIAL

#: samples[config][view][metric] -> one value per round; metrics as benchmarks.inprocess prints them.
Samples = dict[str, dict[str, dict[str, list[float]]]]
THROUGHPUT_BAR = 0.8
MODES = {
    "otlp": "exported over OTLP/HTTP to {receiver}",
    "discard": "C and D into exporters that discard, logs not exported (the method before issue 17)",
}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    return f"machine: {os.cpu_count()} CPUs, {_cpu_model()}, Python {platform.python_version()}"


def header(args: argparse.Namespace) -> str:
    return "\n".join(
        [
            machine(),
            f"in-process: Django WSGIHandler, median of {args.rounds} rounds x {args.requests} requests per"
            " view; CPU = process CPU time from the loop's start to the end of the providers' force_flush",
        ]
    )


def medians(samples: Samples) -> dict[str, dict[str, dict[str, float]]]:
    return {
        c: {v: {m: median(xs) for m, xs in ms.items()} for v, ms in views.items()}
        for c, views in samples.items()
    }


def config_labels(names: Mapping[str, str]) -> dict[str, str]:
    """Each configuration's row label: its letter and name."""
    return {config: f"{config} {name}" for config, name in names.items()}


def view_table(heading: str, rows: Mapping[str, str], cells: Callable[[str, str], list[str]]) -> list[str]:
    """A Markdown table under the header row ``heading``: a row per key of ``rows`` (its label first), then
    ``cells(key, view)`` for the trivial view and for the 5-query view."""
    lines = [heading, "|---" * (heading.count("|") - 1) + "|"]
    for key, label in rows.items():
        lines.append("| " + " | ".join([label, *cells(key, TRIVIAL), *cells(key, QUERIES)]) + " |")
    return lines


def inprocess_table(samples: Samples, mode: str, receiver: str) -> str:
    us = medians(samples)

    def added(config: str, view: str, metric: str) -> float:
        return us[config][view][metric] - us["A"][view][metric]

    def cells(config: str, view: str) -> list[str]:
        row = us[config][view]
        return [
            f"{row['wall_us']:.0f}",
            f"{added(config, view, 'wall_us'):+.0f}",
            f"{row['cpu_us']:.0f}",
            f"{added(config, view, 'cpu_us'):+.0f}",
            f"{row['cpu_us'] - row['request_cpu_us']:.0f}",
        ]

    lines = [
        f"in-process, telemetry {MODES[mode].format(receiver=receiver)}:",
        "",
        *view_table(
            "| config | trivial wall µs | +µs | trivial CPU µs | +µs | of which other threads "
            "| 5-query wall µs | +µs | 5-query CPU µs | +µs | of which other threads |",
            config_labels(NAMES),
            cells,
        ),
        "",
    ]
    for metric, label in (("wall_us", "wall"), ("cpu_us", "CPU")):
        trivial = added("D", TRIVIAL, metric) / added("B", TRIVIAL, metric)
        queries = added("D", QUERIES, metric) / added("C", QUERIES, metric)
        lines += [
            _ratio_line(f"{mode}, {label}: trivial view D added / B added", trivial, 1.0),
            _ratio_line(f"{mode}, {label}: 5-query view D added / C added", queries, 0.5),
        ]
    return "\n".join(lines)


def http_table(served: Samples, args: argparse.Namespace, receiver: str) -> str:
    """Throughput and the worker's CPU time per request; the bar on throughput, and the same ratio from
    the CPU times (A's / D's), which a sync worker's throughput follows when the CPUs are not shared."""
    figures = medians(served)

    def cells(config: str, view: str) -> list[str]:
        row = figures[config][view]
        rate = row["rps"] / figures["A"][view]["rps"]
        return [f"{row['rps']:.0f}", f"{rate:.2f}", f"{row['worker_cpu_us']:.0f}"]

    lines = [
        f"http: gunicorn 1 sync worker + wrk -t1 -c2, median of {args.http_rounds} rounds x"
        f" {args.http_seconds:g} s, C and D exporting to {receiver}",
        "",
        *view_table(
            "| config | trivial req/s | x A | worker CPU µs/req | 5-query req/s | x A | worker CPU µs/req |",
            config_labels(NAMES),
            cells,
        ),
    ]
    a, d = figures["A"][TRIVIAL], figures["D"][TRIVIAL]
    lines += [
        "",
        _floor_line("http: trivial view D / A throughput", d["rps"] / a["rps"]),
        _floor_line(
            "http: trivial view A / D worker CPU per request", a["worker_cpu_us"] / d["worker_cpu_us"]
        ),
    ]
    return "\n".join(lines)


def _floor_line(label: str, ratio: float) -> str:
    verdict = "met" if ratio >= THROUGHPUT_BAR else "NOT met"
    return f"{label} = {ratio:.2f} (bar >= {THROUGHPUT_BAR}: {verdict})"


def _ratio_line(label: str, ratio: float, budget: float) -> str:
    verdict = "met" if ratio <= budget else "NOT met"
    return f"{label} = {ratio:.2f} (budget <= {budget:.2f}: {verdict})"
