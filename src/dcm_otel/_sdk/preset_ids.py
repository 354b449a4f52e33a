"""Start an SDK span with trace and span ids chosen earlier.

The SDK offers no way to give a span its ids; its tracer asks its ``id_generator`` for them. So an
:class:`IdGenerator` is installed once per SDK tracer that hands out the ids of the enclosing
``with preset_span_ids(span_context):`` block, and the tracer's own generator's ids elsewhere. The Docker
deferral uses it for the ids it reserved at call time, the job run span for the ids its launch stored.
Checked once, at the first :func:`install`: a probe tracer must honour the preset ids, with the flags
:func:`sampled_root_flags` predicts for a reserved root span; else no tracer gets the generator and spans
get fresh ids (the public path).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Tracer
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanContext, TraceFlags

from dcm_otel._sdk.feature_check import FeatureCheck, probe_tracer_provider

_preset: ContextVar[SpanContext | None] = ContextVar("dcm_otel_preset_span_ids", default=None)


class PresetIds(IdGenerator):
    """``source``'s ids, except inside :func:`preset_span_ids`."""

    def __init__(self, source: IdGenerator) -> None:
        self.source = source

    def generate_span_id(self) -> int:
        preset = _preset.get()
        return preset.span_id if preset is not None else self.source.generate_span_id()

    def generate_trace_id(self) -> int:
        preset = _preset.get()
        return preset.trace_id if preset is not None else self.source.generate_trace_id()

    def is_trace_id_random(self) -> bool:
        return self.source.is_trace_id_random()


#: W3C Trace Context level 2's flag, which SDK tracers set from 1.42 on (the API has no name for it before).
_RANDOM_TRACE_ID: int | None = getattr(TraceFlags, "RANDOM_TRACE_ID", None)


def sampled_root_flags(ids: IdGenerator) -> TraceFlags:
    """The flags an SDK tracer gives a sampled root span whose trace id ``ids`` generated."""
    if _RANDOM_TRACE_ID is not None and ids.is_trace_id_random():
        return TraceFlags(TraceFlags.SAMPLED | _RANDOM_TRACE_ID)
    return TraceFlags(TraceFlags.SAMPLED)


@contextmanager
def preset_span_ids(ids: SpanContext | None) -> Iterator[None]:
    """Spans started in this block by a tracer given :func:`install` get ``ids``' trace and span ids (when
    it has no parent, else the parent's trace id); None leaves the tracer's own ids."""
    token = _preset.set(ids)
    try:
        yield
    finally:
        _preset.reset(token)


def _probe() -> None:
    tracer = probe_tracer_provider().get_tracer("dcm_otel.probe")
    if not isinstance(tracer, Tracer):
        raise TypeError(f"the SDK's provider makes {type(tracer).__name__} tracers")
    tracer.id_generator = ids = PresetIds(tracer.id_generator)
    wanted = SpanContext(0x5EED, 0x1D, is_remote=False, trace_flags=sampled_root_flags(ids))
    with preset_span_ids(wanted):
        got = tracer.start_span("probe", context=Context()).get_span_context()
    if (got.trace_id, got.span_id) != (wanted.trace_id, wanted.span_id):
        raise RuntimeError("Tracer.start_span does not take its ids from tracer.id_generator")
    if got.trace_flags != wanted.trace_flags:
        raise RuntimeError(f"a sampled root span has flags {got.trace_flags:#x}, not {wanted.trace_flags:#x}")


FEATURE = FeatureCheck("preset span ids", "spans made later get fresh ids", _probe)


def install(tracer: trace.Tracer) -> IdGenerator | None:
    """Let ``tracer`` take preset ids; return its own generator (for ids to reserve), or None when its
    ids cannot be preset (not an SDK tracer, or the feature check failed). Once per tracer: the provider
    caches one tracer per scope, and a second call finds the generator in place."""
    if not isinstance(tracer, Tracer) or not FEATURE.available():
        return None
    ids = tracer.id_generator
    if not isinstance(ids, PresetIds):
        ids = tracer.id_generator = PresetIds(ids)
    return ids.source


def uninstall(tracer: trace.Tracer) -> None:
    """Give ``tracer`` its own generator back."""
    if isinstance(tracer, Tracer) and isinstance(tracer.id_generator, PresetIds):
        tracer.id_generator = tracer.id_generator.source
