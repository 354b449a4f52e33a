"""Spans and log records with every kind of OTLP field set, built the same way on every call (the resource's
service name aside), to send through two encoders and compare what comes out."""

from __future__ import annotations

import math
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: attribute values that encoders get wrong first: every type, its extremes, empty and huge ones
TRICKY_VALUES: dict[str, Any] = {
    "non_ascii": "é€😀 ünïcødé 中文 \u0000 \t\n",
    "empty": "",
    "huge": "h" * 70_000,  # a length of three varint bytes
    "int64_min": INT64_MIN,
    "int64_max": INT64_MAX,
    "zero": 0,
    "minus_one": -1,
    "double": 0.1,
    "nan": math.nan,
    "inf": math.inf,
    "minus_inf": -math.inf,
    "negative_zero": -0.0,
    "true": True,
    "false": False,
    "bytes": b"\x00\xff\xfe binary",
    "empty_bytes": b"",
    "strings": ("a", "é", ""),
    "ints": (INT64_MIN, 0, INT64_MAX),
    "doubles": (1.5, -0.0, math.inf),
    "bools": (True, False),
    "bytes_array": (b"\x01", b""),
    "empty_array": (),
}
#: values the official encoder leaves out (logging each): an encoder must leave them out too
REJECTED_VALUES: dict[str, Any] = {"int_over_int64": 2**64, "ints_over_int64": (1, 2**63)}
SCOPES = (
    InstrumentationScope("dcm_otel.instrumentation.django", "0.1.0", "https://opentelemetry.io/schemas/1.30.0",
                         {"scope.attr": "é", "scope.n": 7}),
    InstrumentationScope("dcm_otel.instrumentation.db"),
)  # fmt: skip
TRACE_STATE = TraceState([("vendor", "value-1"), ("tenant@system", "x")])


def resource(service_name: str) -> Resource:
    return Resource(
        {"service.name": service_name, "service.version": "1.2.3", "deployment.environment.name": "tést"},
        "https://opentelemetry.io/schemas/1.30.0",
    )


def _attributes(values: dict[str, Any], maxlen: int | None = None) -> BoundedAttributes:
    return BoundedAttributes(maxlen, values, immutable=True)


def spans(service_name: str, all_sampled: bool = False) -> list[ReadableSpan]:
    """One span per kind and status, with events, links, a remote parent, trace state and flags, dropped
    attributes, events and links, and every tricky value; every other one unsampled unless ``all_sampled``
    (a span processor sends only sampled spans; OTLP carries no trace flags, so the bytes are the same)."""
    owner = resource(service_name)
    remote_parent = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, True,
                                TraceFlags(TraceFlags.SAMPLED), TRACE_STATE)  # fmt: skip
    everything = {**TRICKY_VALUES, **REJECTED_VALUES}
    made = []
    for index, (kind, code) in enumerate(
        zip(SpanKind, [*StatusCode, StatusCode.ERROR, StatusCode.OK], strict=True)
    ):
        trace_id = remote_parent.trace_id if index % 2 == 0 else INT64_MAX * 2 + index
        flags = TraceFlags(TraceFlags.SAMPLED if all_sampled else index % 2)
        events = [
            Event("dcm.db.repeated_query", _attributes(everything), 1_700_000_000_000_000_000 + index),
            Event("é event, attributes dropped", _attributes({"a": 1, "b": 2, "c": 3}, maxlen=1), 1),
            Event("no attributes", None, 2),
        ]
        links = [
            Link(SpanContext(2**128 - 1, 2**64 - 1, True, TraceFlags(TraceFlags.SAMPLED), TRACE_STATE),
                 _attributes(TRICKY_VALUES)),
            Link(SpanContext(1, 1, False), _attributes({"x": 1, "y": 2}, maxlen=1)),
        ]  # fmt: skip
        made.append(
            ReadableSpan(
                name=["GET /shop/products/<int:pk>/", "", "SELECT shop_product", "é" * 300, "send"][index],
                context=SpanContext(trace_id, 0x1000 + index, False, flags, TRACE_STATE),
                parent=[remote_parent, None, SpanContext(trace_id, 0x99, False)][index % 3],
                resource=owner,
                attributes=_attributes(
                    everything if index < 3 else {"a": 1, "b": 2, "c": 3}, maxlen=None if index < 3 else 2
                ),
                events=events if index % 2 == 0 else BoundedList.from_seq(1, events),
                links=links if index % 2 == 0 else BoundedList.from_seq(1, links),
                kind=kind,
                instrumentation_scope=SCOPES[index % 2],
                status=Status(code, "failed: é" if code is StatusCode.ERROR else None),
                start_time=1_700_000_000_000_000_000 + index * 1000,
                end_time=1_700_000_000_000_000_000 + index * 1000 + 500_000,
            )
        )
    return made


BODIES: list[Any] = [
    "a message: é€😀",
    {
        "message": "structured",
        "nested": {"list": [1, 2.5, "x", None, True, b"\x00"], "empty": {}},
        "n": INT64_MIN,
    },
    ["a", 1, math.nan],
    b"\x00\x01 raw",
    None,
    INT64_MAX,
    "",
]


def log_records(service_name: str) -> list[ReadableLogRecord]:
    """Records with every body type, severity, event name, with and without a span, with dropped and
    tricky attributes; ``record.index`` tells them apart."""
    owner = resource(service_name)
    in_span = NonRecordingSpan(SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, False,
                                           TraceFlags(TraceFlags.SAMPLED)))  # fmt: skip
    made = []
    for index, body in enumerate(BODIES):
        extra = TRICKY_VALUES if index % 2 == 0 else {"dropped": 1, "too": 2}
        attributes: dict[str, Any] = {**extra, "record.index": index}  # the oldest are dropped first
        record = LogRecord(
            timestamp=None if index == 3 else 1_700_000_000_000_000_000 + index,
            observed_timestamp=1_700_000_000_100_000_000 + index,
            context=set_span_in_context(in_span, Context()) if index % 3 else Context(),
            severity_text=[None, "WARN", "érreur"][index % 3],
            severity_number=[None, SeverityNumber.WARN, SeverityNumber.FATAL4][index % 3],
            body=body,
            attributes=_attributes(attributes, maxlen=1 if index == 1 else None)
            if index != 5
            else attributes,
            event_name=["", "dcm.job.transition", None][index % 3],
        )
        made.append(ReadableLogRecord(record, owner, SCOPES[index % 2]))
    return made
