"""The current span's trace flags, trace id and span id, for the log bridge's shortcut (every exported log
record), without the public path's four calls.

``get_current_span().get_span_context()`` goes through ``get_value``, ``get_current`` and the runtime
context's ``get_current`` to reach one context variable, then the ``SpanContext`` properties, one Python call
each: about a microsecond per record. Here the context variable and the span key are read directly, and the
``SpanContext`` (a tuple) by position. Checked once: the runtime context must be the context-variables one,
and inside and outside a span the direct read must give what the public path gives; otherwise the public
path.
"""

from __future__ import annotations

from collections.abc import Callable

from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    TraceFlags,
    get_current_span,
    use_span,
)

from dcm_otel._sdk.feature_check import FeatureCheck

SpanIds = tuple[int, int, int]  # trace flags, trace id, span id; all 0 outside a span
_NO_SPAN: SpanIds = (0, 0, 0)


def public_ids() -> SpanIds:
    context = get_current_span().get_span_context()
    return context.trace_flags, context.trace_id, context.span_id


def _direct() -> Callable[[], SpanIds]:
    from opentelemetry.context import _RUNTIME_CONTEXT
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
    from opentelemetry.trace.propagation import _SPAN_KEY

    if type(_RUNTIME_CONTEXT) is not ContextVarsRuntimeContext:
        raise TypeError(f"the runtime context is a {type(_RUNTIME_CONTEXT).__name__}")
    current = _RUNTIME_CONTEXT._current_context.get

    def direct_ids() -> SpanIds:
        span = current().get(_SPAN_KEY)
        if span is None or not isinstance(span, Span):  # as get_current_span() tells INVALID_SPAN
            return _NO_SPAN
        context = span.get_span_context()
        return context[3], context[0], context[1]  # SpanContext's tuple: trace_id, span_id, _, trace_flags

    return direct_ids


def _probe() -> None:
    direct = _direct()
    outside = direct(), public_ids()
    with use_span(NonRecordingSpan(SpanContext(0x5EED, 0x1D, is_remote=False, trace_flags=TraceFlags(1)))):
        inside = direct(), public_ids()
    if outside != (_NO_SPAN, _NO_SPAN) or inside != ((1, 0x5EED, 0x1D), (1, 0x5EED, 0x1D)):
        raise RuntimeError(f"outside and inside a span, direct and public reads give {outside}, {inside}")


FEATURE = FeatureCheck("current span read directly", "log records read the current span publicly", _probe)


def span_ids_reader() -> Callable[[], SpanIds]:
    """The direct reader if the feature check passes, else the public path."""
    return _direct() if FEATURE.available() else public_ids
