"""One process of the multiprocess tests: records known figures into a shared directory, then exits (its
final snapshot is written at exit) or, with ``hold``, stays alive until its stdin closes.

Usage: python recorder.py DIRECTORY COUNT [hold] [bounds=1,2,3]
"""

from __future__ import annotations

import sys

from opentelemetry.sdk.metrics import MeterProvider

from dcm_otel.prometheus import PrometheusEndpoint


def main(directory: str, count: int, options: list[str]) -> None:
    endpoint = PrometheusEndpoint(directory, write_interval=0.1)
    provider = MeterProvider(metric_readers=[endpoint.reader])
    meter = provider.get_meter("recorder", "1.0")
    bounds = [float(b) for option in options if option.startswith("bounds=") for b in option[7:].split(",")]
    meter.create_counter("jobs", description="Jobs done").add(count, {"queue": "default"})
    histogram = meter.create_histogram(
        "job.duration", unit="s", explicit_bucket_boundaries_advisory=bounds or None
    )
    histogram.record(count / 10)
    meter.create_up_down_counter("jobs.running").add(1)
    meter.create_gauge("queue.depth").set(count)
    if "hold" in options:
        endpoint.write_snapshot()
        print("ready", flush=True)
        sys.stdin.readline()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
