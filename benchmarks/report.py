"""The results table and the two budget ratios (issue 3): D's added cost on the trivial view is at most
B's, and on the 5-query view at most half of C's."""

from __future__ import annotations

import argparse
import os
import platform
from statistics import median

from benchmarks.configs import NAMES
from benchmarks.paths import QUERIES, TRIVIAL

Samples = dict[str, dict[str, list[float]]]


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


def _medians(samples: Samples) -> dict[str, dict[str, float]]:
    return {c: {v: median(values) for v, values in views.items() if values} for c, views in samples.items()}


def render(inprocess: Samples, throughput: Samples, args: argparse.Namespace) -> str:
    us = _medians(inprocess)
    rps = _medians(throughput)
    base = us["A"]
    lines = [
        machine(),
        f"in-process: Django WSGIHandler, median of {args.rounds} rounds x {args.requests}"
        f" requests per view; http: gunicorn 1 sync worker + wrk -t1 -c2, median of {args.http_rounds}"
        f" rounds x {args.http_seconds:g} s",
        "",
        "| config | trivial us/req | x A | +us | 5-query us/req | x A | +us "
        "| trivial req/s | 5-query req/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for config, name in NAMES.items():
        cells = [f"{config} {name}"]
        for view in (TRIVIAL, QUERIES):
            value = us[config][view]
            cells += [f"{value:.0f}", f"{value / base[view]:.2f}", f"{value - base[view]:+.0f}"]
        cells += [f"{rps[config][view]:.0f}" if view in rps[config] else "-" for view in (TRIVIAL, QUERIES)]
        lines.append("| " + " | ".join(cells) + " |")

    def added(config: str, view: str) -> float:
        return us[config][view] - base[view]

    trivial = added("D", TRIVIAL) / added("B", TRIVIAL)
    queries = added("D", QUERIES) / added("C", QUERIES)
    lines += [
        "",
        _ratio_line("trivial view: D added / B added", trivial, 1.0),
        _ratio_line("5-query view: D added / C added", queries, 0.5),
    ]
    return "\n".join(lines)


def _ratio_line(label: str, ratio: float, budget: float) -> str:
    verdict = "met" if ratio <= budget else "NOT met"
    return f"{label} = {ratio:.2f} (budget <= {budget:.2f}: {verdict})"
