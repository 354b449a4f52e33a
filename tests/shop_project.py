"""A plain Django project (tests/project_factory.py) plus one app, ``shop``, and views that query it: what
the HTTP and DB instrumentation tests run in a subprocess, on SQLite or on a real PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.otlp_receiver import OtlpReceiver
from tests.project_factory import project_env, write_project

# Values that must never leave the process: one bound as a query parameter, one written as a SQL literal.
PARAMETER_SECRET = "param-secret-4f1d"
LITERAL_SECRET = "literal-secret-9c2e"
JOB = "/jobs/6f1c2a43-7d3e-4a4e-9a59-0d8f3f0e1c11/"
N_PLUS_ONE_ROWS = 6

MODELS = """\
from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=50)
    owner = models.CharField(max_length=50)

    class Meta:
        app_label = "shop"
"""

URLS = f"""\
from django.db import DatabaseError, connection
from django.http import HttpResponse
from django.urls import path

from shop.models import Item


def index(request):
    return HttpResponse("ok")


def job(request, pk):
    return HttpResponse(str(Item.objects.filter(name=str(pk)).count()))


def items(request):
    names = list(Item.objects.order_by("pk").values_list("name", flat=True))
    return HttpResponse(",".join(names))


def n_plus_one(request):
    pks = list(Item.objects.order_by("pk").values_list("pk", flat=True)[:{N_PLUS_ONE_ROWS}])
    return HttpResponse(",".join(Item.objects.get(pk=pk).owner for pk in pks))


def secrets(request):
    count = Item.objects.filter(owner={PARAMETER_SECRET!r}).count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM shop_item WHERE owner = '{LITERAL_SECRET}'")
        count += cursor.fetchone()[0]
    try:  # drivers echo the statement, literals included, in their error messages
        with connection.cursor() as cursor:
            cursor.execute("SELECT owner FROM no_such_table WHERE owner = '{LITERAL_SECRET}'")
    except DatabaseError:
        pass
    return HttpResponse(str(count))


def current_query(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_query()")
        return HttpResponse(cursor.fetchone()[0])


def health(request):
    return HttpResponse(str(Item.objects.count()))


def unavailable(request):
    return HttpResponse("down", status=503)


def boom(request):
    raise RuntimeError("boom")


urlpatterns = [
    path("", index),
    path("jobs/<uuid:pk>/", job),
    path("items/", items),
    path("n-plus-one/", n_plus_one),
    path("secrets/", secrets),
    path("current-query/", current_query),
    path("health/", health),
    path("internal/health/", health),
    path("unavailable/", unavailable),
    path("boom/", boom),
]
"""

# Requests through Django's test client in a fresh process: argv[1] is a JSON list of [path, headers].
REQUESTS = """\
import json, sys
import django
from django.test import Client

django.setup()
client = Client(raise_request_exception=False)
for path, headers in json.loads(sys.argv[1]):
    response = client.get(path, headers=headers)
    print(json.dumps([path, response.status_code, response.content.decode()]), flush=True)
"""

SEED = f"""\
from shop.models import Item
Item.objects.bulk_create(Item(name=f"item-{{i}}", owner=f"owner-{{i}}") for i in range({N_PLUS_ONE_ROWS}))
"""


def write_shop_project(
    directory: Path, dcm_otel: dict[str, Any] | None = None, database: dict[str, Any] | None = None
) -> Path:
    """The project, with ``DCM_OTEL`` and ``DATABASES['default']`` as given and the one-line init."""
    tail = ""
    if database is not None:
        tail += f"\nDATABASES = {{'default': {database!r}}}\n"
    if dcm_otel is not None:
        tail += f"\nDCM_OTEL = {dcm_otel!r}\n"
    tail += "\nimport dcm_otel; dcm_otel.init()\n"
    project = write_project(directory, settings_tail=tail, installed_apps=("shop",))
    (project / "shop").mkdir()
    (project / "shop" / "__init__.py").write_text("")
    (project / "shop" / "models.py").write_text(MODELS)
    (project / "urls.py").write_text(URLS)
    (project / "shop_requests.py").write_text(REQUESTS)
    _run(project, ["manage.py", "migrate", "--run-syncdb", "-v0"])
    _run(project, ["manage.py", "shell", "-c", SEED])
    return project


def _run(project: Path, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environment = project_env(project, OTEL_SDK_DISABLED="true", **env)
    result = subprocess.run(
        [sys.executable, *args], cwd=project, env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result


def request(
    project: Path, receiver: OtlpReceiver, *paths: str | tuple[str, dict[str, str]], **env: str
) -> dict[str, tuple[int, str]]:
    """GET each path (optionally with headers) in one process exporting to ``receiver``; returns
    path -> (status, body) once the process has exited (so everything is flushed)."""
    plan = [[p, {}] if isinstance(p, str) else list(p) for p in paths]
    environment = project_env(project, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, **env)
    result = subprocess.run(
        [sys.executable, "shop_requests.py", json.dumps(plan)],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answers = (json.loads(line) for line in result.stdout.splitlines())
    return {path: (status, body) for path, status, body in answers}
