"""A bounded buffer of already-encoded OTLP items (spans), shipped in large batches by one daemon thread.

The SDK's ``BatchSpanProcessor`` keeps the ``Span`` objects until its worker exports them: a span that waits
a few young-generation collections is promoted and makes the old generation's full collections expensive,
which is why dcm_otel shipped 64-span batches, one HTTP POST each (docs/benchmarks.md, "OTLP encoding").
Here each item is encoded when it ends, so the object dies young, and only its bytes wait: grouped by
resource and scope (:class:`~dcm_otel.export.otlp_wire.Groups`), in batches bounded in items and bytes,
behind a queue bounded in items and bytes. ``add`` never blocks on the exporter and never raises; what does
not fit is dropped and counted, with one warning per process.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from dcm_otel._sdk.processor_metrics import ProcessorMetrics
from dcm_otel.export.otlp_wire import Groups

# The OTLP exporters' logger: the logs bridge leaves it out, so a warning about a full log queue is not
# exported into that queue (dcm_otel.providers._NotFromExporters).
logger = logging.getLogger("opentelemetry.exporter.otlp.proto.http")

#: A request stays well under the Collector's default 4 MiB limit for a received message.
BATCH_BYTES = 1 << 20
#: Beside the item count (``OTEL_BSP_MAX_QUEUE_SIZE``): a few huge items cannot hold much memory either.
QUEUE_BYTES = 16 << 20


@dataclass(frozen=True)
class BatchLimits:
    """The SDK batch processor's settings (seconds, items), plus byte bounds."""

    schedule_delay: float
    max_queue_size: int
    max_export_batch_size: int
    export_timeout: float
    max_batch_bytes: int = BATCH_BYTES
    max_queue_bytes: int = QUEUE_BYTES


@dataclass
class _Batch:
    groups: Groups
    items: int = 0
    size: int = 0


Send = Callable[[int, Groups], object]


class EncodedBatches:
    """Encoded items waiting for ``send(count, groups)``, which the worker thread calls once per batch;
    ``queue_setting`` names the variable that sets the queue's size, for the warning; ``metrics`` counts
    as the SDK's batch processor does (items handed to the exporter, dropped, queued)."""

    def __init__(
        self, what: str, limits: BatchLimits, send: Send, queue_setting: str, metrics: ProcessorMetrics
    ) -> None:
        self._what = what
        self._metrics = metrics
        self._queue_setting = queue_setting
        self._limits = limits
        self._send = send
        self.dropped = 0
        self._warned = False
        self._stopping = False
        self._start()
        reinit = weakref.WeakMethod(self._start)

        def after_fork_in_child() -> None:  # the SDK's way: the parent's thread and items stay there
            if (start := reinit()) is not None:
                start()

        os.register_at_fork(after_in_child=after_fork_in_child)
        metrics.register_queue_size(lambda: self._queued)

    def _start(self) -> None:
        """An empty buffer and a worker thread (again in a forked child, unless stopped before the fork)."""
        # ``add`` takes the plain lock (a C call); the worker and flushes wait on the condition built on it.
        self._mutex = threading.Lock()
        self._lock = threading.Condition(self._mutex)
        self._open = _Batch(Groups())
        self._full: list[_Batch] = []
        self._queued = self._queued_bytes = 0
        self._flush_wanted = self._flushed = 0
        self._worker = threading.Thread(target=self._work, name=f"dcm_otel-{self._what}-export", daemon=True)
        if not self._stopping:
            self._worker.start()

    def add(self, resource: Resource, scope: InstrumentationScope | None, encoded: bytes) -> None:
        size = len(encoded)
        limits = self._limits
        with self._mutex:
            if self._stopping:
                self._metrics.drop_items(1, "already_shutdown")
                return
            if self._queued >= limits.max_queue_size or self._queued_bytes + size > limits.max_queue_bytes:
                self.dropped += 1
                self._metrics.drop_items(1)
                warn, self._warned = not self._warned, True
            else:
                warn = False
                self._queued += 1
                self._queued_bytes += size
                batch = self._open
                batch.groups.add(resource, scope, encoded)
                batch.items += 1
                batch.size += size
                if batch.items >= limits.max_export_batch_size or batch.size >= limits.max_batch_bytes:
                    self._seal()
                    self._lock.notify()
        if warn:
            self.drop_warning("the export queue is full")

    def drop(self, reason: str) -> None:
        """Count an item that could not be added (it failed to encode), warning once."""
        with self._lock:
            self.dropped += 1
            warn, self._warned = not self._warned, True
        if warn:
            self.drop_warning(reason)

    def drop_warning(self, reason: str) -> None:
        logger.warning(
            "dcm_otel: dropping %s: %s (%d %s or %d bytes queued at most; %s); "
            "this is said once, the count is in the processor's `dropped`",
            self._what,
            reason,
            self._limits.max_queue_size,
            self._what,
            self._limits.max_queue_bytes,
            self._queue_setting,
        )

    def _seal(self) -> None:
        """Close the open batch (the lock held)."""
        self._full.append(self._open)
        self._open = _Batch(Groups())

    def _work(self) -> None:
        lock = self._lock
        while True:
            with lock:
                timed_out = False
                if not (self._full or self._stopping or self._flush_wanted > self._flushed):
                    timed_out = not lock.wait(self._limits.schedule_delay)
                flush, stopping = self._flush_wanted, self._stopping
                if (timed_out or stopping or flush > self._flushed) and self._open.items:
                    self._seal()
                batches, self._full = self._full, []
            for batch in batches:
                with lock:  # out of the queue once handed over, as the SDK counts (one batch in flight)
                    self._queued -= batch.items
                    self._queued_bytes -= batch.size
                self._metrics.finish_items(batch.items)
                self._ship(batch)
            with lock:
                self._flushed = flush
                lock.notify_all()
            if stopping:
                return

    def _ship(self, batch: _Batch) -> None:
        try:
            with suppress_instrumentation():  # the POST itself must not be traced
                self._send(batch.items, batch.groups)
        except Exception:
            logger.exception("dcm_otel: exporting %d %s failed", batch.items, self._what)

    def force_flush(self, timeout: float) -> bool:
        """Whether everything added before the call was handed to ``send`` within ``timeout`` seconds."""
        with self._lock:
            if self._stopping or not self._worker.is_alive():
                return False
            self._flush_wanted += 1
            wanted = self._flush_wanted
            self._lock.notify()
            return self._lock.wait_for(lambda: self._flushed >= wanted, timeout)

    def shutdown(self, timeout: float) -> bool:
        """Stop taking items and ship what is buffered, within ``timeout`` seconds (past it, the daemon thread
        goes on until the exporter, shut down next, refuses); False when already stopped."""
        with self._lock:
            if self._stopping:
                return False
            self._stopping = True
            self._lock.notify()
        if self._worker.is_alive():
            self._worker.join(timeout)
        return True
