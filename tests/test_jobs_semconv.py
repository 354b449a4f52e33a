"""The run and poll spans against the error conventions (v1.44.0): a failed or timed-out run has
``error.type``; status descriptions add information (the masked first line of the job's last_error, an
exception's message) rather than repeat ``error.type``; exception events carry no ``exception.escaped``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from opentelemetry.metrics import NoOpMeter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from dcm_otel.config import DEFAULT_REDACT_KEYS
from dcm_otel.instrumentation.jobs.processor import Processor
from dcm_otel.instrumentation.jobs.spans import JobFacts, JobSpans
from dcm_otel.instrumentation.jobs.state import JobState
from dcm_otel.logs.redaction import Redactor

STARTED = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
HOST = {"dcm.host.name": "local", "dcm.executor.type": "docker"}
REDACTOR = Redactor(DEFAULT_REDACT_KEYS)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def finished(
    provider: TracerProvider, exporter: InMemorySpanExporter, status: str, error: str | None
) -> ReadableSpan:
    spans = JobSpans(provider.get_tracer("test"), REDACTOR)
    facts = JobFacts("7", "nightly", "alpine", error, None, None, {})
    spans.finish(facts, JobState(status, STARTED, STARTED + timedelta(seconds=3), exit_code=1), HOST)
    [span] = exporter.get_finished_spans()
    return span


@pytest.mark.parametrize(
    ("status", "error", "error_type", "description"),
    [
        (
            "failed",
            "Container exited: PASSWORD=hunter2\nTraceback ...",
            "failure",
            "Container exited: PASSWORD=***",
        ),
        ("failed", None, "failure", None),
        ("timeout", "", "timeout", None),
    ],
)
def test_failed_and_timed_out_runs_have_error_type_and_an_informative_description(
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    status: str,
    error: str | None,
    error_type: str,
    description: str | None,
) -> None:
    span = finished(provider, exporter, status, error)
    assert span.attributes is not None
    assert (span.attributes["error.type"], span.attributes["dcm.job.result"]) == (error_type, error_type)
    assert (span.status.status_code, span.status.description) == (StatusCode.ERROR, description)


def test_successful_and_cancelled_runs_are_no_errors(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    for status in ("completed", "cancelled"):
        span = finished(provider, exporter, status, "an older launch error")
        exporter.clear()
        assert span.attributes is not None
        assert "error.type" not in span.attributes
        assert span.status.status_code is StatusCode.UNSET


def exception_events(span: ReadableSpan) -> list[dict[str, Any]]:
    return [dict(event.attributes or {}) for event in span.events if event.name == "exception"]


def test_an_executor_exception_is_an_event_without_escaped(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    spans = JobSpans(provider.get_tracer("test"), REDACTOR)
    job = SimpleNamespace(
        pk=7, name="nightly", docker_image="alpine", last_error=None, executor_metadata={},
        max_memory_usage=None, cpu_usage_percent=None, status="running", started_at=STARTED,
        docker_host=SimpleNamespace(name="local", executor_type="docker"),
    )  # fmt: skip
    with pytest.raises(ConnectionError), spans.active(job):
        raise ConnectionError("engine unreachable, token=abc")
    spans.finish(JobFacts.of(job), JobState("failed", STARTED, STARTED + timedelta(seconds=1)), HOST)
    [span] = exporter.get_finished_spans()
    [event] = exception_events(span)
    assert set(event) == {"exception.type", "exception.message", "exception.stacktrace"}
    assert (event["exception.type"], event["exception.message"]) == (
        "ConnectionError",
        "engine unreachable, token=***",
    )


def test_a_failed_poll_has_error_type_and_the_message_as_description(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    processor = Processor(
        provider.get_tracer("test"), NoOpMeter("test"), lambda: None, lambda: None, REDACTOR
    )

    def poll() -> None:
        raise RuntimeError("database is locked")

    with pytest.raises(RuntimeError):
        processor.wrapper("legacy")(poll, None, (), {})
    [span] = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["error.type"] == "RuntimeError"
    assert (span.status.status_code, span.status.description) == (StatusCode.ERROR, "database is locked")
    [event] = exception_events(span)
    assert "exception.escaped" not in event
