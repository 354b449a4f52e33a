"""A failed Docker Engine call on a real engine becomes one log event, inside the failed call's span."""

from __future__ import annotations

import io
import json
import logging
import uuid

import docker
import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dcm_otel.config import load_config
from dcm_otel.instrumentation.docker import DockerInstrumentor
from dcm_otel.logs import span_processors
from dcm_otel.logs.formatter import JsonFormatter
from tests.services import DockerEngine

pytestmark = pytest.mark.services


def test_failed_inspect_is_logged_with_its_span_ids(docker_engine: DockerEngine) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    for processor in span_processors(load_config({})):
        provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(spans))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger("dcm_otel.docker").addHandler(handler)
    DockerInstrumentor().instrument(tracer_provider=provider)
    try:
        with suppress_instrumentation():
            client = docker_engine.client()
        name = f"dcm-otel-missing-{uuid.uuid4().hex[:8]}"
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(name)
        client.close()
    finally:
        DockerInstrumentor().uninstrument()
        logging.getLogger("dcm_otel.docker").removeHandler(handler)
    [span] = spans.get_finished_spans()
    [event] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert event["event.name"] == "dcm.docker.operation.failed"
    assert event["level"] == "WARNING"
    assert event["dcm.docker.operation"] == "containers.inspect"
    assert event["error.type"] == "docker.errors.NotFound"
    assert event["container.name"] == name
    assert event["http.response.status_code"] == 404
    assert 0 < event["dcm.duration"] < 60
    assert event["trace_id"] == format(span.context.trace_id, "032x")
    assert event["span_id"] == format(span.context.span_id, "016x")
