"""The span processor that keeps recent traces in the app's database, for the trace explorer.

The request or job that ends a span pays for one ``put_nowait`` on a bounded queue; a daemon thread turns
spans into masked rows, writes them in batches on its own database connection with instrumentation
suppressed (our inserts never make spans of their own), then deletes the oldest traces beyond
``trace_explorer_max_traces`` and ``trace_explorer_max_bytes``. A full queue drops the span and counts it;
a failing database is logged once and never reaches the caller.

Whether to keep anything is decided at the first span after Django's apps are ready: ``trace_explorer``,
else ``settings.DEBUG``, and only with ``"dcm_otel"`` in INSTALLED_APPS (the tables are its migration).
Until then, and when off, a span costs this processor one attribute check.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from dcm_otel import handover
from dcm_otel._sdk.span_chain import reads_only
from dcm_otel.config import Config
from dcm_otel.logs.redaction import Redactor

logger = logging.getLogger("dcm_otel.trace_explorer")

DROPPED = "dcm.trace_explorer.dropped"
REASON = "dcm.trace_explorer.reason"  # queue_full (the writer lags), store_failed (the database refused)
MAX_QUEUE = 4096
MAX_BATCH = 512
DELETE_CHUNK = 500  # trace ids per DELETE (SQLite's limit on query parameters is 999 on old builds)


@dataclass(frozen=True)
class LogEntry:
    """A log record made inside a sampled span, as the logging handler saw it (masked by the writer)."""

    trace_id: int
    span_id: int
    time_ns: int
    level: str
    logger: str
    message: str


@reads_only
class TraceStore(SpanProcessor):
    def __init__(self, config: Config | None = None, debug: Callable[[], bool] | None = None) -> None:
        """``config`` None: the one the runtime handed over, read when deciding (so that ``DCM_OTEL``
        applies under ``opentelemetry-instrument`` too, whose providers exist before the settings)."""
        self._config = config
        self._debug = debug or _django_debug
        self._apply(config or Config())
        self.enabled: bool | None = None  # undecided until Django's apps are ready
        self.dropped = 0  # spans and log records the full queue refused
        self.failures = 0  # batches the database refused
        self.lost = 0  # spans and log records of those batches
        self._queue: queue.Queue[ReadableSpan | LogEntry | None] = queue.Queue(MAX_QUEUE)
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()

    # ---- the caller's side: cheap, never raising, never blocking

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self.enabled is None:  # decided at the first span, so that its log records are kept too
            self._decide()

    def on_end(self, span: ReadableSpan) -> None:
        if self.enabled is False or (self.enabled is None and not self._decide()):
            return
        if span.context is not None and span.context.trace_flags.sampled:
            self._put(span)

    def keep_log(self, entry: LogEntry) -> None:
        if self.enabled:
            self._put(entry)

    def _put(self, item: ReadableSpan | LogEntry) -> None:
        if self._pid != os.getpid():
            self._start_writer()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                logger.warning(
                    "dcm_otel: the trace explorer's queue is full (%d spans); spans are dropped", MAX_QUEUE
                )

    def _apply(self, config: Config) -> None:
        self.max_traces = config.trace_explorer_max_traces
        self.max_bytes = config.trace_explorer_max_bytes
        self._wanted = config.trace_explorer
        self._redactor = Redactor(config.redact_keys)

    def _decide(self) -> bool:
        """Never raises into the span's caller: a decision that fails is off, said once."""
        try:
            return self._decided()
        except Exception:
            logger.exception("dcm_otel: the trace explorer could not start; it stays off in this process")
            self.enabled = False
            return False

    def _decided(self) -> bool:
        from django.apps import apps

        if not apps.ready:  # a span before Django is set up: not kept, the decision waits
            return False
        with self._lock:
            if self.enabled is None:
                self._apply(self._config or handover.config())
                wanted = self._debug() if self._wanted is None else self._wanted
                if wanted and not apps.is_installed("dcm_otel"):
                    # Asked for: a warning. Only by DEBUG (the one-line adoption has no app): said quietly.
                    logger.log(
                        logging.WARNING if self._wanted else logging.INFO,
                        "dcm_otel: the trace explorer keeps traces in the app's database: add 'dcm_otel' "
                        "to INSTALLED_APPS and run migrate, or set DCM_OTEL['trace_explorer'] = False",
                    )
                    wanted = False
                if wanted:
                    from .log_capture import capture_logs

                    capture_logs(self)
                    metrics.get_meter(__name__).create_observable_counter(
                        DROPPED,
                        callbacks=[self._observe_dropped],
                        unit="{item}",
                        description="Spans and log records the trace explorer did not keep.",
                    )
                self.enabled = wanted
        return self.enabled

    def _observe_dropped(self, options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(self.dropped, {REASON: "queue_full"})
        yield Observation(self.lost, {REASON: "store_failed"})

    def _start_writer(self) -> None:
        """The writer of this process: started at the first span, again in a forked child (no thread)."""
        with self._lock:
            if self._pid == os.getpid():
                return
            self._queue = queue.Queue(MAX_QUEUE)
            self._thread = threading.Thread(target=self._run, name="dcm_otel-trace-explorer", daemon=True)
            self._pid = os.getpid()
            self._thread.start()

    # ---- the writer thread

    def _run(self) -> None:
        with suppress_instrumentation():  # this thread's context: none of its queries makes a span
            while True:
                batch = [self._queue.get()]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                items = [item for item in batch if item is not None]
                try:
                    if items:
                        self.write(items)
                except Exception:
                    self.lost += len(items)
                    self._failed()
                finally:
                    for _ in batch:
                        self._queue.task_done()
                if len(items) < len(batch):  # shutdown
                    return

    def _failed(self) -> None:
        """Said once: a missing table (spans of ``migrate`` itself, before it creates it) at INFO, any
        other error with its traceback."""
        from django.db import connections

        from .database import explorer_database
        from .models import TraceSpan

        self.failures += 1
        if self.failures == 1:
            try:
                connection = connections[explorer_database()]
                missing = TraceSpan._meta.db_table not in connection.introspection.table_names()
            except Exception:
                missing = False
            if missing:
                logger.info("dcm_otel: the trace explorer's tables do not exist (yet): run manage.py migrate")
            else:
                logger.exception("dcm_otel: the trace explorer could not store spans (logged once)")
        for connection in connections.all(initialized_only=True):
            connection.close()  # a broken connection is not reused; the next batch opens another

    def write(self, items: Iterable[ReadableSpan | LogEntry]) -> None:
        """Store the items but idle processor polls and background calls, then delete the oldest traces beyond
        the bounds."""
        from .database import explorer_database
        from .models import TraceLog, TraceSpan
        from .records import background_call, idle_poll, log_row, span_row

        spans, logs, idle = [], [], set()
        for item in items:
            if isinstance(item, LogEntry):
                logs.append(log_row(**vars(item), redactor=self._redactor))
            elif idle_poll(item) or background_call(item):
                idle.add(f"{item.context.trace_id:032x}")
            else:
                spans.append(span_row(item, self._redactor))
        database = explorer_database()
        TraceSpan.objects.using(database).bulk_create(s for s in spans if s.trace_id not in idle)
        TraceLog.objects.using(database).bulk_create(log for log in logs if log.trace_id not in idle)
        self._delete(database, list(idle))  # the poll's queries, kept before the poll itself ended
        self.trim(database)

    def trim(self, database: str) -> None:
        """Keep the newest traces (by start) while both bounds hold; delete every older one."""
        from django.db.models import Min, Sum

        from .models import TraceLog, TraceSpan

        sizes: dict[str, list[Any]] = {}
        for model, start in ((TraceSpan, "start_ns"), (TraceLog, "time_ns")):
            rows = (
                model.objects.using(database)
                .values_list("trace_id")
                .annotate(Min(start), Sum("size"))
                .order_by()
            )
            for trace_id, first, size in rows:
                known = sizes.setdefault(trace_id, [first, 0])
                known[0] = min(known[0], first)
                known[1] += size
        count, total = 0, 0
        victims: list[str] = []
        for trace_id, (_, size) in sorted(sizes.items(), key=lambda item: item[1][0], reverse=True):
            count, total = count + 1, total + size
            if victims or count > self.max_traces or total > self.max_bytes:
                victims.append(trace_id)
        self._delete(database, victims)

    def _delete(self, database: str, trace_ids: list[str]) -> None:
        from .models import TraceLog, TraceSpan

        for offset in range(0, len(trace_ids), DELETE_CHUNK):
            chunk = trace_ids[offset : offset + DELETE_CHUNK]
            TraceSpan.objects.using(database).filter(trace_id__in=chunk).delete()
            TraceLog.objects.using(database).filter(trace_id__in=chunk).delete()

    # ---- the provider's side

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        deadline = time.monotonic() + timeout_millis / 1000
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def shutdown(self) -> None:
        if self._thread is not None and self._pid == os.getpid():
            try:
                self._queue.put(None, timeout=1)
            except queue.Full:
                return
            self._thread.join(1)


def _django_debug() -> bool:
    from django.conf import settings

    return bool(settings.DEBUG)


def current_span_ids() -> tuple[int, int] | None:
    """The trace and span ids of the current sampled span, for a log record made inside it."""
    context = trace.get_current_span().get_span_context()
    return (context.trace_id, context.span_id) if context.trace_flags.sampled else None
