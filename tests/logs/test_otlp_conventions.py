"""What the OTLP bridge exports against the semantic conventions (v1.44.0): an exception record carries
``exception.type`` and ``exception.message`` beside the stacktrace (model/exceptions/logs.yaml), and an
``extra=`` field without a namespace is not exported under its bare name (docs/general/naming.md)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from dcm_otel.config import DEFAULT_REDACT_KEYS
from dcm_otel.logs.bridge import OtlpLogHandler
from dcm_otel.logs.formatter import JsonFormatter
from dcm_otel.logs.redaction import RedactingFilter, Redactor

SECRET = "s3cr3t-Pl4nted"


class PaymentRefused(Exception):
    pass


@pytest.fixture
def emitted() -> Iterator[tuple[InMemoryLogRecordExporter, io.StringIO]]:
    """The OTLP records and the JSON lines of one logger, both behind the redaction filter."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    stream = io.StringIO()
    console = logging.StreamHandler(stream)
    console.setFormatter(JsonFormatter())
    bridge = OtlpLogHandler(provider)
    redaction = RedactingFilter(Redactor(DEFAULT_REDACT_KEYS))
    logger = logging.getLogger("tests.logs.conventions")
    for handler in (console, bridge):
        handler.addFilter(redaction)
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield exporter, stream
    for handler in (console, bridge):
        logger.removeHandler(handler)
    provider.shutdown()


def exported(exporter: InMemoryLogRecordExporter) -> list[dict[str, Any]]:
    return [dict(item.log_record.attributes or {}) for item in exporter.get_finished_logs()]


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_an_exception_record_has_its_type_and_masked_message_beside_the_stacktrace(emitted) -> None:
    exporter, stream = emitted
    logger = logging.getLogger("tests.logs.conventions")
    try:
        raise PaymentRefused(f"gateway said no; token={SECRET}")
    except PaymentRefused:
        logger.exception("charge failed")
    try:
        raise KeyError
    except KeyError:
        logger.exception("lookup failed")
    logger.exception("no exception being handled")  # Python writes "NoneType: None" as the traceback
    charge, lookup, none = exported(exporter)
    qualified = f"{__name__}.PaymentRefused"
    assert charge["exception.type"] == qualified
    assert charge["exception.message"] == "gateway said no; token=***"
    assert f"{qualified}: gateway said no; token=***" in charge["exception.stacktrace"]
    assert lookup["exception.type"] == "KeyError"  # a builtin: its bare name, as Python prints it
    assert "exception.message" not in lookup  # empty: the type alone satisfies the conventions
    assert not [name for name in none if name.startswith("exception.")]
    line = lines(stream)[0]
    assert (line["exception.type"], line["exception.message"]) == (qualified, "gateway said no; token=***")
    assert SECRET not in stream.getvalue()
    assert SECRET not in repr(exported(exporter))


def test_an_exception_whose_str_fails_is_still_exported_with_its_type(emitted) -> None:
    exporter, _ = emitted

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    try:
        raise Unprintable
    except Unprintable:
        logging.getLogger("tests.logs.conventions").exception("odd")
    (record,) = exported(exporter)
    assert record["exception.type"].endswith("Unprintable")
    assert "exception.message" not in record


def test_extra_fields_without_a_namespace_are_exported_under_dcm_log(emitted) -> None:
    exporter, stream = emitted
    logging.getLogger("tests.logs.conventions").info(
        "done",
        extra={
            "status_code": 200,
            "api_key": SECRET,
            "dcm.job.id": "42",
            "http.response.status_code": 201,
            "shop.order.id": "o-1",
        },
    )
    (record,) = exported(exporter)
    assert record == {
        "dcm.log.status_code": 200,
        "dcm.log.api_key": "***",
        "dcm.job.id": "42",
        "http.response.status_code": 201,
        "shop.order.id": "o-1",
    }
    (line,) = lines(stream)  # the JSON line keeps the names as given
    assert (line["status_code"], line["api_key"], line["dcm.job.id"]) == (200, "***", "42")


def test_djangos_status_code_is_exported_as_the_http_response_status_code(emitted) -> None:
    exporter, _ = emitted
    for name in ("django.request", "django.server"):
        logger = logging.getLogger(name)
        record = logger.makeRecord(name, logging.WARNING, __file__, 1, "Not Found: /x", (), None)
        record.status_code = 404
        for handler in logging.getLogger("tests.logs.conventions").handlers:
            handler.handle(record)
    for attributes in exported(exporter):
        assert attributes == {"http.response.status_code": 404}
