"""(Issue 17) dcm_otel's OTLP encoder through the real collector: the same spans and log records, sent once
by the official exporters, once by ours, and once more through the processors that encode each item as it
ends or is emitted (told apart by the resource's service name), are decoded by the built collector's
OTLP/HTTP receiver and written by its file exporter (OTLP JSON, the shipped debug overlay); every span and
record is compared field by field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dcm_otel import providers
from dcm_otel._sdk import otlp_http_encoding, otlp_http_exporters
from dcm_otel.config import Config
from tests import otlp_samples
from tests.services._common import wait_until

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


def _received(path: Path) -> dict[Any, dict[str, Any]]:
    """(kind, sender) -> item key -> the item, with its resource (less the service name) and scope."""
    found: dict[Any, dict[str, Any]] = {(k, e): {} for k in ("spans", "logRecords") for e in SENDERS}
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
