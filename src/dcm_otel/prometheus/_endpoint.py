"""The endpoint object: a reader for the provider, a ``render()`` for the metrics view, and in multiprocess
mode the thread that keeps this process's snapshot file current."""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections.abc import Callable

from opentelemetry.sdk.metrics.export import MetricReader, MetricsData

from dcm_otel.prometheus._exposition import encode, negotiate, server_resource
from dcm_otel.prometheus._figures import (
    Figures,
    MetricId,
    figures_from_metrics_data,
    metrics_data_from_figures,
)
from dcm_otel.prometheus._log import logger, warn_once
from dcm_otel.prometheus._merge import subtract_baseline, sum_figures
from dcm_otel.prometheus._reader import CumulativeReader
from dcm_otel.prometheus._store import ProcessIdentity, SnapshotDir


class PrometheusEndpoint:
    """The Prometheus exposition of this process or, with ``multiprocess_dir``, of every process that
    writes to that directory (the workers of one gunicorn server).

    Add :attr:`reader` to the ``MeterProvider`` and call :meth:`render` from the metrics view. In
    multiprocess mode a daemon thread writes this process's cumulative figures to
    ``<multiprocess_dir>/<pid>-<start>.json`` every ``write_interval`` seconds and at shutdown (at
    interpreter exit, or when the provider shuts the reader down). A scrape first writes this process's
    file, then adds up every file: what the others recorded shows up within ``write_interval``, and no
    process's part of a scrape is older than what an earlier scrape showed (the package docstring).
    """

    def __init__(self, multiprocess_dir: str | None, *, write_interval: float = 1.0) -> None:
        if write_interval <= 0:
            raise ValueError(f"write_interval must be positive, got {write_interval!r}")
        self.multiprocess_dir = multiprocess_dir
        self._reader = CumulativeReader(on_shutdown=self.shutdown)
        self.reader: MetricReader = self._reader
        self._directory = SnapshotDir(multiprocess_dir) if multiprocess_dir else None
        self._write_interval = write_interval
        self._io_lock = threading.Lock()  # one snapshot write at a time, and none across a fork
        self._identity = ProcessIdentity.current() if self._directory else ProcessIdentity(os.getpid(), 0)
        self._baseline: Figures = {}  # what a forked child inherited; its parent reports that part
        self._written: Figures = {}  # what this process's file holds: all a scrape may show of it
        self._alive_fd: int | None = None
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self._closed = False
        if multiprocess_dir:
            _make_private_dir(multiprocess_dir)
            self._hold_alive()
            self._start_writer()
        _register_process_hooks(self)

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition body and its content type (text 0.0.4, or OpenMetrics if ``accept`` asks for it).

        Never raises: a failure is logged and gives an empty body, so a scrape cannot break a request.
        """
        encoder, content_type = negotiate(accept)
        try:
            metrics_data = self._metrics_data()
            return (b"" if metrics_data is None else encode(metrics_data, encoder)), content_type
        except Exception:
            warn_once("render", "dcm_otel: cannot render the Prometheus metrics", exc_info=True)
            return b"", content_type

    def write_snapshot(self) -> None:
        """Write this process's figures to its file now (the writer thread does it every interval), then
        fold finished processes' files into the archive. Never raises."""
        if self._directory is None:
            return
        with self._io_lock:
            self._write_own()
            try:
                self._directory.fold_finished(self._identity, self._on_mismatch)
            except Exception as exc:
                warn_once(
                    "fold", "dcm_otel: cannot fold finished processes in %s: %s", self.multiprocess_dir, exc
                )

    def shutdown(self) -> None:
        """Stop the writer thread and write the final snapshot; later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join(timeout=5)
        self.write_snapshot()

    # ---- figures

    def _metrics_data(self) -> MetricsData | None:
        if self._directory is None:
            return self._reader.collect_metrics()
        with self._io_lock:
            own = self._write_own()
            written = self._written
        parts = [(written, True), *self._directory.other_processes(self._identity)]
        figures = sum_figures(parts, self._on_mismatch)
        return metrics_data_from_figures(figures, server_resource(own), time.time_ns())

    def _write_own(self) -> MetricsData | None:
        """Collect and write this process's figures (the caller holds ``_io_lock``, so successive files only
        grow). Only figures that reached the file become ``_written``: a scrape that showed more than the
        file holds could be followed by one from another worker that reads the file and shows less."""
        assert self._directory is not None
        own = None
        try:
            own = self._reader.collect_metrics()
            if own is not None:
                figures = self._own_figures(own)
                self._directory.write(self._identity, figures)
                self._written = figures
        except FileNotFoundError:
            logger.debug("dcm_otel: %s is gone; snapshot not written", self.multiprocess_dir)
        except Exception as exc:
            warn_once(
                "write", "dcm_otel: cannot write the metrics snapshot to %s: %s", self.multiprocess_dir, exc
            )
        return own

    def _own_figures(self, own: MetricsData | None) -> Figures:
        return subtract_baseline(figures_from_metrics_data(own), self._baseline)

    @staticmethod
    def _on_mismatch(metric_id: MetricId) -> None:
        warn_once(
            f"bounds:{metric_id.name}",
            "dcm_otel: histogram %s has different bucket bounds in different processes; "
            "the points whose bounds differ from the first seen are left out",
            metric_id.name,
        )

    # ---- writer thread and process lifecycle

    def _hold_alive(self) -> None:
        """The lock that tells the other processes this one still runs (released by the kernel at exit)."""
        assert self._directory is not None
        try:
            self._alive_fd = self._directory.hold_alive(self._identity)
        except OSError as exc:
            warn_once(
                "alive", "dcm_otel: cannot lock the liveness file in %s: %s", self.multiprocess_dir, exc
            )

    def _start_writer(self) -> None:
        self._stop = threading.Event()
        self._writer = threading.Thread(
            target=self._write_until_stopped,
            args=(self._stop,),
            name="dcm_otel-prometheus-snapshot",
            daemon=True,
        )
        self._writer.start()

    def _write_until_stopped(self, stop: threading.Event) -> None:
        while not stop.wait(self._write_interval):
            self.write_snapshot()

    def _before_fork(self) -> None:
        """Hold our locks across the fork, so the child never inherits a snapshot or collection half done."""
        self._io_lock.acquire()
        self._reader.lock.acquire()

    def _after_fork_in_parent(self) -> None:
        self._reader.lock.release()
        self._io_lock.release()

    def _after_fork_in_child(self) -> None:
        """A new process: new locks, a new file, a new writer thread (threads do not survive a fork), and a
        baseline, since the child's cumulative figures start with what the parent had recorded. The
        parent's liveness descriptor is closed, not unlocked: unlocking would release the parent's lock."""
        self._io_lock = threading.Lock()
        self._reader.lock = threading.Lock()
        if self._alive_fd is not None:
            os.close(self._alive_fd)
            self._alive_fd = None
        if self._directory is None or self._closed:
            return
        self._identity = ProcessIdentity.current()
        self._baseline = {}
        self._written = {}
        self._hold_alive()
        try:
            self._baseline = figures_from_metrics_data(self._reader.collect_metrics())
        except Exception:
            logger.warning("dcm_otel: cannot read the figures inherited at fork", exc_info=True)
        self._start_writer()


def _make_private_dir(path: str) -> None:
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        warn_once(f"mkdir:{path}", "dcm_otel: cannot create the metrics directory %s: %s", path, exc)


def _register_process_hooks(endpoint: PrometheusEndpoint) -> None:
    """Fork and exit hooks that do not keep the endpoint alive."""
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(
            before=_weakly(endpoint._before_fork),
            after_in_parent=_weakly(endpoint._after_fork_in_parent),
            after_in_child=_weakly(endpoint._after_fork_in_child),
        )
    atexit.register(_weakly(endpoint.shutdown))


def _weakly(method: Callable[[], None]) -> Callable[[], None]:
    reference = weakref.WeakMethod(method)

    def call() -> None:
        bound = reference()
        if bound is not None:
            bound()

    return call
