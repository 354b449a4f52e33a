"""``DjangoInstrumentor().instrument(request_hook=..., response_hook=...)``, contrib's keyword arguments:
they replace the config's hooks, and what they set lands on the server span, through WSGI and ASGI alike
(Django's test clients, in a fresh process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from dcm_otel.config import ConfigError, load_config

SCRIPT = textwrap.dedent(
    """
    import asyncio, json

    import django
    from django.conf import settings
    from django.http import HttpResponse
    from django.urls import path

    settings.configure(ROOT_URLCONF="__main__", ALLOWED_HOSTS=["*"], DATABASES={})
    django.setup()

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from django.test import AsyncClient, Client

    from dcm_otel.config import Config
    from dcm_otel.instrumentation.django import DjangoInstrumentor
    from dcm_otel.instrumentation.django.middleware import TelemetryMiddleware

    urlpatterns = [path("", lambda request: HttpResponse("ok"))]


    def request_hook(span, request):
        span.set_attribute("app.request_hook", request.path)


    def response_hook(span, request, response):
        span.set_attribute("app.response_hook", response.status_code)


    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    config = Config(request_hook=print, instrument_db=False)
    DjangoInstrumentor().instrument(
        config=config, tracer_provider=provider, request_hook=request_hook, response_hook=response_hook
    )
    assert TelemetryMiddleware.config.request_hook is request_hook
    Client().get("/")
    asyncio.run(AsyncClient().get("/"))
    print(json.dumps([dict(span.attributes) for span in exporter.get_finished_spans()]))
    """
)


def test_instrument_keyword_hooks_replace_the_configs_and_set_attributes_sync_and_async() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DCM_OTEL_", "DJANGO_"))}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, result.stderr
    spans = json.loads(result.stdout.splitlines()[-1])
    assert [(s["app.request_hook"], s["app.response_hook"]) for s in spans] == [("/", 200), ("/", 200)]


@pytest.mark.parametrize("key", ["request_hook", "response_hook"])
def test_a_hook_that_does_not_import_is_refused_at_startup_by_name(key: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config({key: "myproject.no_such_module.hook"}, environ={})
    [problem] = refused.value.problems
    assert problem.key == f"DCM_OTEL[{key!r}]"
    assert problem.value == "myproject.no_such_module.hook"
    assert "a callable or the dotted path of one" in problem.allowed
    assert getattr(load_config({key: "os.path.join"}, environ={}), key) is os.path.join
