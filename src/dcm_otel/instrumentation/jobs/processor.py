"""The processor (``process_container_jobs``): one span per poll cycle and the time of the last poll.

Legacy mode polls in ``Command._process_single_cycle`` (launch and harvest); queue mode in
``JobQueueManager.launch_next_batch`` (launch only). The figures on the span are the transitions this
instrumentation saw during the cycle, not the command's own return values.

The heartbeat is the Unix time of the last poll, not its age: an age is computed by the process itself, so a
frozen or dead processor would keep reporting the small age it last saw, while a time ages wherever it is
read (Prometheus alerts on ``time() - dcm_processor_last_poll_time_seconds``).

A processor started with ``--host NAME`` (one per Docker host) reports its heartbeat with ``dcm.host.name``:
when it dies, the host it served is named by the series that stopped, even where several processors share
one ``/metrics`` (and one ``instance``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import Status, StatusCode

from dcm_otel._container_manager import JobStatus
from dcm_otel.instrumentation.errors import exception_type, record_exception
from dcm_otel.logs.redaction import Redactor
from dcm_otel.profiling import sampler as profiling

from . import attributes as a

SPAN_NAME = "dcm.processor.poll"


@dataclass
class CycleStats:
    seen: set[str] = field(default_factory=set)
    launched: int = 0
    harvested: int = 0
    failed: int = 0

    def note(self, job_id: str, previous: str | None, status: str) -> None:
        self.seen.add(job_id)
        if status == JobStatus.RUNNING:
            self.launched += 1
        if status in a.RESULTS:
            self.harvested += 1
        if status == JobStatus.FAILED:
            self.failed += 1


_cycle: ContextVar[CycleStats | None] = ContextVar("dcm_otel_job_cycle", default=None)


def note_transition(job_id: str, previous: str | None, status: str) -> None:
    stats = _cycle.get()
    if stats is not None:
        stats.note(job_id, previous, status)


class Processor:
    """Wraps the poll functions; ``on_poll`` runs at the first poll (it switches the queue gauges on),
    ``after_poll`` after each (the heartbeat)."""

    def __init__(
        self,
        tracer: trace.Tracer,
        meter: metrics.Meter,
        on_poll: Callable[[], None],
        after_poll: Callable[[], None],
        redactor: Redactor,
    ) -> None:
        self._tracer = tracer
        self._redactor = redactor
        self._on_poll: Callable[[], None] | None = on_poll
        self._after_poll = after_poll
        self._last_poll: dict[tuple[str, str | None], float] = {}
        self._lock = threading.Lock()
        meter.create_observable_gauge(
            a.LAST_POLL_TIME,
            callbacks=[self._observe],
            unit="s",
            description="Unix time at which this processor last finished a poll cycle; stops when it stalls.",
        )

    def wrapper(self, mode: str) -> Callable[..., Any]:
        def wrap(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
            if _cycle.get() is not None:  # a poll inside a poll: one span is enough
                return wrapped(*args, **kwargs)
            return self._poll(mode, wrapped, args, kwargs)

        return wrap

    def _poll(self, mode: str, wrapped: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        if self._on_poll is not None:
            on_poll, self._on_poll = self._on_poll, None
            on_poll()
        stats = CycleStats()
        token = _cycle.set(stats)
        try:
            with self._tracer.start_as_current_span(
                SPAN_NAME,
                attributes={a.PROCESSOR_MODE: mode},
                record_exception=False,  # the SDK's event has the deprecated exception.escaped
                set_status_on_exception=False,  # its description repeats the exception type
            ) as span:
                try:
                    result = wrapped(*args, **kwargs)
                except Exception as error:
                    span.set_attribute("error.type", exception_type(error))
                    span.set_status(
                        Status(StatusCode.ERROR, record_exception(span, error, self._redactor) or None)
                    )
                    raise
                span.set_attributes({
                    "dcm.processor.jobs.seen": len(stats.seen),
                    "dcm.processor.jobs.launched": stats.launched,
                    "dcm.processor.jobs.harvested": stats.harvested,
                    "dcm.processor.jobs.failed": stats.failed,
                })  # fmt: skip
                return result
        finally:
            _cycle.reset(token)
            with self._lock:
                self._last_poll[mode, _host_filter(args)] = time.time()
            self._after_poll()

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            polls = dict(self._last_poll)
        return [
            Observation(at, {a.PROCESSOR_MODE: mode, **({a.HOST_NAME: host} if host else {})})
            for (mode, host), at in polls.items()
        ]


def _host_filter(args: Any) -> str | None:
    """The ``--host`` a legacy-mode cycle is limited to (``_process_single_cycle(config)``), else None."""
    config = args[0] if args else None
    host = config.get("host_filter") if isinstance(config, dict) else None
    return host if isinstance(host, str) and host else None


def _span_of(span: object) -> trace.Span | None:
    return span if isinstance(span, trace.Span) else None


# A poll cycle past profile_threshold (a slow launch, harvest or job hook) is profiled (docs/profiles.md).
profiling.watch(Processor._poll, profiling.WatchPoint("job_cycle", "span", _span_of))
