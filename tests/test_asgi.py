"""Under an ASGI server (uvicorn, real HTTP) the middleware runs async, on the event loop's thread, and gives
the same telemetry as under gunicorn for the same requests: spans, DB spans, metrics, logs, /metrics.
Streaming responses end their request when the stream does, under both; users' hooks land on the span."""

from __future__ import annotations

import http.client
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import django
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status
from prometheus_client.parser import text_string_to_metric_families

from tests.otlp_receiver import start_receiver
from tests.services._common import free_port
from tests.shop_project import JOB, write_shop_project
from tests.test_gunicorn import gunicorn, serving

pytest.importorskip("uvicorn")

Server = Callable[..., AbstractContextManager[tuple[Any, str]]]

VIEWS = """

import asyncio
import logging
import threading
import time

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse, StreamingHttpResponse

logger = logging.getLogger("shop")


async def async_items(request):
    names = await sync_to_async(lambda: list(Item.objects.order_by("pk").values_list("name", flat=True)))()
    return HttpResponse(",".join(names))


def logged(request):
    logger.warning("serving the logged view")
    return HttpResponse("logged")


async def threads(request):
    return HttpResponse(f"{threading.current_thread().name} {request.hook_thread}")


def chunks():
    for i in range(3):
        yield f"chunk-{i},"


async def async_chunks():
    for i in range(3):
        await asyncio.sleep(0)
        yield f"chunk-{i},"


def slow_chunks():
    for i in range(3):
        time.sleep(0.2)
        yield f"chunk-{i},"


def item_chunks():  # the queryset is read while the response streams, after the view has returned
    yield ",".join(Item.objects.order_by("pk").values_list("name", flat=True))


def long_chunks():
    for i in range(100):
        time.sleep(0.05)
        yield "x" * 8192


async def long_async_chunks():
    for i in range(100):
        await asyncio.sleep(0.05)
        yield "x" * 8192


def abandoned(request):
    # Django reads a stream of the other kind whole before it sends any: each server gets its own kind.
    return StreamingHttpResponse(long_async_chunks() if isinstance(request, ASGIRequest) else long_chunks())


def failing_chunks():
    yield "first,"
    raise RuntimeError("broken stream")


urlpatterns += [
    path("async-items/", async_items),
    path("logged/", logged),
    path("threads/", threads),
    path("stream/", lambda request: StreamingHttpResponse(chunks())),
    path("stream-items/", lambda request: StreamingHttpResponse(item_chunks())),
    path("async-stream/", lambda request: StreamingHttpResponse(async_chunks())),
    path("slow-stream/", lambda request: StreamingHttpResponse(slow_chunks())),
    path("abandoned/", abandoned),
    path("stream-error/", lambda request: StreamingHttpResponse(failing_chunks())),
    path("file/", lambda request: FileResponse(open(__file__, "rb"))),
]
"""

HOOKS = """\
import threading


def request_hook(span, request):
    request.hook_thread = threading.current_thread().name
    span.set_attribute("shop.hook.path", request.path)


def response_hook(span, request, response):
    span.set_attribute("shop.hook.status", response.status_code)
    if request.GET.get("hook") == "raise":
        raise ValueError("a bug in the user's hook")
"""

PATHS = (
    "/",
    JOB,
    "/items/",
    "/n-plus-one/",
    "/boom/",
    "/unavailable/",
    "/async-items/",
    "/logged/",
    "/stream/",
    "/stream-items/",
    "/async-stream/",
    "/stream-error/",
    "/file/",
    "/?hook=raise",
    "/?hook=raise&again=1",
)
# What differs by nature between two servers on two ports.
SERVER_SPECIFIC = {"server.port"}


def uvicorn(project: Path, *args: str, ready_path: str = "/", **env: str) -> Any:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return serving(project, [*command, *args], port, ready_path, **env)


SERVERS: dict[str, Server] = {"gunicorn": gunicorn, "uvicorn": uvicorn}


def fetch(url: str) -> tuple[int, str]:
    """Status and body; a body cut short (a stream that raised) reads as ``"<cut>"``."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            status = int(response.status)
            try:
                return status, response.read().decode()
            except (http.client.IncompleteRead, OSError):
                return status, "<cut>"
    except urllib.error.HTTPError as error:
        return error.code, ""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    hooks = {"request_hook": "shop_hooks.request_hook", "response_hook": "shop_hooks.response_hook"}
    directory = tmp_path_factory.mktemp("asgi")
    (directory / "shop_hooks.py").write_text(HOOKS)  # imported at startup: before the migration runs
    project = write_shop_project(directory, dcm_otel=hooks)
    (project / "urls.py").write_text((project / "urls.py").read_text() + VIEWS)
    return project


class Run:
    """One server's run of :data:`PATHS`: what the clients got, the server's output and its telemetry."""

    def __init__(self, project: Path, server: Server) -> None:
        self.receiver = start_receiver()
        try:
            with server(
                project,
                ready_path="/favicon.ico",  # excluded from traces by default
                OTEL_EXPORTER_OTLP_ENDPOINT=self.receiver.endpoint,
                OTEL_BSP_SCHEDULE_DELAY="100",
                OTEL_METRIC_EXPORT_INTERVAL="500",
            ) as (process, base):
                self.answers = {path: fetch(base + path) for path in PATHS}
                self.threads = fetch(base + "/threads/")[1].split()
                self.exposition = fetch(base + "/metrics")[1]
                process.terminate()
                self.output = process.communicate(timeout=30)[0]
        finally:
            self.receiver.close()

    def server_spans(self) -> list[tuple[str, dict[str, Any], int, list[str]]]:
        return sorted(
            (
                (s.name, _common(s.attributes), s.status_code, s.events)
                for s in self.receiver.spans()
                if s.kind == ProtoSpan.SPAN_KIND_SERVER and s.name != "GET /threads/"
            ),
            key=repr,
        )

    def db_spans(self) -> list[tuple[str, str, dict[str, Any]]]:
        by_id = {s.span_id: s for s in self.receiver.spans()}
        return sorted(
            (
                (by_id[s.parent_span_id].name, s.name, s.attributes)
                for s in self.receiver.spans()
                if "db.system.name" in s.attributes
            ),
            key=repr,
        )

    def points(self, name: str) -> dict[frozenset[tuple[str, Any]], int]:
        """Cumulative count (or value) per attribute set, as last exported."""
        last: dict[frozenset[tuple[str, Any]], int] = {}
        for _, attributes, point in self.receiver.metric_points(name):
            if attributes.get("http.route") == "/threads/":
                continue
            key = frozenset(_common(attributes).items())
            last[key] = point.count if hasattr(point, "count") else point.as_int
        return last

    def log_traces(self) -> tuple[list[str], list[str]]:
        """The trace ids of the view's log records, and of its server span."""
        logs = [log.trace_id for log in self.receiver.logs() if log.body == "serving the logged view"]
        spans = [s.trace_id for s in self.receiver.spans() if s.name == "GET /logged/"]
        return logs, spans

    def series(self, family_name: str) -> dict[frozenset[tuple[str, str]], float]:
        return {
            frozenset(sample.labels.items()): sample.value
            for family in text_string_to_metric_families(self.exposition)
            if family.name == family_name
            for sample in family.samples
            if sample.name.endswith("_count") and sample.labels.get("http_route") != "/threads/"
        }


def _common(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if k not in SERVER_SPECIFIC}


@pytest.fixture(scope="module")
def runs(project: Path) -> dict[str, Run]:
    return {name: Run(project, server) for name, server in SERVERS.items()}


def test_uvicorn_gives_the_same_telemetry_as_gunicorn(runs: dict[str, Run]) -> None:
    wsgi, asgi = runs["gunicorn"], runs["uvicorn"]
    assert wsgi.answers == asgi.answers
    assert asgi.answers["/stream/"] == (200, "chunk-0,chunk-1,chunk-2,")
    assert asgi.answers["/async-items/"][0] == 200
    spans = asgi.server_spans()
    assert len(spans) == len(PATHS), spans  # one span per request, streams included
    assert wsgi.server_spans() == spans
    db = asgi.db_spans()
    parents = {parent for parent, _, _ in db}
    assert parents >= {"GET /items/", "GET /async-items/", "GET /n-plus-one/", "GET /stream-items/"}
    assert wsgi.db_spans() == db
    for metric in ("http.server.request.duration", "dcm.http.server.db.queries"):
        assert wsgi.points(metric) == asgi.points(metric), metric
    assert sum(asgi.points("http.server.request.duration").values()) == len(PATHS)
    for run in (wsgi, asgi):  # every request, streams included, has left the active ones
        assert set(run.points("http.server.active_requests").values()) == {0}
        logs, spans = run.log_traces()
        assert len(logs) == 1
        assert logs == spans
    series = asgi.series("http_server_request_duration_seconds")
    assert sum(series.values()) == len(PATHS)
    assert wsgi.series("http_server_request_duration_seconds") == series


def test_under_uvicorn_the_middleware_runs_on_the_event_loop(runs: dict[str, Run]) -> None:
    """The request hook runs inside the middleware: on the loop's thread, as the async view, when Django
    did not adapt the middleware (a sync one would run in a worker thread of sync_to_async)."""
    view_thread, middleware_thread = runs["uvicorn"].threads
    assert view_thread == middleware_thread == "MainThread"


@pytest.mark.parametrize("server", SERVERS)
def test_streams_end_their_request_when_they_end(runs: dict[str, Run], server: str) -> None:
    run = runs[server]
    spans = {name: (attributes, status, events) for name, attributes, status, events in run.server_spans()}
    failed, status, events = spans["GET /stream-error/"]
    assert run.answers["/stream-error/"] == (200, "<cut>")
    assert failed["http.response.status_code"] == 200
    assert failed["error.type"] == "RuntimeError"
    assert status == Status.STATUS_CODE_ERROR
    assert events == ["exception"]
    for path in ("/stream/", "/async-stream/", "/file/"):
        attributes, status, events = spans[f"GET {path}"]
        assert "error.type" not in attributes, path
        assert status == Status.STATUS_CODE_UNSET, path


def abandon(base: str, path: str) -> None:
    """Reads the first bytes of a stream, then hangs up."""
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    assert response.read(100) == b"x" * 100
    response.close()
    connection.close()


@pytest.mark.parametrize("server", SERVERS)
def test_the_duration_of_a_stream_covers_the_stream_until_it_ends_or_is_abandoned(
    project: Path, server: str
) -> None:
    receiver = start_receiver()
    try:
        with SERVERS[server](
            project, ready_path="/favicon.ico", OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint
        ) as (process, base):
            assert fetch(base + "/slow-stream/") == (200, "chunk-0,chunk-1,chunk-2,")
            abandon(base, "/abandoned/")  # a 5 s stream
            time.sleep(1)  # for the server to notice
            process.terminate()
            process.communicate(timeout=30)
        points = {
            attributes["http.route"]: point
            for _, attributes, point in receiver.metric_points("http.server.request.duration")
        }
        active = [point.as_int for _, _, point in receiver.metric_points("http.server.active_requests")]
        spans = {s.name: s for s in receiver.spans()}
    finally:
        receiver.close()
    assert points["/slow-stream/"].count == 1
    assert points["/slow-stream/"].sum >= 0.6  # three chunks 0.2 s apart: the view itself returns at once
    assert points["/abandoned/"].count == 1
    if server == "gunicorn" or django.VERSION >= (5, 0):
        assert points["/abandoned/"].sum < 3  # ended when the client left, not after the 5 s stream
    else:  # Django 4.2's ASGI handler does not notice a client leaving: the stream runs to its end
        assert points["/abandoned/"].sum >= 5
    assert "error.type" not in spans["GET /abandoned/"].attributes
    assert active[-1] == 0


@pytest.mark.parametrize("server", SERVERS)
def test_hooks_set_attributes_and_a_raising_hook_is_contained(runs: dict[str, Run], server: str) -> None:
    run = runs[server]
    index = [attributes for name, attributes, _, _ in run.server_spans() if name == "GET /"]
    assert [a["shop.hook.path"] for a in index] == ["/"] * 3
    assert [a["shop.hook.status"] for a in index] == [200] * 3
    assert run.answers["/?hook=raise"] == run.answers["/?hook=raise&again=1"] == (200, "ok")
    assert run.output.count("the response_hook") == 1, run.output
