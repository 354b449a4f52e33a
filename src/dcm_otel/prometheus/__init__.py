"""Prometheus metrics served from the application's own ``/metrics`` view, for one process or for all the
workers of a pre-forking server (gunicorn ``-w N``), whichever worker the scrape lands on.

The OpenTelemetry ``PrometheusMetricReader`` knows one process only (opentelemetry-python#3747). Here each
process writes its cumulative figures to ``<multiprocess_dir>/<pid>-<start>.json`` about once a second and
at exit; a scrape adds the other processes' files to its own fresh figures: counters and histograms from
every process that ever ran (finished ones folded into ``archive.json``), up-down counters and gauges from
live ones only. The text is produced by ``opentelemetry-exporter-prometheus``'s own translation.

A scrape costs the single-process exposition plus one file read per other process; finished processes are
folded into one archive file so that cost does not grow with restarts (figures in docs/benchmarks.md).

Scrape much less often than ``write_interval`` (1 s by default): a scrape sees the other workers as of their
last write, and two scrapes closer than that could see a counter step back.

Under gunicorn: ``PrometheusEndpoint(default_multiprocess_dir())`` in each worker (or in the master with
``--preload``: the endpoint follows forks), and in the gunicorn config file::

    def on_starting(server):
        prepare_multiprocess_dir(default_multiprocess_dir())

    def on_exit(server):
        remove_multiprocess_dir(default_multiprocess_dir())
"""

from dcm_otel.prometheus._directory import (
    default_multiprocess_dir,
    prepare_multiprocess_dir,
    remove_multiprocess_dir,
)
from dcm_otel.prometheus._endpoint import PrometheusEndpoint

__all__ = [
    "PrometheusEndpoint",
    "default_multiprocess_dir",
    "prepare_multiprocess_dir",
    "remove_multiprocess_dir",
]
