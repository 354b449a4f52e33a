"""Spans and duration points made off the caller's thread, after the call.

Made between a call's two socket round trips, the SDK's span and histogram point run cold and cost more than
the overhead budget of a fast Engine call (docs/benchmarks.md). So a call records only plain data (times,
attributes, parent context, the span ids it reserved) into a bounded queue, and a daemon thread makes the
real SDK span (``start_span(start_time=...)``, ``end(end_time=...)``) and histogram point in batches, mostly
while callers wait on the Engine with the GIL released.

The span's ids are reserved on the call path (the provider's id generator) so that the span is current
during the call with the ids it is exported with: log records written during the call correlate with it
(:mod:`dcm_otel._sdk.preset_ids`). A span processor placed first on the tracer provider
(:mod:`dcm_otel._sdk.span_processor_order`) drains the queue in ``force_flush()`` and ``shutdown()``, before
the exporters' processors flush; an atexit hook drains it before the providers shut down, so the last points
reach the meter provider too.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import queue
import threading
import time
import weakref
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import Histogram
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanContext, SpanKind, StatusCode
from opentelemetry.util.types import AttributeValue

from dcm_otel._sdk import preset_ids, span_processor_order

logger = logging.getLogger("dcm_otel")

#: Calls waiting for their span; beyond this (the thread stalled) new ones are counted and dropped.
MAX_PENDING = 2048
#: How long the thread lets calls gather after the first one, so one wake-up serves a batch.
BATCH_WINDOW_S = 0.02

if TYPE_CHECKING:
    from .call import TracedCall

Attributes = dict[str, AttributeValue]


class _DrainFirst(SpanProcessor):
    """First on the provider, so that the spans it drains still pass the exporters' processors."""

    def __init__(self, materializer: Materializer) -> None:
        self._materializer = weakref.ref(materializer)

    def _drain(self) -> None:
        materializer = self._materializer()
        if materializer is not None:
            materializer.drain()

    def shutdown(self) -> None:
        self._drain()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self._drain()
        return True


class Materializer:
    """The queue of finished calls and the thread that turns them into spans and points.

    ``tracer_provider`` None means the global one, looked up until it is set (gunicorn ``--preload``
    sets it in each worker, after the instrumentation). Only an SDK tracer lets ids be reserved; with
    another API implementation the span is made afterwards all the same, without being current during
    the call.
    """

    def __init__(
        self,
        scope: tuple[str, str, str],
        tracer_provider: trace.TracerProvider | None,
        duration: Histogram,
    ) -> None:
        self._scope = scope
        self._provider = tracer_provider
        self._duration = duration
        self._tracer: trace.Tracer | None = None
        self._ids: IdGenerator | None = None  # the tracer's own generator, once it takes preset ids
        self._drainer: tuple[TracerProvider, _DrainFirst] | None = None
        self.dropped = 0
        self._reset()
        _LIVE.add(self)

    def _reset(self) -> None:
        """A fresh queue, lock and no thread: at creation, and in a forked child (the parent's thread and
        held locks do not exist there, and its queued calls are the parent's to export)."""
        self._pending: collections.deque[TracedCall] = collections.deque()
        self._wake: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._lock = threading.RLock()
        # Binding and starting, once each; reentrant, as a stream's __del__ may call in while it is held.
        self._once = threading.RLock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def _bind(self) -> None:
        """Get the tracer and, for the SDK's, reserve ids through it and drain on its provider's flush."""
        provider = self._provider or trace.get_tracer_provider()
        if isinstance(provider, trace.ProxyTracerProvider):
            return
        with self._once:
            if self._tracer is not None:
                return
            name, version, schema_url = self._scope
            tracer = provider.get_tracer(name, version, schema_url=schema_url)
            if isinstance(tracer, SdkTracer) and isinstance(provider, TracerProvider):
                self._ids = preset_ids.install(tracer)
                self._drainer = provider, _DrainFirst(self)
                span_processor_order.add_first(*self._drainer)
            self._tracer = tracer

    def reserve(self, parent: Context) -> SpanContext | None:
        """The context of the span a call starting now will have, so it can be current during the call
        (SDK tracers only). The sampler runs when the span is made: the flags here follow the parent
        (sampled for a root span), which is what the default parent-based samplers decide."""
        if self._tracer is None:
            self._bind()
        ids = self._ids
        if ids is None:
            return None
        parent_context = trace.get_current_span(parent).get_span_context()
        if parent_context.is_valid:
            trace_id, flags = parent_context.trace_id, parent_context.trace_flags
        else:
            trace_id, flags = ids.generate_trace_id(), preset_ids.sampled_root_flags(ids)
        return SpanContext(trace_id, ids.generate_span_id(), False, flags, parent_context.trace_state)

    def submit(self, call: TracedCall) -> None:
        """Queue a finished call; never blocks or raises (it may run in a stream's ``__del__``)."""
        if self._closed:  # a stream that outlived the instrumentation
            return
        if len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            if self.dropped == 1:
                logger.warning(
                    "dcm_otel: Docker call telemetry is not keeping up; dropping calls (max %d pending)",
                    MAX_PENDING,
                )
            return
        self._pending.append(call)
        if self._thread is None:
            self._start()
        if len(self._pending) == 1:
            self._wake.put(None)

    def _start(self) -> None:
        with self._once:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="dcm_otel-docker-spans", daemon=True)
                try:
                    thread.start()
                except RuntimeError:  # interpreter shutdown: the atexit drain has run or will
                    return
                self._thread = thread
                atexit.register(self.drain)

    def _run(self) -> None:
        wake, lock = self._wake, self._lock  # this thread's own, should a fork replace them
        while not self._closed:
            wake.get()
            time.sleep(BATCH_WINDOW_S)
            with lock:
                self._drain_locked()

    def drain(self) -> None:
        """Make every queued call's span and point now, in this thread."""
        with self._lock:
            self._drain_locked()

    def _drain_locked(self) -> None:
        while self._pending:
            call = self._pending.popleft()
            try:
                self._materialize(call)
            except Exception:  # a broken exporter or processor must not stop the thread
                logger.warning("dcm_otel: a Docker call span could not be made", exc_info=True)

    def _materialize(self, call: TracedCall) -> None:
        tracer = self._tracer
        if tracer is not None:
            with preset_ids.preset_span_ids(call.reservation):
                span = tracer.start_span(
                    call.name,
                    context=call.parent,
                    kind=SpanKind.CLIENT,
                    attributes=call.attributes,
                    start_time=call.start_ns,
                )
            if call.failed:
                span.set_status(StatusCode.ERROR)
            if call.hooked is not None:
                call.hooked.replay(span)
            span.end(end_time=call.end_ns)
        self._duration.record((call.end_ns - call.start_ns) / 1e9, call.metric_attributes)

    def close(self) -> None:
        """Drain, stop the thread and give the tracer and provider back as they were."""
        self._closed = True
        self._wake.put(None)
        self.drain()
        if self._thread is not None:
            atexit.unregister(self.drain)
        if self._ids is not None and self._tracer is not None:
            preset_ids.uninstall(self._tracer)
        if self._drainer is not None:
            span_processor_order.remove(*self._drainer)
        _LIVE.discard(self)


_LIVE: weakref.WeakSet[Materializer] = weakref.WeakSet()


def _reset_in_child() -> None:
    for materializer in list(_LIVE):
        materializer._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)
