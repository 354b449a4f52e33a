"""dcm_otel's OTLP encoder (dcm_otel.export) against the official one: for generated spans and log records
with every kind of field, our bytes parse (with the official ``opentelemetry.proto`` messages) into the
messages the official encoder builds. Then the exporters around it: what they send, how they fail, how a
user goes back to the official encoder, and the bounded cache."""

from __future__ import annotations

import gzip
import logging
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
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

import dcm_otel._sdk
from dcm_otel import providers
from dcm_otel._sdk import otlp_http_encoding, otlp_http_exporters, span_fields
from dcm_otel._sdk.feature_check import FeatureCheck
from dcm_otel.config import Config, ConfigError, load_config
from dcm_otel.export import otlp_wire
from dcm_otel.export.log_encoding import LogEncoder
from dcm_otel.export.trace_encoding import TraceEncoder
from tests import otlp_samples
from tests.otlp_receiver import OtlpReceiver, start_receiver

EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- what spans and log records are made of

INT64 = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([-(2**63), 2**63 - 1, 0, -1, 127, 128]))
TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", "é€😀 ünïcødé 中文", "x" * (otlp_wire.CACHED_STRING_LENGTH + 1), "y" * 20_000]),
)
SCALARS = st.one_of(st.booleans(), INT64, st.floats(), TEXT, st.binary(max_size=20))
ARRAYS = st.one_of(
    *(st.lists(s, max_size=4).map(tuple) for s in (st.booleans(), INT64, st.floats(), TEXT, st.binary()))
)
#: values the official encoder leaves out (and logs): ours must leave them out too
REJECTED = st.sampled_from([2**63, -(2**63) - 1, "\ud800 lone surrogate", (1, 2**64)])
VALUES = st.one_of(SCALARS, ARRAYS, REJECTED, st.sampled_from(list(otlp_samples.TRICKY_VALUES.values())))
KEYS = st.one_of(
    st.sampled_from(["http.route", "db.query.text", "é", "k" * 300]), st.text(min_size=1, max_size=12)
)
MAXLEN = st.one_of(st.none(), st.integers(0, 4))  # a small limit drops attributes, events or links


@st.composite
def bounded_attributes(draw: st.DrawFn) -> BoundedAttributes:
    return BoundedAttributes(draw(MAXLEN), draw(st.dictionaries(KEYS, VALUES, max_size=6)), immutable=True)


TRACE_IDS = st.one_of(st.integers(1, 2**128 - 1), st.sampled_from([1, 2**128 - 1]))
SPAN_IDS = st.one_of(st.integers(1, 2**64 - 1), st.sampled_from([1, 2**64 - 1]))
TRACE_STATES = st.sampled_from([TraceState(), TraceState([("vendor", "v1"), ("tenant@sys", "a=b")])])
FLAGS = st.integers(0, 255).map(TraceFlags)
CONTEXTS = st.builds(SpanContext, TRACE_IDS, SPAN_IDS, st.booleans(), FLAGS, TRACE_STATES)
TIMES = st.one_of(st.none(), st.integers(0, 2**64 - 1))

SERVICE = {"service.name": "shop", "service.version": "1.0", "host.name": "web-1"}
RESOURCES = [
    Resource(SERVICE),
    Resource(dict(SERVICE)),  # equal to the first, another object: one group, as the official encoder makes
    Resource(
        {"service.name": "wörker", "list": ("a", "b"), "n": 3}, "https://opentelemetry.io/schemas/1.30.0"
    ),
    Resource({}),
]
SCOPES = [
    None,
    InstrumentationScope("dcm_otel.instrumentation.db"),
    InstrumentationScope("dcm_otel.instrumentation.django", "0.1.0", "https://schema/1", {"a": "b", "n": 1}),
    # equal to the one above (attributes are not part of a scope's identity): it joins its group
    InstrumentationScope("dcm_otel.instrumentation.django", "0.1.0", "https://schema/1", {"other": True}),
]


def _bounded_list(draw: st.DrawFn, items: list[Any]) -> Any:
    maxlen = draw(MAXLEN)
    return BoundedList.from_seq(maxlen, items) if maxlen is not None else tuple(items)


@st.composite
def spans(draw: st.DrawFn) -> ReadableSpan:
    events = [
        Event(draw(TEXT), draw(bounded_attributes()), draw(st.integers(0, 2**64 - 1)))
        for _ in range(draw(st.integers(0, 3)))
    ]
    links = [Link(draw(CONTEXTS), draw(bounded_attributes())) for _ in range(draw(st.integers(0, 2)))]
    code = draw(st.sampled_from(StatusCode))
    return ReadableSpan(
        name=draw(TEXT),
        context=draw(
            CONTEXTS.map(lambda c: SpanContext(c.trace_id, c.span_id, False, c.trace_flags, c.trace_state))
        ),
        parent=draw(st.one_of(st.none(), CONTEXTS)),
        resource=draw(st.sampled_from(RESOURCES)),
        attributes=draw(bounded_attributes()),
        events=_bounded_list(draw, events),
        links=_bounded_list(draw, links),
        kind=draw(st.sampled_from(SpanKind)),
        instrumentation_scope=draw(st.sampled_from(SCOPES)),
        status=Status(code, draw(TEXT) if code is StatusCode.ERROR else None),
        start_time=draw(TIMES),
        end_time=draw(TIMES),
    )


BODIES = st.recursive(
    st.one_of(st.none(), SCALARS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def log_records(draw: st.DrawFn) -> ReadableLogRecord:
    span_context = draw(st.one_of(st.just(SpanContext(0, 0, False)), CONTEXTS))
    attributes = draw(st.one_of(bounded_attributes(), st.dictionaries(KEYS, BODIES, max_size=4)))
    record = LogRecord(
        timestamp=draw(TIMES),
        observed_timestamp=draw(st.integers(1, 2**64 - 1)),
        context=set_span_in_context(NonRecordingSpan(span_context), Context()),
        severity_text=draw(st.one_of(st.none(), TEXT)),
        severity_number=draw(st.one_of(st.none(), st.sampled_from(SeverityNumber))),
        body=draw(BODIES),
        attributes=attributes,
        event_name=draw(st.one_of(st.none(), TEXT)),
    )
    return ReadableLogRecord(record, draw(st.sampled_from(RESOURCES)), draw(st.sampled_from(SCOPES)))


# ---- equality with the official encoder

#: shared across examples, so later examples are encoded from the pairs earlier ones cached
TRACES, LOGS = TraceEncoder(), LogEncoder()


@EXAMPLES
@given(st.lists(spans(), max_size=8))
def test_spans_decode_to_the_official_encoders_messages(batch: list[ReadableSpan]) -> None:
    official = encode_spans(batch)
    assert ExportTraceServiceRequest.FromString(TRACES.encode(batch)) == official
    assert ExportTraceServiceRequest.FromString(TraceEncoder().encode(batch)) == official


@EXAMPLES
@given(st.lists(log_records(), max_size=8))
def test_log_records_decode_to_the_official_encoders_messages(batch: list[ReadableLogRecord]) -> None:
    official = encode_logs(batch)
    assert ExportLogsServiceRequest.FromString(LOGS.encode(batch)) == official
    assert ExportLogsServiceRequest.FromString(LogEncoder().encode(batch)) == official


@settings(EXAMPLES, max_examples=30)
@given(st.lists(spans(), min_size=1, max_size=4))
def test_with_the_direct_span_fields_off_the_bytes_are_the_same(batch: list[ReadableSpan]) -> None:
    with _feature_off(span_fields.FEATURE):
        public = TraceEncoder().encode(batch)
    assert public == TraceEncoder().encode(batch)


def test_the_samples_sent_through_the_collector_are_encoded_alike() -> None:
    """tests/collector/test_otlp_encoding.py sends these; here without a collector."""
    spans, records = otlp_samples.spans("shop"), otlp_samples.log_records("shop")
    assert ExportTraceServiceRequest.FromString(TraceEncoder().encode(spans)) == encode_spans(spans)
    assert ExportLogsServiceRequest.FromString(LogEncoder().encode(records)) == encode_logs(records)


def test_a_multi_megabyte_attribute_and_a_thousand_attributes_are_encoded_alike() -> None:
    """Lengths of four varint bytes (over 2 MiB), a long repeated field, a string never cached."""
    attributes = {f"k{i}": i for i in range(1000)} | {"blob": b"\x00" * (3 << 20), "text": "é" * (2 << 20)}
    span = _span("huge", attributes)
    assert ExportTraceServiceRequest.FromString(TraceEncoder().encode([span])) == encode_spans([span])


def test_a_typical_batch_is_byte_for_byte_the_official_one() -> None:
    """Not required (field order may differ), but true today: a collector sees the very same payload."""
    batch = [
        _span(f"SELECT shop_product {i}", {"db.system.name": "postgresql", "server.port": 5432})
        for i in range(64)
    ]
    assert TraceEncoder().encode(batch) == encode_spans(batch).SerializeToString()


def test_levels_and_bodies_encoded_once_are_encoded_as_each_record_has_them() -> None:
    """The encoder keeps a level's severity fields by their text, and a string body: two numbers under one
    text, no number, and a body seen before (or too long to keep) still decode as the official encoder's."""
    long_body = "b" * 300
    fields = [
        ("INFO", SeverityNumber.INFO, "served"),
        ("INFO", SeverityNumber.INFO2, "served"),
        ("INFO", None, "served"),
        (None, SeverityNumber.WARN, long_body),
        ("INFO", SeverityNumber.INFO, long_body),
    ]
    batch = [
        ReadableLogRecord(
            LogRecord(timestamp=1, severity_text=text, severity_number=number, body=body),
            RESOURCES[0],
            SCOPES[0],
        )
        for text, number, body in fields
    ]
    encoder = LogEncoder()
    for _ in range(2):  # the second time from what the first kept
        assert ExportLogsServiceRequest.FromString(encoder.encode(batch)) == encode_logs(batch)
    for n in range(3000):
        encoder._body(f"order {n} shipped")
    assert 0 < len(encoder._bodies) <= 1024


# ---- the cache


def test_the_pair_cache_stays_bounded_and_skips_floats_and_long_strings() -> None:
    encoder = TraceEncoder()
    pairs = encoder._values._pairs
    long_text = "z" * (otlp_wire.CACHED_STRING_LENGTH + 1)
    encoder.encode([_span("warm", {"f": 0.5, "long": long_text, "kept": "short"})])
    cached = {key[1] for key in pairs}
    assert "short" in cached
    assert "warm" in cached
    assert 0.5 not in cached
    assert long_text not in cached
    for start in range(0, 3 * otlp_wire.PAIR_CACHE_SIZE, 500):  # many short values
        encoder.encode([_span("many", {f"user.id.{i}": f"u{i}" for i in range(start, start + 500)})])
        assert 0 < len(pairs) <= otlp_wire.PAIR_CACHE_SIZE
    for start in range(0, 3000, 100):  # 3 MB of long ones
        encoder.encode(
            [_span("long", {f"sql.{i}": f"{i:04}" + "s" * 996 for i in range(start, start + 100)})]
        )
        assert sum(map(len, pairs.values())) <= otlp_wire.PAIR_CACHE_BYTES + 1100


def test_a_rejected_attribute_is_left_out_and_logged_once_while_cached(
    caplog: pytest.LogCaptureFixture,
) -> None:
    encoder = TraceEncoder()
    caplog.set_level(logging.WARNING, logger="dcm_otel")
    batch = [_span("s", {"too.big": 2**64, "kept": 1}) for _ in range(3)]
    for _ in range(2):
        assert ExportTraceServiceRequest.FromString(encoder.encode(batch)) == encode_spans(batch)
    assert [r.getMessage() for r in caplog.records if r.name == "dcm_otel"] == [
        "dcm_otel: attribute 'too.big' left out of the OTLP export: 18446744073709551616 is outside int64"
    ]


# ---- the exporters


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = start_receiver()
    yield receiver
    receiver.close()


def test_the_fast_exporters_deliver_what_the_official_ones_do(receiver: OtlpReceiver) -> None:
    span, record = otlp_http_exporters.probe_span(), otlp_http_exporters.probe_log_record()
    exporters: list[tuple[Any, Any]] = [
        (otlp_http_exporters.SpanExporter(endpoint=receiver.endpoint + "/v1/traces"), span),
        (OTLPSpanExporter(endpoint=receiver.endpoint + "/v1/traces"), span),
        (otlp_http_exporters.LogExporter(endpoint=receiver.endpoint + "/v1/logs"), record),
        (OTLPLogExporter(endpoint=receiver.endpoint + "/v1/logs"), record),
    ]
    for exporter, item in exporters:
        assert exporter.export([item]).name == "SUCCESS"
        exporter.shutdown()
    ours, official = receiver.received["/v1/traces"]
    assert ours == official == encode_spans([span])
    ours, official = receiver.received["/v1/logs"]
    assert ours == official == encode_logs([record])
    assert {h["content-type"] for h in receiver.headers} == {"application/x-protobuf"}


def test_the_exporter_keeps_the_official_settings_compression_and_headers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The per-signal variables the official exporter reads still apply (here gzip and a header)."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-api-key=secret")
    with _recording_server(200) as (endpoint, seen):
        exporter = otlp_http_exporters.SpanExporter(endpoint=endpoint)
        span = otlp_http_exporters.probe_span()
        assert exporter.export([span]) is SpanExportResult.SUCCESS
        exporter.shutdown()
    ((headers, body),) = seen
    assert headers["content-encoding"] == "gzip"
    assert headers["x-api-key"] == "secret"
    assert headers["content-type"] == "application/x-protobuf"
    assert ExportTraceServiceRequest.FromString(gzip.decompress(body)) == encode_spans([span])


def test_a_failing_backend_a_closed_port_and_a_shut_exporter_fail_the_batch_without_raising() -> None:
    span = otlp_http_exporters.probe_span()
    with _recording_server(400) as (endpoint, seen):
        exporter = otlp_http_exporters.SpanExporter(endpoint=endpoint, timeout=2)
        assert exporter.export([span]) is SpanExportResult.FAILURE
    assert len(seen) == 1  # a 400 is not retried
    closed = otlp_http_exporters.LogExporter(endpoint=endpoint, timeout=1)  # the server is gone
    assert closed.export([otlp_http_exporters.probe_log_record()]) is LogRecordExportResult.FAILURE
    exporter.shutdown()
    assert exporter.export([span]) is SpanExportResult.FAILURE


def test_a_batch_over_the_size_limit_or_that_cannot_be_encoded_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with _recording_server(200) as (endpoint, seen):
        small = otlp_http_exporters.SpanExporter(endpoint=endpoint, max_request_size=100)
        assert small.export([otlp_http_exporters.probe_span()]) is SpanExportResult.FAILURE
        exporter = otlp_http_exporters.SpanExporter(endpoint=endpoint)
        assert exporter.export([_span("\ud800", {})]) is SpanExportResult.FAILURE  # a name UTF-8 cannot hold
    assert seen == []
    assert any("exceeds max_request_size" in r.getMessage() for r in caplog.records)
    assert any("Failed to encode span batch" in r.getMessage() for r in caplog.records)


# ---- the setting


@pytest.mark.parametrize(("encoder", "traces", "logs"), [
    ("fast", otlp_http_exporters.SpanExporter, otlp_http_exporters.LogExporter),
    ("official", OTLPSpanExporter, OTLPLogExporter),
])  # fmt: skip
def test_otlp_encoder_picks_the_exporters(encoder: str, traces: type, logs: type) -> None:
    config = Config(otlp_endpoint="http://127.0.0.1:4318", otlp_encoder=encoder)  # type: ignore[arg-type]
    made = [providers._otlp_exporter(config, signal) for signal in ("traces", "logs", "metrics")]
    assert [type(e) for e in made[:2]] == [traces, logs]
    assert type(made[2]).__module__.startswith("opentelemetry.exporter.otlp.proto.http")  # metrics: official
    for exporter in made:
        exporter.shutdown()


def test_otlp_encoder_is_read_from_the_environment_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_config({}).otlp_encoder == "fast"
    monkeypatch.setenv("DCM_OTEL_OTLP_ENCODER", "official")
    assert load_config({}).otlp_encoder == "official"
    with pytest.raises(ConfigError) as raised:
        load_config({"otlp_encoder": "json"})
    assert "otlp_encoder" in str(raised.value)
    assert "'json'" in str(raised.value)
    assert "fast, official" in str(raised.value)


def test_when_the_feature_check_fails_the_official_exporter_is_used(caplog: pytest.LogCaptureFixture) -> None:
    assert FeatureCheck("again", "", otlp_http_encoding.FEATURE._probe).available()  # the probe passes here
    caplog.set_level(logging.INFO, logger="dcm_otel")
    config = Config(otlp_endpoint="http://127.0.0.1:4318")
    with _feature_off(otlp_http_encoding.FEATURE):
        exporter = providers._otlp_exporter(config, "traces")
    assert type(exporter) is OTLPSpanExporter
    exporter.shutdown()
    assert "SDK shortcut OTLP encoder is off" in caplog.text


def test_an_sdk_lacking_what_the_exporters_import_gets_the_official_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another SDK may lack a private name the exporters module imports: no error, the official path."""
    monkeypatch.setitem(sys.modules, "dcm_otel._sdk.otlp_http_exporters", None)  # importing it raises
    monkeypatch.delattr(dcm_otel._sdk, "otlp_http_exporters")
    monkeypatch.setattr(otlp_http_encoding.FEATURE, "_available", None)
    assert otlp_http_encoding.exporter_class("traces") is None
    assert otlp_http_encoding.exporter_class("logs") is None


# ---- helpers


def _span(name: str, attributes: dict[str, Any]) -> ReadableSpan:
    return ReadableSpan(
        name=name,
        context=SpanContext(0xABC, 0xDEF, False),
        parent=SpanContext(0xABC, 0x123, True),
        resource=RESOURCES[0],
        attributes=BoundedAttributes(None, attributes, immutable=True),
        kind=SpanKind.CLIENT,
        instrumentation_scope=SCOPES[1],
        start_time=1_700_000_000_000_000_000,
        end_time=1_700_000_000_000_100_000,
    )


class _feature_off:
    """As if the SDK had changed underneath: the check runs again and fails."""

    def __init__(self, feature: FeatureCheck) -> None:
        self.feature = feature

    def __enter__(self) -> None:
        self.saved = self.feature._probe, self.feature._available
        self.feature._probe, self.feature._available = self._fail, None

    def __exit__(self, *exc: object) -> None:
        self.feature._probe, self.feature._available = self.saved

    @staticmethod
    def _fail() -> None:
        raise AttributeError("changed underneath")


class _recording_server:
    """An HTTP server on 127.0.0.1 answering every POST with ``status``, keeping headers and body."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.seen: list[tuple[dict[str, str], bytes]] = []

    def __enter__(self) -> tuple[str, list[tuple[dict[str, str], bytes]]]:
        status, seen = self.status, self.seen

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                seen.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces", seen

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
