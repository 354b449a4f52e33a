"""The test project of the profiler: the admin with the trace explorer, a slow view, a fast one, and a job
hook that makes the processor's cycle slow; profiling on with a low threshold."""

from pathlib import Path

from tests.dashboards import live_project
from tests.project_factory import write_project

THRESHOLD = 0.1
QUERIES = 10  # run by the DB-heavy view, twice the profile_db_queries set
SLOW = 0.6  # seconds a slow view or job hook works: several looks and many samples past the threshold

SETTINGS = live_project.SETTINGS_TAIL + 'INSTALLED_APPS += ["dcm_otel"]\nALLOWED_HOSTS += ["testserver"]\n'


def settings(profiles: Path) -> dict[str, object]:
    """``DCM_OTEL``: the trace explorer, and profiles of what runs past ``THRESHOLD``."""
    return {
        "metrics_exporter": ["none"],
        "trace_explorer": True,
        "profiling": True,
        "profile_threshold": THRESHOLD,
        "profile_db_queries": QUERIES // 2,
        "profile_dir": str(profiles),
        "job_hook": "hooks.slow_job_hook",
    }


URLS = live_project.URLS.replace(
    "urlpatterns = [",
    """import time

from django.db import connection
from django.http import HttpResponse


def crunch(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:  # busy, as a slow computation is
        pass


def slow_view(request):
    crunch(%(slow)r * 2 / 3)
    time.sleep(%(slow)r / 3)  # waiting, as on a slow service: the view itself is at the top of the stack
    return HttpResponse("slow")


def queries_view(request):
    with connection.cursor() as cursor:
        for _ in range(%(queries)r):
            cursor.execute("SELECT 1")
    time.sleep(%(slow)r)
    return HttpResponse("queried")


def fast_view(request):
    return HttpResponse("fast")


urlpatterns = [
    path("slow/", slow_view),
    path("fast/", fast_view),
    path("queries/", queries_view),""",
)

HOOKS = """import time


def slow_job_hook(span, job):
    time.sleep(%(slow)r)
"""


def write(directory: Path, profiles: Path) -> Path:
    values = {"slow": SLOW, "queries": QUERIES}
    project = write_project(directory, settings_tail=f"{SETTINGS}DCM_OTEL = {settings(profiles)!r}\n")
    (project / "urls.py").write_text(URLS % values)
    (project / "hooks.py").write_text(HOOKS % values)
    return project
