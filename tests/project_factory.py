"""Writes a small plain Django project to a directory, so tests can run it in a subprocess exactly as a
user would (manage.py, gunicorn, opentelemetry-instrument), differing from a plain project only by the
lines a test adds."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.services._common import free_port, port_open, wait_until

SETTINGS = """\
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
USE_TZ = True
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"dcm_otel": {"handlers": ["console"], "level": "INFO"}},
}
"""

URLS = """\
import os
import time

from django.db import connection
from django.http import HttpResponse
from django.urls import path


def index(request):
    return HttpResponse("ok")


def job(request, pk):
    return HttpResponse(str(pk))


def boom(request):
    raise RuntimeError("boom")


def pid(request):
    time.sleep(0.02)  # long enough that concurrent requests keep several workers busy
    return HttpResponse(str(os.getpid()))


def slow(request):
    time.sleep(0.3)  # past a low profile_threshold
    return HttpResponse("slow")


def query(request):
    with connection.cursor() as cursor:
        for _ in range(3):  # the same statement thrice: an N+1 pattern at a threshold of 3 or less
            cursor.execute("SELECT 1")
    return HttpResponse("queried")


urlpatterns = [
    path("", index),
    path("query/", query),
    path("jobs/<uuid:pk>/", job),
    path("boom/", boom),
    path("pid/", pid),
    path("slow/", slow),
]
"""

# Runs requests through Django's test client in a fresh process, then exits normally (flushing at exit).
REQUEST_SCRIPT = """\
import os, sys
import django
from django.test import Client

django.setup()
client = Client(raise_request_exception=False)
for path in sys.argv[1:]:
    response = client.get(path)
    print(path, response.status_code, flush=True)
"""


def write_project(directory: Path, settings_tail: str = "", installed_apps: tuple[str, ...] = ()) -> Path:
    """A project in ``directory``: settings.py (+ ``settings_tail``), urls.py, manage.py, requests.py,
    wsgi.py and asgi.py."""
    directory.mkdir(parents=True, exist_ok=True)
    settings = SETTINGS
    if installed_apps:
        extra = "".join(f'    "{app}",\n' for app in installed_apps)
        settings = settings.replace(
            '    "django.contrib.contenttypes",\n', f'    "django.contrib.contenttypes",\n{extra}'
        )
    (directory / "settings.py").write_text(settings + textwrap.dedent(settings_tail))
    (directory / "urls.py").write_text(URLS)
    (directory / "requests_script.py").write_text(REQUEST_SCRIPT)
    (directory / "manage.py").write_text(
        "import os, sys\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings')\n"
        "from django.core.management import execute_from_command_line\n"
        "execute_from_command_line(sys.argv)\n"
    )
    for interface in ("wsgi", "asgi"):
        (directory / f"{interface}.py").write_text(
            "import os\n"
            "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings')\n"
            f"from django.core.{interface} import get_{interface}_application\n"
            f"application = get_{interface}_application()\n"
        )
    return directory


def project_env(directory: Path, **extra: str) -> dict[str, str]:
    """The environment a subprocess of the project runs with: no OTEL_* leaking in from the test runner."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DCM_OTEL_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="settings",
        PYTHONPATH=str(directory),
        PYTHONUNBUFFERED="1",
        PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
    )
    env.update(extra)
    return env


@contextmanager
def runserver(directory: Path) -> Iterator[str]:
    """The project served by ``manage.py runserver`` (a thread per request) on a free port: its base URL.
    Its output goes to ``server.log``; stopped with SIGTERM."""
    port = free_port()
    with (directory / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=directory,
            env=project_env(directory),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            assert wait_until(lambda: port_open("127.0.0.1", port), 60, 0.2), (
                directory / "server.log"
            ).read_text()
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(timeout=30)
