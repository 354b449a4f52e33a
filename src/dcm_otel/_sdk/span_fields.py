"""A finished span's attributes, events and links read without the copies the public properties make.

``ReadableSpan.attributes`` wraps the span's ``BoundedAttributes`` in a ``MappingProxyType``, and iterating
either goes key by key through Python-level ``__iter__``/``__getitem__``; ``events`` and ``links`` copy a
locked ``BoundedList`` into a tuple even when it is empty. For the OTLP encoder (dcm_otel.export) that was
about 2 µs of a 12-attribute span. A finished span no longer changes, so the encoder reads the plain
containers underneath. Checked once, when an encoder is made: a probe span's containers must hold what its
public properties return; otherwise the encoder reads the public properties.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, SpanContext

from dcm_otel._sdk.feature_check import FeatureCheck, probe_tracer_provider

Attributes = Mapping[str, Any] | None


class SpanFields(NamedTuple):
    """How the encoder reads a span: its attributes, events and links, and any other attribute map."""

    attributes: Callable[[ReadableSpan], Attributes]
    events: Callable[[ReadableSpan], Sequence[Event]]
    links: Callable[[ReadableSpan], Sequence[Link]]
    plain: Callable[[Attributes], Attributes]


def _plain(attributes: Attributes) -> Attributes:
    return attributes._dict if type(attributes) is BoundedAttributes else attributes


def _attributes(span: ReadableSpan) -> Attributes:
    return _plain(span._attributes)


def _events(span: ReadableSpan) -> Sequence[Event]:
    events = span._events
    return events._dq if type(events) is BoundedList else events  # type: ignore[attr-defined]  # not in the stub


def _links(span: ReadableSpan) -> Sequence[Link]:
    links = span._links
    return links._dq if type(links) is BoundedList else links  # type: ignore[attr-defined]


DIRECT = SpanFields(_attributes, _events, _links, _plain)
PUBLIC = SpanFields(lambda s: s.attributes, lambda s: s.events, lambda s: s.links, lambda a: a)


def _probe() -> None:
    tracer = probe_tracer_provider().get_tracer("dcm_otel.probe")
    linked = SpanContext(0x5EED, 0x1D, is_remote=True)
    span = tracer.start_span("probe", Context(), attributes={"a": 1}, links=[Link(linked, {"l": 2})])
    span.add_event("e", {"e": 3})
    span.end()
    if not isinstance(span, ReadableSpan):
        raise TypeError(f"the SDK's tracer makes {type(span).__name__} spans")
    (event,), (link,) = span.events, span.links
    pairs = {
        "attributes": (_attributes(span), dict(span.attributes or {})),
        "events": (list(_events(span)), [event]),
        "links": (list(_links(span)), [link]),
        "event attributes": (_plain(event.attributes), {"e": 3}),
        "link attributes": (_plain(link.attributes), {"l": 2}),
    }
    wrong = [
        name
        for name, (direct, public) in pairs.items()
        if (type(direct) is not dict and name.endswith("attributes")) or direct != public
    ]
    if wrong:
        raise RuntimeError(f"the span's containers differ from its properties: {', '.join(wrong)}")


FEATURE = FeatureCheck(
    "span fields read directly", "the OTLP encoder reads the spans' public properties", _probe
)


def span_fields() -> SpanFields:
    """The direct readers if the feature check passes, else the public properties."""
    return DIRECT if FEATURE.available() else PUBLIC
