"""(Issue 17) dcm_otel's OTLP encoder through the real collector: the same spans and log records, sent once
by the official exporters, once by ours, and once more through the processors that encode each item as it
ends or is emitted (told apart by the resource's service name), are decoded by the built collector's
OTLP/HTTP receiver and written by its file exporter (OTLP JSON, the shipped debug overlay); every span and
record is compared field by field. Likewise the log bridge's records by its shortcut against those made
through the SDK's records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import INVALID_SPAN, NonRecordingSpan, use_span

from dcm_otel import providers
from dcm_otel._sdk import log_fast_path, otlp_http_encoding, otlp_http_exporters
from dcm_otel.config import Config
from dcm_otel.logs import bridge
from dcm_otel.logs.bridge import OtlpLogHandler
from dcm_otel.logs.redaction import RedactingFilter, Redactor
from tests import otlp_samples
from tests.services._common import wait_until
from tests.test_encoded_processors import SPAN, log_calls

from .configs import running_collector

ARRIVAL_TIMEOUT = 30.0  # the file exporter flushes every second
ENCODERS = ("official", "fast")
SENDERS = (*ENCODERS, "processor")  # the processor: the fast encoder's span and log record processors


def test_the_collector_decodes_our_payloads_into_the_official_ones(
    collector_binary: Path, tmp_path: Path
) -> None:
    output = tmp_path / "telemetry.jsonl"
    env = {"OTELCOL_FILE_PATH": str(output), "OTELCOL_LOG_LEVEL": "warn"}
    with running_collector(collector_binary, ["base", "debug"], env, tmp_path) as collector:
        for encoder in ENCODERS:
            config = Config(otlp_endpoint=collector.otlp_http, otlp_encoder=encoder)
            spans = providers._otlp_exporter(config, "traces")
            logs = providers._otlp_exporter(config, "logs")
            assert isinstance(spans, otlp_http_exporters.SpanExporter) == (encoder == "fast")
            assert isinstance(logs, otlp_http_exporters.LogExporter) == (encoder == "fast")
            assert spans.export(otlp_samples.spans(encoder)).name == "SUCCESS"
            assert logs.export(otlp_samples.log_records(encoder)).name == "SUCCESS"
            spans.shutdown()
            logs.shutdown()
        _send_through_the_processors(collector.otlp_http)
        expected = {"spans": len(otlp_samples.spans("")), "logRecords": len(otlp_samples.log_records(""))}
        arrived = wait_until(
            lambda: all(len(items) == expected[kind] for (kind, _), items in _received(output).items()),
            ARRIVAL_TIMEOUT,
            0.5,
        )
        assert arrived, (
            {kind: len(items) for kind, items in _received(output).items()},
            collector.log_tail(),
        )
    received = _received(output)
    for kind, sender in [(kind, sender) for kind in ("spans", "logRecords") for sender in SENDERS[1:]]:
        official, ours = received[kind, "official"], received[kind, sender]
        assert sorted(official) == sorted(ours)
        for key in official:
            assert list(_differences(official[key], ours[key])) == [], (kind, sender, key)
    _assert_the_tricky_values_arrived(received["spans", "fast"])
    _assert_the_tricky_values_arrived(received["spans", "processor"])
    for sender in SENDERS[1:]:
        structured = received["logRecords", sender]["1"]["item"]["body"]["kvlistValue"]["values"]
        assert [kv["key"] for kv in structured] == ["message", "nested", "n"]


def _send_through_the_processors(endpoint: str) -> None:
    config = Config(otlp_endpoint=endpoint)
    spans = otlp_http_encoding.span_processor(providers._otlp_exporter(config, "traces"))
    logs = otlp_http_encoding.log_processor(providers._otlp_exporter(config, "logs"))
    assert spans is not None
    assert logs is not None
    for span in otlp_samples.spans("processor", all_sampled=True):
        spans.on_end(span)
    for record in otlp_samples.log_records("processor"):
        logs.on_emit(record)  # type: ignore[arg-type]  # what the encoder reads of a ReadWriteLogRecord
    for processor in (spans, logs):
        assert processor.force_flush(10_000)
        processor.shutdown()


def _received(path: Path, senders: tuple[str, ...] = SENDERS) -> dict[Any, dict[str, Any]]:
    """(kind, sender) -> item key -> the item, with its resource (less the service name) and scope."""
    found: dict[Any, dict[str, Any]] = {(k, e): {} for k in ("spans", "logRecords") for e in senders}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    for line in lines:
        request = json.loads(line)
        for kind, resources, scopes in (
            ("spans", "resourceSpans", "scopeSpans"),
            ("logRecords", "resourceLogs", "scopeLogs"),
        ):
            for resource_items in request.get(resources, []):
                resource = resource_items["resource"]
                sender = _pop_attribute(resource, "service.name")
                for scope_items in resource_items.get(scopes, []):
                    for item in scope_items.get(kind, []):
                        key = item.get("spanId") if kind == "spans" else _attribute(item, "record.index")
                        found[kind, sender][str(key)] = {
                            "item": item,
                            "resource": resource,
                            "resource_schema": resource_items.get("schemaUrl"),
                            "scope": scope_items.get("scope"),
                            "scope_schema": scope_items.get("schemaUrl"),
                        }
    return found


BRIDGES = ("bridge_sdk", "bridge_shortcut")  # the log bridge through the SDK's records, and by its shortcut


def test_the_log_bridges_shortcut_arrives_as_its_sdk_path(
    collector_binary: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same Python log calls (plain, %-args, non-ASCII, a 1.5 MB body, extra attributes, masked ones,
    an exception with its traceback, custom levels, inside and outside a span) through the bridge into the
    fast OTLP/HTTP exporter's processor, once through the SDK's records and once by the shortcut: decoded
    by the collector, the records are equal field by field."""
    monkeypatch.setattr(bridge, "time_ns", lambda: 1_790_000_000_500_000_000)
    shortcut_taken: list[object] = []
    take = log_fast_path.emit
    monkeypatch.setattr(log_fast_path, "emit", lambda *args: shortcut_taken.append(take(*args)))
    output = tmp_path / "telemetry.jsonl"
    env = {"OTELCOL_FILE_PATH": str(output), "OTELCOL_LOG_LEVEL": "warn"}
    with running_collector(collector_binary, ["base", "debug"], env, tmp_path) as collector:
        sent = [_log_through_the_bridge(collector.otlp_http, sender) for sender in BRIDGES]
        arrived = wait_until(
            lambda: [len(_received(output, BRIDGES)["logRecords", s]) for s in BRIDGES] == sent,
            ARRIVAL_TIMEOUT,
            0.5,
        )
        assert arrived, collector.log_tail()
    assert len(shortcut_taken) == sent[1] - 4  # all but the list and the map values, twice
    received = _received(output, BRIDGES)
    through_sdk, shortcut = (received["logRecords", sender] for sender in BRIDGES)
    assert sorted(through_sdk) == sorted(shortcut)
    for key in through_sdk:
        assert list(_differences(through_sdk[key], shortcut[key])) == [], key
    assert (
        sum(item["item"].get("traceId") == f"{SPAN.trace_id:032x}" for item in shortcut.values())
        == sent[1] // 2
    )
    bodies = {item["item"]["body"]["stringValue"] for item in shortcut.values()}
    assert {"ünïcödé ✓ 日本語", "order #7 for 3 €", "x" * 1_500_000} <= bodies


def _log_through_the_bridge(endpoint: str, sender: str) -> int:
    """:func:`tests.test_encoded_processors.log_calls` outside and inside a span, numbered by
    ``record.index``; how many records were sent."""
    processor = otlp_http_encoding.log_processor(
        providers._otlp_exporter(Config(otlp_endpoint=endpoint), "logs")
    )
    assert processor is not None
    provider = LoggerProvider(resource=Resource({"service.name": sender}), shutdown_on_exit=False)
    provider.add_log_record_processor(processor)
    handler = OtlpLogHandler(provider)
    handler.addFilter(RedactingFilter(Redactor(Config().redact_keys)))
    handler._fast = sender == "bridge_shortcut"
    sent = 0
    for span in (INVALID_SPAN, NonRecordingSpan(SPAN)):
        with use_span(span):
            for record in log_calls():
                record.__dict__["record.index"] = sent
                handler.handle(record)
                sent += 1
    assert processor.force_flush(10_000)
    processor.shutdown()
    return sent


def _pop_attribute(owner: dict[str, Any], key: str) -> Any:
    attributes = owner.get("attributes", [])
    (value,) = [a["value"] for a in attributes if a["key"] == key]
    owner["attributes"] = [a for a in attributes if a["key"] != key]
    return value.get("stringValue")


def _attribute(owner: dict[str, Any], key: str) -> Any:
    (value,) = [a["value"] for a in owner.get("attributes", []) if a["key"] == key]
    return next(iter(value.values()))


def _differences(official: Any, fast: Any, path: str = "") -> Iterator[str]:
    """Every path (``item.attributes[3].value``) where the two decoded items differ."""
    if isinstance(official, dict) and isinstance(fast, dict):
        for key in sorted(set(official) | set(fast)):
            yield from _differences(official.get(key), fast.get(key), f"{path}.{key}")
    elif isinstance(official, list) and isinstance(fast, list) and len(official) == len(fast):
        for index, (a, b) in enumerate(zip(official, fast, strict=True)):
            yield from _differences(a, b, f"{path}[{index}]")
    elif official != fast:
        yield f"{path}: {str(official)[:80]} != {str(fast)[:80]}"


def _assert_the_tricky_values_arrived(spans: dict[str, Any]) -> None:
    """The comparison is not of two empty or equally mangled payloads: what was sent is what arrived."""
    first = next(s["item"] for s in spans.values() if s["item"]["name"] == "GET /shop/products/<int:pk>/")
    values = {a["key"]: a["value"] for a in first["attributes"]}
    assert values["non_ascii"] == {"stringValue": otlp_samples.TRICKY_VALUES["non_ascii"]}
    assert values["huge"]["stringValue"] == otlp_samples.TRICKY_VALUES["huge"]
    assert values["int64_min"] == {"intValue": str(otlp_samples.INT64_MIN)}
    assert values["ints"]["arrayValue"]["values"][2] == {"intValue": str(otlp_samples.INT64_MAX)}
    assert "int_over_int64" not in values
    assert first["parentSpanId"] == "b7ad6b7169203331"
    assert first["traceState"] == "vendor=value-1,tenant@system=x"
    assert {len(s["item"].get("events", [])) for s in spans.values()} == {1, 3}
    assert {s["item"].get("droppedLinksCount", 0) for s in spans.values()} == {0, 1}


@pytest.fixture(autouse=True)
def _quiet_official_encoder(caplog: pytest.LogCaptureFixture) -> None:
    """The rejected sample values make both encoders log an error per attribute: expected here."""
    caplog.set_level("CRITICAL", logger="opentelemetry.exporter.otlp.proto.common")
