"""The Docker instrumentation makes its spans and points on a background thread: every call is delivered,
without a flush too, the queue stays bounded when that thread is stalled, and a forked child gets its
own thread."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import requests
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dcm_otel.instrumentation.docker import DockerInstrumentor, deferred
from tests.services import DockerEngine

DURATION = "dcm.docker.client.operation.duration"


class Stall(SpanProcessor):
    """Holds up the thread that ends the first span until released, like an exporter that hangs."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def on_start(self, span: object, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if not self.entered.is_set():
            self.entered.set()
            self.release.wait(30)


class Pipeline:
    def __init__(self, *first: SpanProcessor) -> None:
        self.first = first
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        for processor in first:
            self.tracer_provider.add_span_processor(processor)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.metrics = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metrics])

    def durations(self) -> int:
        """Measurements of the duration histogram, all attribute sets together."""
        data = self.metrics.get_metrics_data()
        return sum(
            point.count
            for resource_metrics in (data.resource_metrics if data else ())
            for scope_metrics in resource_metrics.scope_metrics
            for metric in scope_metrics.metrics
            if metric.name == DURATION
            for point in metric.data.data_points
            if isinstance(point, HistogramDataPoint)
        )

    def wait_for_spans(self, count: int, timeout: float = 30) -> int:
        """Exported spans once ``count`` arrived or ``timeout`` passed, without a flush."""
        deadline = time.monotonic() + timeout
        while len(self.spans.get_finished_spans()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.spans.get_finished_spans())


@pytest.fixture
def instrumented(request: pytest.FixtureRequest) -> Iterator[Pipeline]:
    pipeline = Pipeline(*getattr(request, "param", ()))
    DockerInstrumentor().instrument(
        tracer_provider=pipeline.tracer_provider, meter_provider=pipeline.meter_provider
    )
    try:
        yield pipeline
    finally:
        DockerInstrumentor().uninstrument()
        pipeline.tracer_provider.shutdown()
        pipeline.meter_provider.shutdown()


@pytest.fixture
def refusing_api() -> Iterator[docker.APIClient]:
    """A client of an Engine socket that does not exist: every call fails at once, without a daemon."""
    with tempfile.TemporaryDirectory(prefix="dcm-otel-", dir="/tmp") as path:
        yield docker.APIClient(base_url=f"unix://{Path(path) / 'absent.sock'}", version="1.41")


def refused_pings(api: docker.APIClient, count: int) -> None:
    for _ in range(count):
        with pytest.raises(requests.exceptions.ConnectionError):
            api.ping()


@pytest.mark.services
def test_many_calls_in_a_row_are_all_delivered(docker_engine: DockerEngine, instrumented: Pipeline) -> None:
    calls = 300
    with suppress_instrumentation():  # the client's version negotiation
        client = docker_engine.client()
    try:
        for _ in range(calls):
            assert client.api.ping() is True
    finally:
        client.close()

    assert instrumented.wait_for_spans(calls) == calls  # by the background thread, no flush
    instrumented.tracer_provider.force_flush()
    spans = instrumented.spans.get_finished_spans()
    assert {span.name for span in spans} == {"docker system.ping"}
    assert len({span.context.span_id for span in spans if span.context}) == calls
    assert instrumented.durations() == calls


@pytest.mark.parametrize("instrumented", [(Stall(),)], indirect=True)
def test_a_stalled_thread_bounds_the_queue_and_drops_the_rest(
    instrumented: Pipeline,
    refusing_api: docker.APIClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bound, extra = 50, 30
    monkeypatch.setattr(deferred, "MAX_PENDING", bound)
    [stall] = instrumented.first
    assert isinstance(stall, Stall)
    refused_pings(refusing_api, 1)
    assert stall.entered.wait(30)  # the thread is held inside the first call's span

    with caplog.at_level(logging.WARNING, logger="dcm_otel"):
        refused_pings(refusing_api, bound + extra)  # the calls still raise their own errors, unhindered
    stall.release.set()
    instrumented.tracer_provider.force_flush()

    assert len(instrumented.spans.get_finished_spans()) == 1 + bound
    assert instrumented.durations() == 1 + bound
    dropping = [record for record in caplog.records if "dropping calls" in record.getMessage()]
    assert len(dropping) == 1  # said once, not once per dropped call


def test_a_forked_child_delivers_its_own_calls(
    instrumented: Pipeline, refusing_api: docker.APIClient
) -> None:
    refused_pings(refusing_api, 1)
    assert instrumented.wait_for_spans(1) == 1  # the parent's thread is running

    pid = os.fork()
    if pid == 0:  # the child: its calls need a thread of its own, started there
        try:
            instrumented.spans.clear()
            refused_pings(refusing_api, 3)
            os._exit(0 if instrumented.wait_for_spans(3) == 3 else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    refused_pings(refusing_api, 1)
    assert instrumented.wait_for_spans(2) == 2  # and the parent's thread still works


@pytest.mark.parametrize("flush", ["force_flush", "shutdown"])
def test_flush_and_shutdown_export_the_pending_calls_through_a_batch_processor(
    flush: str, refusing_api: docker.APIClient
) -> None:
    """The drain runs before the batch processor flushes: otherwise the calls would still sit in its queue."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(spans, schedule_delay_millis=60_000))
    DockerInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=MeterProvider())
    try:
        refused_pings(refusing_api, 5)
        getattr(tracer_provider, flush)()
        assert [span.name for span in spans.get_finished_spans()] == ["docker system.ping"] * 5
    finally:
        DockerInstrumentor().uninstrument()
        tracer_provider.shutdown()
