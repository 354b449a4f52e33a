"""The explorer's admin pages against a real database of spans from two processes: staff only, the list with
its summary and filters, one trace joined to the job run that links it (the run under the request, its
Docker calls under the run), its log records, the links to the job and to the tracing UI; a job's admin
page and its trace URL lead there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.dashboards import live_project
from tests.project_factory import write_project
from tests.trace_explorer.scripts import run_script

SETTINGS = (
    live_project.SETTINGS_TAIL
    + """
INSTALLED_APPS += ["dcm_otel"]
ALLOWED_HOSTS += ["testserver"]
TIME_ZONE = "Asia/Tokyo"  # the pages say UTC, so they must not show local time
DCM_OTEL = {
    "sdk_disabled": True,
    "trace_explorer": False,  # the pages show what the test's own store kept, and say no more is kept
    "tracing_url": "http://jaeger:16686/trace/{trace_id}",
}
"""
)

SCRIPT = """
import json, logging, re
from datetime import datetime, timezone
import django

django.setup()
from container_manager.models import ContainerJob, ExecutorHost
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from dcm_otel.config import load_config
from dcm_otel.trace_explorer.store import TraceStore

call_command("migrate", verbosity=0)
staff = User.objects.create_superuser("staff", "s@example.com", "pw")
plain = User.objects.create_user("plain", "p@example.com", "pw")
host = ExecutorHost.objects.create(name="h", connection_string="tcp://h:2375")
job = ContainerJob.objects.create(docker_host=host, name="j", command="true", docker_image="app:1")
store = TraceStore(load_config({"trace_explorer": True}))
logging.getLogger("app").setLevel(logging.INFO)


def tracer(service, instance):
    provider = TracerProvider(resource=Resource({"service.name": service, "service.instance.id": instance}))
    provider.add_span_processor(store)
    return provider.get_tracer("t")


web, processor = tracer("shop", "web-1"), tracer("shop", "processor-1")
with web.start_as_current_span("POST /jobs/new/", kind=SpanKind.SERVER, attributes={
    "http.route": "/jobs/new/", "http.response.status_code": 302}) as request:
    with web.start_as_current_span("INSERT container_manager_containerjob"):
        logging.getLogger("app").info("queued job %s with token=abc123", job.pk)
queued = request.get_span_context()
with processor.start_as_current_span("dcm.job.run", context=trace.set_span_in_context(trace.INVALID_SPAN),
        links=[Link(queued)], kind=SpanKind.CONSUMER, attributes={"dcm.job.id": str(job.pk)}):
    with processor.start_as_current_span("docker containers.create", kind=SpanKind.CLIENT):
        pass
    with processor.start_as_current_span("docker containers.start", kind=SpanKind.CLIENT):
        pass
with web.start_as_current_span("GET /boom/", kind=SpanKind.SERVER, attributes={
    "http.route": "/boom/", "http.response.status_code": 500}) as boom:
    boom.set_status(Status(StatusCode.ERROR, "boom"))
store.force_flush()

client = Client()
out = {"anonymous": client.get("/admin/dcm-otel/traces/").status_code}
client.force_login(plain)
out["plain"] = client.get("/admin/dcm-otel/traces/").status_code
client.force_login(staff)
def page(url):
    response = client.get(url, follow=True)
    final = response.redirect_chain[-1][0] if response.redirect_chain else url
    return {"status": response.status_code, "url": final, "text": response.content.decode()}
out["list"] = page("/admin/dcm-otel/traces/")
out["by_route"] = page("/admin/dcm-otel/traces/?route=jobs")
out["by_status"] = page("/admin/dcm-otel/traces/?status=error")
out["by_job"] = page(f"/admin/dcm-otel/traces/?job={job.pk}")
out["slow"] = page("/admin/dcm-otel/traces/?min_ms=60000")
out["job_trace"] = page(f"/admin/dcm-otel/traces/job/{job.pk}/")
out["pending"] = page("/admin/dcm-otel/traces/job/no-such-job/")
out["change"] = page(f"/admin/container_manager/containerjob/{job.pk}/change/")
out["jobs"] = page("/admin/container_manager/containerjob/")
out["boom_trace"] = page(f"/admin/dcm-otel/traces/{boom.get_span_context().trace_id:032x}/")
boom_started = datetime.fromtimestamp(boom.start_time // 10**9, timezone.utc)
out["boom_started_utc"] = boom_started.strftime("%Y-%m-%d %H:%M:%S")
out["request_trace"] = f"{queued.trace_id:032x}"
out["job_id"] = str(job.pk)
print(json.dumps(out))
"""


def run(tmp_path: Path) -> Any:
    project = write_project(tmp_path, settings_tail=SETTINGS)
    (project / "urls.py").write_text(live_project.URLS)
    return run_script(project, "pages_script.py", SCRIPT)[0]


def roots(page: dict[str, Any]) -> list[str]:
    """The root span names the list shows, newest first."""
    rows = page["text"].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [cell.split('">', 1)[1].split("<", 1)[0] for cell in rows.split("/admin/dcm-otel/traces/")[1:]]


def test_the_explorer_pages(tmp_path: Path) -> None:
    out = run(tmp_path)
    assert out["anonymous"] == 302
    assert out["plain"] == 302  # the admin's login, as for every staff page
    assert roots(out["list"]) == ["GET /boom/", "dcm.job.run", "POST /jobs/new/"]
    assert roots(out["by_route"]) == ["POST /jobs/new/"]
    assert roots(out["by_status"]) == ["GET /boom/"]
    assert roots(out["by_job"]) == ["dcm.job.run"]
    assert roots(out["slow"]) == []
    assert 'class="dcm-error"' in out["list"]["text"]
    assert 'id="dcm-explorer-off"' in out["list"]["text"]  # DEBUG is true, but the key says no
    # Start times are shown in UTC, as the pages say, whatever the project's TIME_ZONE.
    assert f"<td>{out['boom_started_utc']}." in out["list"]["text"]
    assert f"Started {out['boom_started_utc']} UTC" in out["boom_trace"]["text"]

    # The job's trace: the request's trace with the run it queued, across the two processes, in order.
    trace = out["job_trace"]
    assert trace["status"] == 200
    text = trace["text"]
    names = [part.split('"', 1)[0] for part in text.split('data-name="')[1:]]
    assert names == [
        "POST /jobs/new/",
        "INSERT container_manager_containerjob",
        "dcm.job.run",
        "docker containers.create",
        "docker containers.start",
    ]
    depths = [int(part.split('"', 1)[0]) for part in text.split('data-depth="')[1:]]
    assert depths == [0, 1, 1, 2, 2]  # the run hangs under the request that queued it (via its link)
    processes = [part.split('"', 1)[0] for part in text.split('data-process="')[1:]]
    assert processes == ["web-1", "web-1", "processor-1", "processor-1", "processor-1"]
    shown = trace["url"].rstrip("/").rsplit("/", 1)[1]  # the run's own trace, the request's linked to it
    assert shown != out["request_trace"]
    assert f'href="http://jaeger:16686/trace/{shown}"' in text
    assert f"/admin/container_manager/containerjob/{out['job_id']}/change/" in text
    assert "queued job" in text
    assert "token=***" in text
    assert "abc123" not in text

    assert "reloads every 2 seconds" in out["pending"]["text"]
    assert f"/admin/dcm-otel/traces/job/{out['job_id']}/" in out["change"]["text"]
