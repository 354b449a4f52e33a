"""DockerInstrumentor against a real Docker Engine: spans, the duration metric, streams, secrets, unwrapping.

Setup steps run under ``suppress_instrumentation()`` so that each test sees only the calls it is about.
"""

from __future__ import annotations

import gc
import importlib
import logging
import pkgutil
import socket
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import docker
import docker.errors
import pytest
import requests
import wrapt
from docker.api.client import APIClient
from docker.types import CancellableStream
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_http_instrumentation_enabled, suppress_instrumentation
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from benchmarks.docker_calls import bench_overhead
from dcm_otel.instrumentation.docker import DockerInstrumentor, attributes
from dcm_otel.instrumentation.docker.operations import OPERATIONS
from tests.services import DockerEngine

services = pytest.mark.services

SCOPE = "dcm_otel.instrumentation.docker"
DURATION = "dcm.docker.client.operation.duration"
#: Public APIClient methods that only build config dicts locally, so they have no operation.
LOCAL_HELPERS = {
    "create_container_config",
    "create_endpoint_config",
    "create_host_config",
    "create_networking_config",
    "create_swarm_spec",
    "get_adapter",
    "reload_config",
}
#: Registry on a closed loopback port: every pull fails at once, without leaving the machine.
UNREACHABLE_IMAGE = "127.0.0.1:1/dcm-otel/missing"
Point = frozenset[tuple[str, Any]]


@dataclass
class Telemetry:
    tracer_provider: TracerProvider
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def flush(self) -> None:
        """Spans and points are made off the calling thread; a flush makes the pending ones now."""
        self.tracer_provider.force_flush()

    def finished(self) -> list[ReadableSpan]:
        """Finished spans in the order they started (the exporter has them in the order they ended)."""
        self.flush()
        return sorted(self.spans.get_finished_spans(), key=lambda span: span.start_time or 0)

    def durations(self) -> dict[Point, int]:
        """Measurement count per attribute set of the duration histogram."""
        self.flush()
        points: dict[Point, int] = {}
        data = self.metrics.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name != DURATION:
                        continue
                    assert (scope_metrics.scope.name, metric.unit) == (SCOPE, "s")
                    for point in metric.data.data_points:
                        assert isinstance(point, HistogramDataPoint)
                        points[frozenset(dict(point.attributes or {}).items())] = point.count
        return points


@contextmanager
def instrumented(**hooks: Any) -> Iterator[Telemetry]:
    """DockerInstrumentor on in-memory providers, with the ``instrument(...)`` hook keywords given."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    metrics = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[metrics])
    DockerInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=meter_provider, **hooks)
    try:
        yield Telemetry(tracer_provider, spans, metrics)
    finally:
        DockerInstrumentor().uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    with instrumented() as telemetry:
        yield telemetry


@pytest.fixture
def client(docker_engine: DockerEngine, telemetry: Telemetry) -> Iterator[docker.DockerClient]:
    with suppress_instrumentation():  # the client's own version negotiation is not under test
        client = docker_engine.client()
    yield client
    client.close()


@pytest.fixture
def name() -> str:
    return f"dcm-otel-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sleeper(client: docker.DockerClient, docker_engine: DockerEngine, name: str) -> Iterator[Any]:
    """A running container that printed five lines and then sleeps."""
    script = "for i in 1 2 3 4 5; do echo line$i; done; sleep 60"
    with suppress_instrumentation():
        container = client.containers.run(
            docker_engine.image, ["sh", "-c", script], name=name, network_mode="none", detach=True
        )
        deadline = time.monotonic() + 30
        while container.logs().count(b"\n") < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    yield container
    with suppress_instrumentation():
        container.remove(force=True)


@pytest.fixture
def where(client: docker.DockerClient, docker_engine: DockerEngine) -> dict[str, Any]:
    """The attributes every span of `client` carries, worked out from the URL the test was given."""
    url = urlsplit(docker_engine.base_url)
    if url.scheme == "unix":
        found: dict[str, Any] = {"server.address": url.path, "network.transport": "unix"}
    else:
        found = {"server.address": url.hostname, "server.port": url.port, "network.transport": "tcp"}
    return {**found, "dcm.docker.api.version": client.api.api_version}


def expected(
    operation: str,
    where: dict[str, Any],
    method: str,
    status: int | None,
    extra: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """A span's name and exact attributes."""
    attributes = {"dcm.docker.operation": operation, **where, "http.request.method": method}
    if status is not None:
        attributes["http.response.status_code"] = status
    return f"docker {operation}", {**attributes, **(extra or {})}


def point(where: dict[str, Any], operation: str, error: str | None = None) -> Point:
    """A duration histogram point's attribute set."""
    attributes = {"dcm.docker.operation": operation, "server.address": where["server.address"]}
    if error is not None:
        attributes["error.type"] = error
    return frozenset(attributes.items())


def assert_client_spans(spans: list[ReadableSpan], spec: list[tuple[str, dict[str, Any]]]) -> None:
    assert [(span.name, dict(span.attributes or {})) for span in spans] == spec
    assert all(span.kind is SpanKind.CLIENT for span in spans)


def stream_attributes(span: ReadableSpan) -> dict[str, Any]:
    attributes = span.attributes or {}
    return {key: value for key, value in attributes.items() if key.startswith("dcm.docker.stream.")}


@services
def test_ping(client: docker.DockerClient, telemetry: Telemetry, where: dict[str, Any]) -> None:
    assert client.ping() is True

    [span] = telemetry.finished()
    assert_client_spans([span], [expected("system.ping", where, "GET", 200)])
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is None
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == SCOPE
    assert telemetry.durations() == {point(where, "system.ping"): 1}


@services
def test_run_gives_one_span_per_engine_operation(
    client: docker.DockerClient,
    docker_engine: DockerEngine,
    telemetry: Telemetry,
    where: dict[str, Any],
    name: str,
) -> None:
    output = client.containers.run(
        docker_engine.image, ["echo", "hello"], name=name, network_mode="none", remove=True
    )

    assert output == b"hello\n"
    spans = telemetry.finished()
    container = {"container.id": (spans[0].attributes or {}).get("container.id")}
    assert len(str(container["container.id"])) == 64
    # run() reads the log stream to its end last, after the container is removed.
    logs_items = (spans[3].attributes or {}).get("dcm.docker.stream.items")
    logs_stream = {
        "dcm.docker.stream.end": "exhausted",
        "dcm.docker.stream.items": logs_items,
        "dcm.docker.stream.bytes": 6,
    }
    repository, _, tag = docker_engine.image.rpartition(":")
    image = {"container.image.name": repository, "container.image.tags": (tag,)}
    assert_client_spans(
        spans,
        [
            expected("containers.create", where, "POST", 201, {**image, "container.name": name, **container}),
            expected("containers.inspect", where, "GET", 200, {**container, "container.name": name}),
            expected("containers.start", where, "POST", 204, container),
            expected("containers.logs", where, "GET", 200, {**container, **logs_stream}),
            expected("containers.wait", where, "POST", 200, container),
            expected("containers.remove", where, "DELETE", 204, container),
        ],
    )
    assert isinstance(logs_items, int)
    assert 1 <= logs_items <= len(output)
    assert all(span.parent is None for span in spans)
    assert telemetry.durations() == {point(where, span.name.removeprefix("docker ")): 1 for span in spans}


@services
def test_create_start_wait_logs_remove(
    client: docker.DockerClient,
    docker_engine: DockerEngine,
    telemetry: Telemetry,
    where: dict[str, Any],
    name: str,
) -> None:
    container = client.containers.create(
        docker_engine.image, ["sh", "-c", "echo out"], name=name, network_mode="none"
    )
    telemetry.flush()
    telemetry.spans.clear()  # create (and its inspect) are covered by test_run_...
    container.start()
    assert container.wait()["StatusCode"] == 0
    assert container.logs() == b"out\n"
    container.remove()

    subject = {"container.id": container.id}
    assert_client_spans(
        telemetry.finished(),
        [
            expected("containers.start", where, "POST", 204, subject),
            expected("containers.wait", where, "POST", 200, subject),
            expected("containers.logs", where, "GET", 200, subject),
            expected("containers.remove", where, "DELETE", 204, subject),
        ],
    )
    operations = ("create", "inspect", "start", "wait", "logs", "remove")
    assert telemetry.durations() == {point(where, f"containers.{op}"): 1 for op in operations}


@services
def test_nested_api_calls_and_http_requests_make_no_extra_spans(
    telemetry: Telemetry, sleeper: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, bool, Any]] = []
    send = requests.Session.send

    def recording_send(session: requests.Session, request: Any, **kwargs: Any) -> Any:
        seen.append((request.method, is_http_instrumentation_enabled(), trace.get_current_span()))
        return send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", recording_send)

    sleeper.logs()  # the SDK inspects the container (is it a TTY?) before it asks for the logs

    [span] = telemetry.finished()
    assert span.name == "docker containers.logs"
    assert [(method, enabled) for method, enabled, _ in seen] == [("GET", False), ("GET", False)]
    assert all(current.get_span_context() == span.get_span_context() for _, _, current in seen)


@services
def test_stats(telemetry: Telemetry, where: dict[str, Any], sleeper: Any) -> None:
    snapshot = sleeper.stats(stream=False)
    stream = sleeper.stats(stream=True, decode=True)
    first = next(stream)
    stream.close()

    assert "read" in snapshot
    assert "read" in first
    subject = {"container.id": sleeper.id}
    # Decoded: no byte count.
    closed_stream = {"dcm.docker.stream.end": "closed", "dcm.docker.stream.items": 1}
    assert_client_spans(
        telemetry.finished(),
        [
            expected("containers.stats", where, "GET", 200, subject),
            expected("containers.stats", where, "GET", 200, {**subject, **closed_stream}),
        ],
    )
    assert telemetry.durations() == {point(where, "containers.stats"): 2}


@services
def test_list(
    client: docker.DockerClient,
    docker_engine: DockerEngine,
    telemetry: Telemetry,
    where: dict[str, Any],
    name: str,
) -> None:
    with suppress_instrumentation():
        created = client.containers.create(
            docker_engine.image, ["true"], name=name, labels={"dcm-otel": name}
        )
    try:
        [listed] = client.containers.list(all=True, filters={"label": f"dcm-otel={name}"})
    finally:
        with suppress_instrumentation():
            created.remove()

    assert listed.id == created.id
    assert_client_spans(
        telemetry.finished(),
        [
            expected("containers.list", where, "GET", 200),
            expected(
                "containers.inspect", where, "GET", 200, {"container.id": created.id, "container.name": name}
            ),
        ],
    )
    assert telemetry.durations() == {
        point(where, "containers.list"): 1,
        point(where, "containers.inspect"): 1,
    }


@services
def test_inspect_of_a_missing_container_is_an_error_span(
    client: docker.DockerClient, telemetry: Telemetry, where: dict[str, Any], name: str
) -> None:
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)

    [span] = telemetry.finished()
    failure = {"container.name": name, "error.type": "docker.errors.NotFound"}
    assert_client_spans([span], [expected("containers.inspect", where, "GET", 404, failure)])
    assert span.status.status_code is StatusCode.ERROR
    assert span.events == ()  # exception messages carry request details: none are recorded
    assert telemetry.durations() == {point(where, "containers.inspect", "docker.errors.NotFound"): 1}


@services
def test_failed_pull_is_an_error_span(
    client: docker.DockerClient, telemetry: Telemetry, where: dict[str, Any]
) -> None:
    with pytest.raises(docker.errors.APIError) as raised:
        client.images.pull(UNREACHABLE_IMAGE, tag="1.0")

    assert raised.value.status_code == 500
    [span] = telemetry.finished()
    failure = {
        "container.image.name": UNREACHABLE_IMAGE,
        "container.image.tags": ("1.0",),
        "error.type": "docker.errors.APIError",
    }
    assert_client_spans([span], [expected("images.pull", where, "POST", 500, failure)])
    assert span.status.status_code is StatusCode.ERROR
    assert telemetry.durations() == {point(where, "images.pull", "docker.errors.APIError"): 1}


@services
def test_stream_read_in_part_then_closed(telemetry: Telemetry, where: dict[str, Any], sleeper: Any) -> None:
    stream = sleeper.logs(stream=True, follow=True)
    assert isinstance(stream, CancellableStream)  # the proxy keeps the SDK's type
    first, second = next(stream), next(stream)
    assert telemetry.finished() == []  # the span lasts as long as the stream

    stream.close()

    [span] = telemetry.finished()
    assert (first, second) == (b"line1\n", b"line2\n")
    closed_stream = {
        "dcm.docker.stream.end": "closed",
        "dcm.docker.stream.items": 2,
        "dcm.docker.stream.bytes": 12,
    }
    subject = {"container.id": sleeper.id}
    assert_client_spans(
        [span], [expected("containers.logs", where, "GET", 200, {**subject, **closed_stream})]
    )
    assert span.status.status_code is StatusCode.UNSET
    assert telemetry.durations() == {point(where, "containers.logs"): 1}


@services
def test_stream_read_to_the_end(telemetry: Telemetry, sleeper: Any) -> None:
    lines = list(sleeper.logs(stream=True, follow=False))

    [span] = telemetry.finished()
    assert b"".join(lines) == b"line1\nline2\nline3\nline4\nline5\n"
    assert stream_attributes(span) == {
        "dcm.docker.stream.end": "exhausted",
        "dcm.docker.stream.items": len(lines),
        "dcm.docker.stream.bytes": 30,
    }


@services
def test_stream_dropped_unfinished_ends_its_span(telemetry: Telemetry, sleeper: Any) -> None:
    stream = sleeper.logs(stream=True, follow=True)
    next(stream)
    del stream
    gc.collect()

    [span] = telemetry.finished()
    assert stream_attributes(span) == {
        "dcm.docker.stream.end": "abandoned",
        "dcm.docker.stream.items": 1,
        "dcm.docker.stream.bytes": 6,
    }


@services
def test_event_stream(
    client: docker.DockerClient, telemetry: Telemetry, where: dict[str, Any], sleeper: Any
) -> None:
    until = int(time.time()) + 1  # whole seconds: round up past the sleeper's events
    events = list(
        client.events(since=until - 300, until=until, decode=True, filters={"container": sleeper.id})
    )

    assert {"create", "start"} <= {event["status"] for event in events}
    decoded_stream = {"dcm.docker.stream.end": "exhausted", "dcm.docker.stream.items": len(events)}
    assert_client_spans(telemetry.finished(), [expected("system.events", where, "GET", 200, decoded_stream)])


@pytest.fixture
def captured_logs() -> Iterator[InMemoryLogRecordExporter]:
    """Every Python log record at DEBUG and up, exported through an OTel logger provider."""
    exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's handler, as dcm_otel.providers uses
        handler = LoggingHandler(logger_provider=provider)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield exporter
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        provider.shutdown()


@services
def test_secret_values_reach_no_signal(
    client: docker.DockerClient,
    docker_engine: DockerEngine,
    telemetry: Telemetry,
    captured_logs: InMemoryLogRecordExporter,
) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"

    client.containers.run(
        docker_engine.image,
        ["sh", "-c", 'test -n "$DCM_TOKEN"'],
        environment={"DCM_TOKEN": secret},
        network_mode="none",
        remove=True,
    )
    sleeper = client.containers.run(
        docker_engine.image, ["sleep", "60"], environment=[f"DCM_TOKEN={secret}"], detach=True
    )
    try:
        assert sleeper.exec_run(["sh", "-c", "exit 0", secret]).exit_code == 0
    finally:
        sleeper.remove(force=True)
    with pytest.raises(docker.errors.APIError):
        client.images.pull(UNREACHABLE_IMAGE, auth_config={"username": "dcm", "password": secret})

    telemetry.flush()
    spans = [span.to_json() for span in telemetry.spans.get_finished_spans()]
    metrics = telemetry.metrics.get_metrics_data()
    records = [record.to_json() for record in captured_logs.get_finished_logs()]
    # Every signal was captured, so the secret's absence means something.
    assert metrics is not None
    assert records
    assert {"docker containers.create", "docker exec.create", "docker images.pull"} <= {
        span.name for span in telemetry.spans.get_finished_spans()
    }
    for exported in (*spans, metrics.to_json(), *records):
        assert secret not in exported


@services
def test_calls_in_a_parent_span_are_its_children_in_order(
    client: docker.DockerClient, docker_engine: DockerEngine, telemetry: Telemetry
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("job")
    with tracer.start_as_current_span("job") as job:
        client.ping()
        client.containers.list(all=True, sparse=True)
        client.images.get(docker_engine.image)

    telemetry.flush()  # the calls' spans are exported after the parent's, which ended first
    [parent] = [span for span in telemetry.spans.get_finished_spans() if span.name == "job"]
    calls = [span for span in telemetry.spans.get_finished_spans() if span is not parent]
    assert parent.context == job.get_span_context()
    assert [span.name for span in calls] == [
        "docker system.ping",
        "docker containers.list",
        "docker images.inspect",
    ]
    assert all(span.parent == job.get_span_context() for span in calls)
    assert {span.context.trace_id for span in calls if span.context} == {job.get_span_context().trace_id}
    starts = [span.start_time or 0 for span in calls]
    assert starts == sorted(starts)


def request_hook(span: trace.Span, operation: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    span.set_attribute("test.operation", operation)
    span.set_attribute("test.arguments", len(args) + len(kwargs))


def response_hook(span: trace.Span, operation: str, result: Any, error: BaseException | None) -> None:
    span.set_attribute("test.outcome", type(result if error is None else error).__name__)
    span.add_event("test.response", {"test.operation": operation})
    span.update_name(f"hooked {operation}")


@services
def test_docker_hooks_add_to_the_call_span(docker_engine: DockerEngine) -> None:
    with instrumented(docker_request_hook=request_hook, docker_response_hook=response_hook) as telemetry:
        with suppress_instrumentation():
            client = docker_engine.client()
        try:
            assert client.api.ping() is True
            with pytest.raises(docker.errors.NotFound):
                client.api.inspect_container("dcm-otel-no-such-container")
        finally:
            client.close()
        ping, missing = telemetry.finished()
    assert ping.name == "hooked system.ping"
    assert {k: v for k, v in (ping.attributes or {}).items() if k.startswith("test.")} == {
        "test.operation": "system.ping",
        "test.arguments": 0,
        "test.outcome": "bool",
    }
    assert [(e.name, dict(e.attributes or {})) for e in ping.events] == [
        ("test.response", {"test.operation": "system.ping"})
    ]
    assert missing.name == "hooked containers.inspect"
    assert (missing.attributes or {})["test.arguments"] == 1
    assert (missing.attributes or {})["test.outcome"] == "NotFound"
    assert (missing.attributes or {})["error.type"] == "docker.errors.NotFound"  # ours stay
    assert missing.status.status_code is StatusCode.ERROR


def broken_hook(*args: Any) -> None:
    raise RuntimeError("a bug in the user's hook")


@services
def test_a_raising_docker_hook_breaks_no_call_and_warns_once(
    docker_engine: DockerEngine, caplog: pytest.LogCaptureFixture
) -> None:
    with instrumented(docker_request_hook=broken_hook) as telemetry:
        with suppress_instrumentation():
            client = docker_engine.client()
        try:
            with caplog.at_level(logging.WARNING, logger="dcm_otel"):
                assert [client.api.ping() for _ in range(3)] == [True] * 3
        finally:
            client.close()
        spans = telemetry.finished()
    assert [span.name for span in spans] == ["docker system.ping"] * 3
    warnings = [r for r in caplog.records if "docker_request_hook" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].exc_info is not None


@services
def test_uninstrument_restores_the_sdk(docker_engine: DockerEngine) -> None:
    classes = [cls for cls in APIClient.__mro__ if cls.__module__.startswith("docker.")]
    before = {cls: dict(vars(cls)) for cls in classes}
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    instrumentor = DockerInstrumentor()

    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=MeterProvider())
    wrapped = {
        name
        for cls in classes
        for name, value in vars(cls).items()
        if isinstance(value, wrapt.FunctionWrapper)
    }
    instrumentor.uninstrument()

    assert wrapped == set(OPERATIONS) | {"_get", "_post", "_put", "_delete"}
    for cls in classes:
        after = dict(vars(cls))
        assert after.keys() == before[cls].keys()
        assert all(after[key] is before[cls][key] for key in after), cls
    client = docker_engine.client()
    try:
        assert client.ping() is True
        assert client.images.get(docker_engine.image).tags == [docker_engine.image]
    finally:
        client.close()
    assert spans.get_finished_spans() == ()


def test_every_engine_method_is_an_operation() -> None:
    public = {
        name
        for cls in APIClient.__mro__
        if cls.__module__.startswith("docker.")
        for name, value in vars(cls).items()
        if not name.startswith("_") and callable(value)
    }
    assert set(OPERATIONS) == public - LOCAL_HELPERS


def test_names_are_semantic_conventions_or_in_the_dcm_namespace() -> None:
    """The conventions define no ``docker.*`` names: the instrumentation's own are ``dcm.docker.*``."""
    packages = [
        importlib.import_module(f"opentelemetry.semconv.{name}")
        for name in ("attributes", "metrics", "_incubating.attributes", "_incubating.metrics")
    ]
    semconv = {
        value
        for package in packages
        for module in pkgutil.iter_modules(package.__path__, f"{package.__name__}.")
        for value in vars(importlib.import_module(module.name)).values()
        if isinstance(value, str)
    }
    names = {getattr(attributes, name) for name in attributes.__all__}
    assert {name for name in names - semconv if not name.startswith("dcm.docker.")} == set()
    assert names & semconv >= {"server.address", "error.type", "container.id", "http.request.method"}


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A short private dir: unix socket paths are limited to about 107 bytes."""
    with tempfile.TemporaryDirectory(prefix="dcm-otel-", dir="/tmp") as path:
        yield Path(path)


def assert_one_failed_ping(telemetry: Telemetry, path: Path, error: str) -> None:
    """One error span and one duration point for a failed ping to the Engine at ``path``."""
    [span] = telemetry.finished()
    where = {"server.address": str(path), "network.transport": "unix", "dcm.docker.api.version": "1.41"}
    assert_client_spans([span], [expected("system.ping", where, "GET", None, {"error.type": error})])
    assert span.status.status_code is StatusCode.ERROR
    assert telemetry.durations() == {point(where, "system.ping", error): 1}


def test_refused_connection_is_an_error_span(telemetry: Telemetry, socket_dir: Path) -> None:
    path = socket_dir / "absent.sock"
    api = docker.APIClient(base_url=f"unix://{path}", version="1.41")

    with pytest.raises(requests.exceptions.ConnectionError):
        api.ping()

    assert_one_failed_ping(telemetry, path, "requests.exceptions.ConnectionError")


def test_timeout_is_an_error_span(telemetry: Telemetry, socket_dir: Path) -> None:
    path = socket_dir / "silent.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:  # accepts, never answers
        silent.bind(str(path))
        silent.listen(1)
        api = docker.APIClient(base_url=f"unix://{path}", version="1.41", timeout=1)
        with pytest.raises(requests.exceptions.ReadTimeout):
            api.ping()

    assert_one_failed_ping(telemetry, path, "requests.exceptions.ReadTimeout")


@services
def test_bench_overhead_times_both_operations(docker_engine: DockerEngine) -> None:
    client = docker_engine.client()
    try:
        before = {container["Id"] for container in client.api.containers(all=True)}
        report = bench_overhead(client, 20)
        # The bench's own container runs `true`; other tests' jobs may start containers meanwhile.
        left = [
            c["Id"]
            for c in client.api.containers(all=True)
            if c["Id"] not in before and c["Command"] == "true"
        ]
    finally:
        client.close()

    assert set(report) == {"containers.list", "containers.inspect"}
    sides = ("bare", "noop", "instrumented", "requests")
    figures = {f"{side}{suffix}" for side in sides for suffix in ("_s", "_thread_cpu_s", "_process_cpu_s")}
    for timings in report.values():
        assert set(timings) == figures | {"ratio", "noop_ratio"}
        assert all(value > 0 for value in timings.values())
    assert left == []  # the inspected container is gone again
    assert not DockerInstrumentor().is_instrumented_by_opentelemetry
