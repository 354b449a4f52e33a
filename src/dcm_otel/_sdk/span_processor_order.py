"""Put a span processor first on an SDK tracer provider, ahead of those added before it.

``TracerProvider.add_span_processor`` appends, and the provider's ``force_flush`` and ``shutdown`` call
the processors in that order; the Docker deferral's drain must run before the exporters' processors flush,
so it is placed first in the provider's private processor tuple. Checked once, at the first call, on a
probe provider; without those internals the processor is appended (a flush may then miss the calls of a
process's last moments) and cannot be removed (once its queue is closed it does nothing).
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from dcm_otel._sdk.feature_check import FeatureCheck, probe_tracer_provider


def _processors(provider: TracerProvider) -> Any:
    """The provider's multi-processor, which holds the processors in a tuple under a lock."""
    multi: Any = provider._active_span_processor
    if not isinstance(multi._span_processors, tuple) or not hasattr(multi._lock, "__enter__"):
        raise TypeError(f"{type(multi).__name__} keeps its processors elsewhere")
    return multi


FEATURE = FeatureCheck(
    "span processor order",
    "the Docker drain is appended to the span processors",
    lambda: _processors(probe_tracer_provider()),
)


def add_first(provider: TracerProvider, processor: SpanProcessor) -> None:
    if FEATURE.available():
        try:
            multi = _processors(provider)
        except (AttributeError, TypeError) as error:
            FEATURE.disable(f"{type(error).__name__}: {error}")
        else:
            with multi._lock:
                multi._span_processors = (processor, *multi._span_processors)
            return
    provider.add_span_processor(processor)


def remove(provider: TracerProvider, processor: SpanProcessor) -> None:
    if FEATURE.available():
        try:
            multi = _processors(provider)
        except (AttributeError, TypeError):
            return
        with multi._lock:
            multi._span_processors = tuple(p for p in multi._span_processors if p is not processor)
