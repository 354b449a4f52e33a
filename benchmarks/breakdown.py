"""``python -m benchmarks --breakdown``: where D's added cost goes with export on, by switching one signal's
export off at a time. Each variant is configuration D in a fresh process, in the same interleaved rounds
as A; the table splits each added cost into the request thread's CPU and the other threads' (the batch
processors' and metric reader's export threads, the final flush).

"nothing exported" is the in-request cost of making the telemetry (spans, points, no log bridge); each
"only" row minus that row is what exporting that one signal adds.
"""

from __future__ import annotations

from benchmarks.report import Samples, medians, view_table

_OFF = "none"
VARIANTS: dict[str, dict[str, str]] = {
    "all three signals exported": {},
    "traces only": {"metrics_exporter": _OFF, "logs_exporter": _OFF},
    "metrics only": {"traces_exporter": _OFF, "logs_exporter": _OFF},
    "logs only": {"traces_exporter": _OFF, "metrics_exporter": _OFF},
    "nothing exported": {"traces_exporter": _OFF, "metrics_exporter": _OFF, "logs_exporter": _OFF},
}
BASELINE = "A uninstrumented"


def table(samples: Samples, receiver: str) -> str:
    """``samples`` by BASELINE and the VARIANTS' names."""
    us = medians(samples)

    def cells(variant: str, view: str) -> list[str]:
        row, base = us[variant][view], us[BASELINE][view]
        request = row["request_cpu_us"] - base["request_cpu_us"]
        other = (row["cpu_us"] - row["request_cpu_us"]) - (base["cpu_us"] - base["request_cpu_us"])
        return [
            f"{row['wall_us'] - base['wall_us']:+.0f}",
            f"{row['cpu_us'] - base['cpu_us']:+.0f}",
            f"{request:+.0f}",
            f"{other:+.0f}",
        ]

    lines = [
        f"breakdown of D's added cost (µs per request over A), exporting to {receiver}:",
        "",
        *view_table(
            "| D variant | trivial wall | CPU | request thread | other threads "
            "| 5-query wall | CPU | request thread | other threads |",
            {variant: variant for variant in VARIANTS},
            cells,
        ),
    ]
    return "\n".join(lines)
