"""Opt-in per-middleware spans (``middleware_spans``): one INTERNAL span per middleware, nested in the
order of ``MIDDLEWARE`` under the request span, for sync (WSGI) and async (ASGI) chains alike, with each
middleware's sync/async mode unchanged; none when off."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from tests.otlp_receiver import OtlpReceiver, Span, start_receiver
from tests.project_factory import project_env, write_project

MIDDLEWARE_MODULE = """\
import asyncio
import threading

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils.decorators import sync_and_async_middleware


def where():
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return "sync"
    return "async-main" if threading.current_thread() is threading.main_thread() else "async-thread"


@sync_and_async_middleware
def either(get_response):
    if iscoroutinefunction(get_response):
        async def middleware(request):
            mode = where()
            response = await get_response(request)
            response["X-Either"] = mode
            return response
    else:
        def middleware(request):
            response = get_response(request)
            response["X-Either"] = where()
            return response
    return middleware


class AsyncOnly:
    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request):
        mode = where()
        response = await self.get_response(request)
        response["X-Async-Only"] = mode
        return response


class Failing:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/fail/":
            raise PermissionError("no")
        return self.get_response(request)
"""

MIDDLEWARE = ["mw.either", "django.middleware.common.CommonMiddleware", "mw.AsyncOnly", "mw.Failing"]

# Requests through Django's test clients, WSGI (Client) or ASGI (AsyncClient), printing status and headers.
SCRIPT = """\
import asyncio, sys
import django
from django.test import AsyncClient, Client

django.setup()


def show(path, response):
    print(path, response.status_code, response.get("X-Either"), response.get("X-Async-Only"), flush=True)


async def run_async(paths):
    client = AsyncClient(raise_request_exception=False)
    for path in paths:
        show(path, await client.get(path))


if sys.argv[1] == "asgi":
    asyncio.run(run_async(sys.argv[2:]))
else:
    client = Client(raise_request_exception=False)
    for path in sys.argv[2:]:
        show(path, client.get(path))
"""


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = start_receiver()
    yield receiver
    receiver.close()


def run(tmp_path: Path, receiver: OtlpReceiver, mode: str, spans_on: bool, *paths: str) -> list[str]:
    tail = f"\nMIDDLEWARE = {MIDDLEWARE!r}\nDCM_OTEL = {{'middleware_spans': {spans_on}}}\n"
    project = write_project(tmp_path, settings_tail=tail + "\nimport dcm_otel; dcm_otel.init()\n")
    (project / "mw.py").write_text(MIDDLEWARE_MODULE)
    (project / "mw_requests.py").write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, "mw_requests.py", mode, *paths],
        cwd=project, env=project_env(project, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def chain_under(receiver: OtlpReceiver, request: Span) -> list[Span]:
    """The spans nested under ``request``, each the only child of the one before."""
    chain = []
    parent = request
    while children := [s for s in receiver.spans() if s.parent_span_id == parent.span_id]:
        (parent,) = children
        chain.append(parent)
    return chain


def server_span(receiver: OtlpReceiver, name: str) -> Span:
    (span,) = [s for s in receiver.spans() if s.kind == ProtoSpan.SPAN_KIND_SERVER and s.name == name]
    return span


@pytest.mark.parametrize("mode", ["wsgi", "asgi"])
def test_one_nested_span_per_middleware_in_order_and_none_when_off(
    tmp_path: Path, receiver: OtlpReceiver, mode: str
) -> None:
    without = run(tmp_path / "off", receiver, mode, False, "/", "/fail/")
    assert [s.kind for s in receiver.spans()] == [ProtoSpan.SPAN_KIND_SERVER] * 2
    receiver.received.clear()

    # Each middleware ran in the same mode and thread as without the spans: under ASGI the async-capable
    # ones in the event loop's thread (no thread hop added).
    assert run(tmp_path / "on", receiver, mode, True, "/", "/fail/") == without
    if mode == "asgi":
        assert without == ["/ 200 async-main async-main", "/fail/ 500 async-main async-main"]

    chain = chain_under(receiver, server_span(receiver, "GET /"))
    assert [s.name for s in chain] == MIDDLEWARE
    assert all(s.kind == ProtoSpan.SPAN_KIND_INTERNAL for s in chain)
    assert [s.attributes for s in chain] == [{"code.function.name": path} for path in MIDDLEWARE]
    assert all(s.status_code == 0 for s in chain)  # UNSET

    failing = chain_under(receiver, server_span(receiver, "GET"))
    assert [s.name for s in failing] == MIDDLEWARE
    assert failing[-1].attributes["error.type"] == "PermissionError"
    assert failing[-1].status_code == 2  # ERROR; the middleware outside it got Django's 500 response
    assert all(s.status_code == 0 for s in failing[:-1])


def test_excluded_paths_get_no_middleware_span(tmp_path: Path, receiver: OtlpReceiver) -> None:
    run(tmp_path, receiver, "wsgi", True, "/health/", "/")
    assert sorted(s.name for s in receiver.spans() if s.kind == ProtoSpan.SPAN_KIND_SERVER) == ["GET /"]
    assert len(receiver.spans()) == 1 + len(MIDDLEWARE)


def test_uninstrument_restores_djangos_import_string() -> None:
    import django.core.handlers.base as base
    from opentelemetry.sdk.trace import TracerProvider

    from dcm_otel.instrumentation.django import DjangoInstrumentor

    original = vars(base)["import_string"]
    instrumentor = DjangoInstrumentor()
    instrumentor.instrument(tracer_provider=TracerProvider(), middleware_spans=True)
    try:
        assert vars(base)["import_string"] is not original
    finally:
        instrumentor.uninstrument()
    assert vars(base)["import_string"] is original
