"""``tracer.start_span`` for the span of every request and every query, without the SDK's generic checks.

``Tracer.start_span`` asks the sampler, although the configured sampler's answer for a span under a local
sampled parent is fixed in advance, and cleans attribute values that are already clean strings and ints.
:class:`SpanStarter` makes the same ``Span`` the tracer would (ids, flags, trace state, parent, limits,
tracer metrics, and ``on_start`` / ``on_end`` of every configured span processor) without the sampler call
when the sampler is a static "always on" one for that parent, and with the attributes copied as they are;
the span calls the configured processors through :mod:`dcm_otel._sdk.span_chain`.
Anything else (another sampler decision, span limits on value length, a proxy or non-SDK tracer) goes
through ``start_span``, as does everything once :data:`FEATURE` finds the SDK's internals changed
(``tests/test_sdk_shortcuts.py`` compares both paths).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import Tracer
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, Sampler, StaticSampler
from opentelemetry.trace import SpanKind, TraceFlags

from dcm_otel._sdk import span_chain
from dcm_otel._sdk.feature_check import FeatureCheck

Attributes = Mapping[str, str | int]

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)

try:
    from opentelemetry.sdk.trace import _Span

    # SDK 1.42 added the W3C random-trace-id flag, which Tracer.start_span sets from the id generator or
    # the parent; before it, the shortcut would not make the span the tracer makes.
    _SAMPLED_RANDOM = TraceFlags(TraceFlags.SAMPLED | TraceFlags.RANDOM_TRACE_ID)
except (ImportError, AttributeError) as error:  # the probe reports it; start() then takes the public path
    _import_error: Exception | None = error
else:
    _import_error = None

_SDK_SPANS: tuple[type, ...] = () if _import_error else (_Span, span_chain.SharedSpan)


def _probe() -> None:
    """What is read beyond one tracer's own attributes (:meth:`SpanStarter._resolve` reads those)."""
    if _import_error is not None:
        raise _import_error
    parent_based: Any = ParentBased(ALWAYS_ON)
    root, remote, local = (
        parent_based._root,
        parent_based._remote_parent_sampled,
        parent_based._local_parent_sampled,
    )
    for sampler in (root, remote, local):
        if not isinstance(sampler, Sampler):
            raise TypeError(f"ParentBased holds {sampler!r}")
    always_on: Any = ALWAYS_ON
    if always_on._decision is not Decision.RECORD_AND_SAMPLE:
        raise TypeError("StaticSampler keeps its decision elsewhere")
    if not isinstance(BoundedAttributes()._dict, dict):
        raise TypeError("BoundedAttributes keeps its values elsewhere")
    for owner, name in ((Tracer, "_is_enabled"), (IdGenerator, "is_trace_id_random")):
        if not callable(getattr(owner, name, None)):
            raise TypeError(f"{owner.__name__}.{name} is gone")
    wanted = {"limits", "instrumentation_scope", "record_end_metrics", "span_processor", "sampler"}
    missing = wanted - set(inspect.signature(_Span.__init__).parameters)
    if missing:
        raise TypeError(f"_Span takes no {sorted(missing)}")
    proxy: Any = trace.ProxyTracer("dcm_otel.probe")
    proxy._tracer  # noqa: B018 (the attribute must exist)


FEATURE = FeatureCheck("span starter", "spans start through Tracer.start_span", _probe)


def _always_samples(sampler: Sampler) -> bool:
    """Whether ``sampler`` records and samples every span it is asked about, whatever the span."""
    return (
        type(sampler).should_sample is StaticSampler.should_sample
        and getattr(sampler, "_decision", None) is Decision.RECORD_AND_SAMPLE
    )


class _Plan:
    """For each kind of parent (none, remote sampled, local sampled): whether the sampler always samples."""

    __slots__ = ("local", "remote", "root")

    def __init__(self, sampler: Sampler) -> None:
        if type(sampler).should_sample is ParentBased.should_sample:
            parent_based: Any = sampler
            self.root = _always_samples(parent_based._root)
            self.remote = _always_samples(parent_based._remote_parent_sampled)
            self.local = _always_samples(parent_based._local_parent_sampled)
        else:
            self.root = self.remote = self.local = _always_samples(sampler)


class SpanStarter:
    """``tracer.start_span(name, parent, kind, attributes, start_time)``, without the sampler call when the
    sampler's decision is known; attribute values must be strings or ints (as all of dcm_otel's are).
    The tracer is looked at once, at the first span (a proxy tracer: once a provider is set)."""

    __slots__ = ("_chain", "_chained", "_max_attributes", "_parent", "_plan", "_resolved", "_sdk", "_tracer")

    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer
        self._sdk: Tracer | None = None
        self._plan: _Plan | None = None
        self._max_attributes: int | None = None
        self._resolved = False
        self._chained = False  # whether spans call the processors through a span_chain.Chain
        self._chain: span_chain.Chain | None = None
        # The last parent context and what start() derived from it.
        self._parent: tuple[Any, ...] = (None,)

    def _resolve(self) -> None:
        """Look at the tracer once it is a real one (a proxy tracer becomes one when a provider is set)."""
        tracer: Any = self._tracer
        if isinstance(tracer, trace.ProxyTracer):
            tracer = tracer._tracer
            if isinstance(tracer, trace.NoOpTracer):
                return
        self._resolved = True
        if type(tracer) is not Tracer or not FEATURE.available():
            return
        try:
            limits = tracer._span_limits
            if limits.max_span_attribute_length is not None:
                return  # values are cut to that length: the SDK's cleaner does it
            self._plan = _Plan(tracer.sampler)
            self._max_attributes = limits.max_span_attributes
            for name in (
                "id_generator",
                "resource",
                "span_processor",
                "_instrumentation_scope",
                "_tracer_metrics",
            ):
                getattr(tracer, name)
        except Exception as error:  # an SDK changed underneath: its public path still works
            FEATURE.disable(f"{type(error).__name__}: {error}")
            return
        self._sdk = tracer
        self._chained = span_chain.FEATURE.available()

    def start(
        self,
        name: str,
        parent: context_api.Context | None,
        kind: SpanKind,
        attributes: Attributes,
        start_time: int | None = None,
    ) -> trace.Span:
        if not self._resolved:
            self._resolve()
        sdk, plan = self._sdk, self._plan
        if sdk is None or plan is None or not sdk._is_enabled():
            return self._tracer.start_span(name, parent, kind, attributes=attributes, start_time=start_time)
        if parent is not None and self._parent[0] is parent:  # the queries of one request share theirs
            _, sampled, trace_id, random_trace_id, trace_state, parent_span = self._parent
        else:
            parent_span = trace.get_current_span(parent).get_span_context()
            if parent_span.is_valid:
                flags = parent_span.trace_flags
                sampled = flags.sampled and (plan.remote if parent_span.is_remote else plan.local)
                trace_id, random_trace_id, trace_state = (
                    parent_span.trace_id,
                    flags.random_trace_id,
                    parent_span.trace_state,
                )
                if parent is not None:
                    self._parent = (parent, sampled, trace_id, random_trace_id, trace_state, parent_span)
            else:
                sampled = plan.root
                trace_id = sdk.id_generator.generate_trace_id()
                random_trace_id = sdk.id_generator.is_trace_id_random()
                trace_state = None
                parent_span = None
        if not sampled or (self._max_attributes is not None and len(attributes) > self._max_attributes):
            return sdk.start_span(name, parent, kind, attributes=attributes, start_time=start_time)
        span_context = trace.SpanContext(
            trace_id,
            sdk.id_generator.generate_span_id(),
            is_remote=False,
            trace_flags=_SAMPLED_RANDOM if random_trace_id else _SAMPLED,
            trace_state=trace_state,
        )
        processor: Any = sdk.span_processor
        if self._chained:
            chain = self._chain = span_chain.chain_of(processor, self._chain)
            span_class, processor = span_chain.span_class(chain), chain or processor
        else:
            span_class = _Span
        span: _Span = span_class(
            name=name,
            context=span_context,
            parent=parent_span,
            sampler=sdk.sampler,
            resource=sdk.resource,
            span_processor=processor,
            kind=kind,
            instrumentation_info=sdk.instrumentation_info,
            limits=sdk._span_limits,
            instrumentation_scope=sdk._instrumentation_scope,
            record_end_metrics=sdk._tracer_metrics.start_span(parent_span, Decision.RECORD_AND_SAMPLE),
        )
        bounded: Any = span._attributes
        bounded._dict.update(attributes)  # clean already: no copy through the cleaner
        span.start(start_time=start_time, parent_context=parent)
        return span


def add_attributes(span: trace.Span, attributes: Attributes) -> None:
    """``span.set_attributes(attributes)`` for new keys with clean values (strings and ints), without the
    SDK's cleaner, on an SDK span with room for them; a key to replace (the SDK moves it last) or to drop,
    and any other span, through ``set_attributes``."""
    if type(span) in _SDK_SPANS and FEATURE.available():
        sdk_span: Any = span
        bounded = sdk_span._attributes
        with sdk_span._lock:
            values = bounded._dict
            if (
                sdk_span._end_time is None
                and not bounded._immutable
                and bounded.max_value_len is None
                and (bounded.maxlen is None or len(values) + len(attributes) <= bounded.maxlen)
                and values.keys().isdisjoint(attributes)
            ):
                values.update(attributes)
                return
    span.set_attributes(attributes)
