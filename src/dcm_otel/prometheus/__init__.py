"""Prometheus metrics served from the application's own ``/metrics`` view, for one process or for all the
workers of a pre-forking server (gunicorn ``-w N``), whichever worker the scrape lands on.

The OpenTelemetry ``PrometheusMetricReader`` knows one process only (opentelemetry-python#3747). Here each
process writes its cumulative figures to ``<multiprocess_dir>/<pid>-<start>.json`` about once a second, at
exit, and at every scrape it answers; a scrape then adds up every file: counters and histograms from every
process that ever ran (finished ones folded into ``archive.json``), up-down counters and gauges from live
ones only. The text is produced by ``opentelemetry-exporter-prometheus``'s own translation.

Counters and histogram buckets, counts and sums never step back from one scrape to the next, whichever
workers answer them, at any scrape rate: a scrape shows of each process exactly what that process's file
held when read (its own process: what it has just written), a file is only ever replaced by a later
cumulative snapshot of the same process, and a finished process is folded into the archive from that same
file, under a lock that keeps scrapes from seeing it twice or not at all (``_store``). Float sums are
rounded once, whatever order the processes are added in. What a worker killed with SIGKILL recorded since
its last write is lost (at most ``write_interval``, and never something a scrape already showed); once the
load stops every scrape shows the exact totals within ``write_interval``.

A scrape costs the single-process exposition, one write of its own file, and one file read per other
process; finished processes are folded into one archive file so that cost does not grow with restarts
(figures in docs/benchmarks.md).

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
