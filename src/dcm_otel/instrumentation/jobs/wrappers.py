"""Wrappers for container_manager's executors and processor command, applied when each module is imported.

Executor calls on a job run inside the job's span, so the Docker SDK spans they cause are its children;
the Docker executor's container environment gets the job span's W3C trace context. The user's
``job_hook(span, job)`` is called with that span and the ``ContainerJob`` before each of them (launch,
harvest, timeout), through :func:`~dcm_otel.instrumentation.hooks.run_hook`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from dcm_otel._container_manager import ACTIVE
from dcm_otel.instrumentation.hooks import run_hook
from dcm_otel.settings_parsing import Hook

from .spans import JobSpans

_PROPAGATOR = TraceContextTextMapPropagator()


def in_job_span(spans: JobSpans, hook: Hook | None = None) -> Callable[..., Any]:
    def wrap(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        job = args[0] if args else kwargs.get("job")
        if job is None or job.status not in ACTIVE:
            return wrapped(*args, **kwargs)
        with spans.active(job) as span:
            if hook is not None:
                run_hook("job_hook", hook, span, job)
            return wrapped(*args, **kwargs)

    return wrap


def with_trace_context(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    """Adds TRACEPARENT/TRACESTATE (the job span's context) unless the job sets them itself."""
    environment = wrapped(*args, **kwargs)
    if isinstance(environment, dict):
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        for key, value in carrier.items():
            environment.setdefault(key.upper(), value)
    return environment
