"""The JSON line, its trace correlation and masking, in-process with real SDK providers."""

from __future__ import annotations

import datetime
import decimal
import io
import json
import logging
import re
import uuid
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from benchmarks.json_logs import measure
from dcm_otel._sdk import span_fields
from dcm_otel.config import DEFAULT_REDACT_KEYS, ConfigError, load_config
from dcm_otel.logs import RedactingFilter, span_processors
from dcm_otel.logs.formatter import JsonFormatter
from dcm_otel.logs.redaction import Redactor

SECRET = "s3cr3t-Pl4nted"
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter(Redactor(DEFAULT_REDACT_KEYS)))
    logger = logging.getLogger("tests.logs.unit")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_line_has_the_documented_fields_and_the_current_span_ids(lines) -> None:
    logger, stream = lines
    tracer = TracerProvider().get_tracer(__name__)
    logger.info("outside")
    with tracer.start_as_current_span("work") as span:
        logger.info("job %s", "42", extra={"dcm.job.id": "42", "dcm.job.exit_code": 3})
    outside, inside = records(stream)
    for record in (outside, inside):
        assert RFC3339_UTC.match(str(record["timestamp"])), record
        assert record["level"] == "INFO"
        assert record["logger"] == "tests.logs.unit"
        assert record["service.name"] == "django-app"
    assert "trace_id" not in outside
    assert "span_id" not in outside
    context = span.get_span_context()
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")
    assert inside["message"] == "job 42"
    assert inside["dcm.job.id"] == "42"
    assert inside["dcm.job.exit_code"] == 3


def test_values_json_cannot_hold_natively_are_rendered_not_lost(lines) -> None:
    logger, stream = lines
    when = datetime.datetime(2026, 1, 31, 12, 0, tzinfo=datetime.UTC)
    usual = {"when": when, "uuid": uuid.UUID(int=7), "price": decimal.Decimal("1.50")}
    logger.info("odd", extra={**usual, "big": 2**70, "raw": b"x"})
    logger.info("usual", extra=usual)
    big, usual = records(stream)
    assert big["big"] == 2**70  # beyond orjson's 64 bits: the stdlib fallback renders the line
    for record in (big, usual):
        assert record["when"] == "2026-01-31T12:00:00+00:00"
        assert record["uuid"] == str(uuid.UUID(int=7))
        assert record["price"] == "1.50"
    assert big["raw"]


def test_secrets_are_masked_in_fields_nested_env_message_and_exception(lines) -> None:
    logger, stream = lines
    try:
        raise RuntimeError(f"connect failed: password={SECRET}")
    except RuntimeError:
        logger.exception(
            "calling with Authorization: Bearer %s and %s",
            SECRET,
            {"API_TOKEN": SECRET, "GREETING": "hello"},
            extra={
                "api_key": SECRET,
                "dcm.job.environment": {"GREETING": "hello", "DB_PASSWORD": SECRET},
                "payload": {"user": "bob", "session_cookie": SECRET},
                "when": object(),  # not JSON: rendered, not fatal
            },
        )
    output = stream.getvalue()
    assert SECRET not in output
    (record,) = records(stream)
    assert record["api_key"] == "***"
    assert record["dcm.job.environment"] == {"GREETING": "***", "DB_PASSWORD": "***"}
    assert record["payload"] == {"user": "bob", "session_cookie": "***"}
    assert "'API_TOKEN': '***'" in str(record["message"])
    assert "'GREETING': 'hello'" in str(record["message"])
    assert "Authorization: ***" in str(record["message"])
    assert "password=***" in str(record["exception.stacktrace"])


def test_a_logging_failure_never_reaches_the_caller(lines) -> None:
    logger, stream = lines
    logger.info("two %s %s", "args")  # does not fit the format: Python would print a traceback
    (record,) = records(stream)
    assert "arguments did not match" in str(record["message"])

    class Broken(Redactor):
        def text(self, text: str) -> str:
            raise ValueError("boom")

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token=%s", (SECRET,), None)
    assert RedactingFilter(Broken(DEFAULT_REDACT_KEYS)).filter(record) is False  # dropped, not raised


@pytest.mark.parametrize("direct", [True, False], ids=["span fields read directly", "public properties"])
def test_span_attributes_given_at_start_are_masked(direct: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(span_fields.FEATURE, "_available", span_fields.FEATURE.available() and direct)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    for processor in span_processors(load_config({})):
        provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(__name__)
    attributes = {"url.path": f"/hook?token={SECRET}", "app.api_key": SECRET, "dcm.job.name": "nightly"}
    with tracer.start_as_current_span("GET /hook", attributes=attributes):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None
    assert dict(span.attributes) == {
        "url.path": "/hook?token=***",
        "app.api_key": "***",
        "dcm.job.name": "nightly",
    }


def test_redact_keys_is_validated_and_replaces_the_defaults() -> None:
    assert load_config({"redact_keys": ["Pin", "otp"]}).redact_keys == ("pin", "otp")
    assert load_config({}, {"DCM_OTEL_REDACT_KEYS": "pin, otp"}).redact_keys == ("pin", "otp")
    with pytest.raises(ConfigError, match=r"DCM_OTEL\['redact_keys'\]=\[''\] is invalid: expected a list"):
        load_config({"redact_keys": [""]})


def test_bench_measures_formatting_and_bridging_per_record() -> None:
    figures = measure(records=300, repeats=1)
    assert set(figures) == {"plain_us", "json_us", "otlp_bridge_us", "json_ratio", "json_and_otlp_ratio"}
    assert all(value > 0 for value in figures.values())


def test_a_message_without_arguments_is_masked_each_time_it_is_logged(lines) -> None:
    """Such a message's masking is remembered (mostly it is a constant of the code): a repeat is masked as
    the first was, a long one too, and a stream of one-off messages (f-strings) cannot grow the memory."""
    logger, stream = lines
    long_message = "x" * 2000 + f" api_key={SECRET}"
    for _ in range(2):
        logger.info(f"retrying with api_key={SECRET}")
        logger.info(long_message)
    assert SECRET not in stream.getvalue()
    assert all("api_key=***" in str(record["message"]) for record in records(stream))
    redactor = Redactor(DEFAULT_REDACT_KEYS)
    for n in range(10_000):
        assert redactor.message(f"order {n} shipped") == f"order {n} shipped"
    assert 0 < len(redactor._messages) <= 4096
