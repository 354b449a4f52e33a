"""One span per job run, from launch to harvest, although those happen in different calls.

Launch and harvest are separate processor cycles, so the span is started with an explicit start time and
kept open in a bounded dict keyed by job id until the job reaches a terminal status. When the process that
harvests is not the one that launched (queue mode, a restart), the span is created at harvest from the
job's own timestamps, with the trace and span ids the launch stored in the job (``otel_run_context``):
those went into the container's ``TRACEPARENT`` and are the parent of the launch's Docker spans. The
launcher's own span for it is then never ended, so never exported (it leaves the bounded dict unended):
one span per run is exported, by whichever process sees it end. The span of the request or command that
created the job is stored with the job and linked, so one can walk from the HTTP call that queued a job
to its run.

A run that fails or times out gets the error status and ``error.type`` = its ``dcm.job.result``
(``failure``, ``timeout``): a fixed, documented set, the same value the ``dcm.job.duration`` points carry,
while the domain's own detail stays in ``dcm.job.exit_code``. The status description is the first line of
the job's ``last_error``, masked, when there is one: never the result again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from dcm_otel._container_manager import WAITING
from dcm_otel._sdk.preset_ids import install, preset_span_ids
from dcm_otel.instrumentation.errors import record_exception
from dcm_otel.logs.redaction import Redactor

from . import attributes as a
from .state import JobState

SPAN_NAME = "dcm.job.run"
_PROPAGATOR = TraceContextTextMapPropagator()
#: Started spans waiting for their harvest; beyond this the oldest is dropped, so memory stays bounded.
MAX_OPEN_SPANS = 10_000
#: The longest status description taken from a job's last_error (its first line).
MAX_DESCRIPTION = 200


@dataclass(frozen=True)
class JobFacts:
    """What a span needs from a job, copied at save time (the instance may change before commit)."""

    id: str
    name: str
    image: str
    error: str | None
    creator: SpanContext | None  # the span that created the job, to link to
    run: SpanContext | None  # the ids its launch gave the run span
    usage: dict[str, float]  # the job's resource usage fields that are filled

    @classmethod
    def of(cls, job: Any) -> JobFacts:
        metadata = job.executor_metadata if isinstance(job.executor_metadata, dict) else {}
        usage = {a.JOB_MAX_MEMORY: job.max_memory_usage, a.JOB_CPU_PERCENT: job.cpu_usage_percent}
        return cls(
            str(job.pk), job.name or "", job.docker_image or "", job.last_error,
            _stored_context(metadata, a.CREATOR_CONTEXT_KEY), _stored_context(metadata, a.RUN_CONTEXT_KEY),
            {key: value for key, value in usage.items() if value is not None},
        )  # fmt: skip


def _stored_context(metadata: dict[str, Any], key: str) -> SpanContext | None:
    carrier = metadata.get(key)
    if not isinstance(carrier, dict):
        return None
    stored = trace.get_current_span(_PROPAGATOR.extract(carrier)).get_span_context()
    return stored if stored.is_valid else None


def _store_context(job: Any, key: str, context: otel_context.Context | None = None) -> None:
    """Put the W3C trace context (of the current span, or of `context`) into the job's executor_metadata."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context)
    if not isinstance(job.executor_metadata, dict):
        job.executor_metadata = {}
    job.executor_metadata[key] = carrier


def remember_creator(job: Any) -> None:
    """Store the current span context (the request or command creating the job) with the new job."""
    if trace.get_current_span().get_span_context().is_valid:
        _store_context(job, a.CREATOR_CONTEXT_KEY)


def _nanos(moment: datetime) -> int:
    """Exact to the microsecond, like the database timestamps (a float would round)."""
    whole = int(moment.timestamp())
    return whole * 1_000_000_000 + moment.microsecond * 1000


class JobSpans:
    def __init__(self, tracer: trace.Tracer, redactor: Redactor) -> None:
        install(tracer)  # a run rebuilt by another process gets the ids its launch stored
        self._tracer = tracer
        self._redactor = redactor
        self._open: OrderedDict[str, Span] = OrderedDict()
        self._lock = threading.Lock()

    @contextmanager
    def active(self, job: Any) -> Iterator[Span]:
        """Make the job's run span current for an executor call on the job.

        A job not launched yet starts a new run: a new span, whose context is stored in the job (the
        executor's launch save writes it). Otherwise the open span of the run, else one rebuilt with the
        stored ids. An exception out of the call is an ``exception`` event only: the job's result, at
        :meth:`finish`, says whether the run failed (a launch error may be retried).
        """
        facts = JobFacts.of(job)
        launch = job.status in WAITING
        span = self._get_or_start(facts, job.started_at, {
            a.HOST_NAME: job.docker_host.name, a.EXECUTOR_TYPE: job.docker_host.executor_type,
        }, launch)  # fmt: skip
        if launch:
            _store_context(job, a.RUN_CONTEXT_KEY, trace.set_span_in_context(span))
        with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
            try:
                yield span
            except Exception as error:
                record_exception(span, error, self._redactor)
                raise

    def finish(self, facts: JobFacts, state: JobState, host: dict[str, str]) -> None:
        """End the run span at a terminal status; without a run (never started) there is no span."""
        with self._lock:
            span = self._open.pop(facts.id, None)
        if span is None:
            if state.started_at is None:
                return
            span = self._start(facts, state.started_at, host, facts.run)
        result = state.result or ""
        span.set_attribute(a.RESULT, result)
        span.set_attribute(a.STATUS, state.status or "")
        if state.exit_code is not None:
            span.set_attribute(a.JOB_EXIT_CODE, state.exit_code)
        span.set_attributes(facts.usage)
        if result in ("failure", "timeout"):
            span.set_attribute("error.type", result)
            span.set_status(Status(StatusCode.ERROR, self._description(facts.error)))
        span.end(end_time=_nanos(state.completed_at) if state.finished_run and state.completed_at else None)

    def _description(self, error: str | None) -> str | None:
        """The first line of the job's last_error, masked (it is free text from Docker or the executor)."""
        line = (error or "").strip().partition("\n")[0][:MAX_DESCRIPTION]
        return self._redactor.text(line) if line else None

    def _get_or_start(
        self, facts: JobFacts, started_at: datetime | None, host: dict[str, str], launch: bool
    ) -> Span:
        """On a launch, a span left open by an earlier run (ended by another process) is dropped unended."""
        with self._lock:
            span = None if launch else self._open.get(facts.id)
        if span is None:
            span = self._start(facts, started_at, host, None if launch else facts.run)
            with self._lock:
                self._open[facts.id] = span
                while len(self._open) > MAX_OPEN_SPANS:
                    self._open.popitem(last=False)
        return span

    def _start(
        self, facts: JobFacts, started_at: datetime | None, host: dict[str, str], ids: SpanContext | None
    ) -> Span:
        """A new run span: with the given `ids` (stored by the launch), else fresh ones."""
        with preset_span_ids(ids):
            return self._tracer.start_span(
                SPAN_NAME,
                context=otel_context.Context(),  # a trace of its own: the job outlives the poll launching it
                kind=SpanKind.CONSUMER,
                links=[Link(facts.creator)] if facts.creator else [],
                start_time=_nanos(started_at) if started_at else None,
                attributes={a.JOB_ID: facts.id, a.JOB_NAME: facts.name, a.JOB_IMAGE: facts.image, **host},
            )
