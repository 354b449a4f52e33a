"""A finished span's fields read in one call, without the copies and property calls of the public API.

``ReadableSpan.attributes`` wraps the span's ``BoundedAttributes`` in a ``MappingProxyType``, and iterating
either goes key by key through Python-level ``__iter__``/``__getitem__``; ``events`` and ``links`` copy a
locked ``BoundedList`` into a tuple even when it is empty; and each of the dozen other fields the encoder
needs is a Python-level property call. For the OTLP encoder (dcm_otel.export) the copies were about 2 µs of
a 12-attribute span and the property calls a tenth of its encoding. A finished span no longer changes, so
the encoder reads the span's own slots with one ``attrgetter`` and the plain containers underneath. Checked
once, when an encoder is made: a probe span's slots must hold what its public properties return; otherwise
the encoder reads the public properties.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import attrgetter
from typing import Any, NamedTuple

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, set_span_in_context

from dcm_otel._sdk.feature_check import FeatureCheck, probe_tracer_provider

Attributes = Mapping[str, Any] | None


class SpanData(NamedTuple):
    """What the OTLP encoder sends of a span."""

    context: SpanContext
    parent: SpanContext | None
    name: str
    kind: SpanKind
    start_time: int | None
    end_time: int | None
    status: Status
    attributes: Attributes
    dropped_attributes: int
    events: Sequence[Event]
    dropped_events: int
    links: Sequence[Link]
    dropped_links: int


class SpanFields(NamedTuple):
    """How the encoder reads a span, and any other attribute map (an event's, a link's, a log record's);
    ``attributes``: a span's attributes as they are (for a span processor's ``on_start``: only the thread
    starting the span holds it then)."""

    read: Callable[[ReadableSpan], tuple[Any, ...]]
    plain: Callable[[Attributes], Attributes]
    attributes: Callable[[ReadableSpan], Attributes]


def _plain(attributes: Attributes) -> Attributes:
    return attributes._dict if type(attributes) is BoundedAttributes else attributes


_SLOTS = attrgetter(
    "_context", "_parent", "_name", "_kind", "_start_time", "_end_time", "_status", "_attributes", "_events",
    "_links",
)  # fmt: skip


def _direct(span: ReadableSpan) -> tuple[Any, ...]:
    """:class:`SpanData`'s fields, as a plain tuple (no NamedTuple to build per span)."""
    context, parent, name, kind, start, end, status, attributes, events, links = _SLOTS(span)
    if type(attributes) is BoundedAttributes:
        attributes, dropped_attributes = attributes._dict, attributes.dropped  # type: ignore[attr-defined]
    else:
        dropped_attributes = span.dropped_attributes
    if type(events) is BoundedList:
        events, dropped_events = events._dq, events.dropped  # type: ignore[attr-defined]  # not in the stub
    else:
        dropped_events = span.dropped_events
    if type(links) is BoundedList:
        links, dropped_links = links._dq, links.dropped  # type: ignore[attr-defined]
    else:
        dropped_links = span.dropped_links
    return (
        context, parent, name, kind, start, end, status, attributes, dropped_attributes, events,
        dropped_events, links, dropped_links,
    )  # fmt: skip


def _public(span: ReadableSpan) -> tuple[Any, ...]:
    return (
        span.context, span.parent, span.name, span.kind, span.start_time, span.end_time, span.status,
        span.attributes, span.dropped_attributes, span.events, span.dropped_events, span.links,
        span.dropped_links,
    )  # fmt: skip


def _attributes(span: ReadableSpan) -> Attributes:
    return _plain(span._attributes)


DIRECT = SpanFields(_direct, _plain, _attributes)
PUBLIC = SpanFields(_public, lambda a: a, lambda s: s.attributes)


def _probe() -> None:
    tracer = probe_tracer_provider().get_tracer("dcm_otel.probe")
    linked = SpanContext(0x5EED, 0x1D, is_remote=True)
    parent = tracer.start_span("parent", Context())
    span = tracer.start_span(
        "probe",
        set_span_in_context(parent, Context()),
        kind=SpanKind.CLIENT,
        attributes={"a": 1},
        links=[Link(linked, {"l": 2})],
        start_time=5,
    )
    span.add_event("e", {"e": 3})
    span.set_status(Status(StatusCode.ERROR, "probe"))
    span.end(end_time=7)
    if not isinstance(span, ReadableSpan):
        raise TypeError(f"the SDK's tracer makes {type(span).__name__} spans")
    (event,), (link,) = span.events, span.links
    direct = SpanData(*_direct(span))
    public = SpanData(*_public(span))
    pairs = {
        **{
            name: (getattr(direct, name), getattr(public, name))
            for name in SpanData._fields
            if name not in ("attributes", "events", "links")
        },
        "attributes": (direct.attributes, dict(public.attributes or {})),
        "attributes read alone": (_attributes(span), dict(public.attributes or {})),
        "events": (list(direct.events), [event]),
        "links": (list(direct.links), [link]),
        "event attributes": (_plain(event.attributes), {"e": 3}),
        "link attributes": (_plain(link.attributes), {"l": 2}),
    }
    wrong = [
        name
        for name, (got, wanted) in pairs.items()
        if (type(got) is not dict and "attributes" in name and name != "dropped_attributes") or got != wanted
    ]
    if wrong:
        raise RuntimeError(f"the span's slots differ from its properties: {', '.join(wrong)}")


FEATURE = FeatureCheck(
    "span fields read directly", "the OTLP encoder reads the spans' public properties", _probe
)


def span_fields() -> SpanFields:
    """The direct readers if the feature check passes, else the public properties."""
    return DIRECT if FEATURE.available() else PUBLIC
