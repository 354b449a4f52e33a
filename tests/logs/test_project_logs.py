"""A plain Django project with the one-line init and ``structured_logging``, exporting to the local OTLP
receiver: what it writes to stderr and what reaches OTLP, for requests, logins, admin actions and 403s."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.otlp_receiver import Log, OtlpReceiver, start_receiver
from tests.project_factory import project_env, write_project

SECRET = "pl4nted-S3cret-value"
WRONG_PASSWORD = "hunter2-Wrong-Pass"
SETTINGS_TAIL = """
INSTALLED_APPS += ["django.contrib.admin", "django.contrib.sessions", "django.contrib.messages",
                   "container_manager"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True, "OPTIONS": {
    "context_processors": ["django.template.context_processors.request",
                           "django.contrib.auth.context_processors.auth",
                           "django.contrib.messages.context_processors.messages"]}}]
DCM_OTEL = {"environment": "test", "metric_export_interval": 600}
import dcm_otel.logs; LOGGING = dcm_otel.logs.structured_logging(LOGGING)
import dcm_otel; dcm_otel.init()
"""
URLS = f"""
import logging

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.urls import path

logger = logging.getLogger("shop.views")


def work(request):
    from container_manager.models import ContainerJob, ExecutorHost

    host = ExecutorHost.objects.get(name="h1")
    job = ContainerJob.objects.create_job(
        image="busybox", command="true", name="env-job", docker_host=host,
        environment_vars={{"API_TOKEN": "{SECRET}", "GREETING": "hello"}},
    )
    logger.info("job env %s", job.get_all_environment_variables(),
                extra={{"dcm.job.id": str(job.pk), "api_key": "{SECRET}"}})
    return HttpResponse("ok")


def forbidden(request):
    raise PermissionDenied


urlpatterns = [path("work/", work), path("forbidden/", forbidden), path("admin/", admin.site.urls)]
"""
SCRIPT = f"""
import django
from django.core.management import call_command
from django.test import Client

django.setup()
call_command("migrate", verbosity=0)
from container_manager.models import ExecutorHost
from django.contrib.auth.models import User

User.objects.create_superuser("root", "root@example.com", "Right-Pass-123")
host = ExecutorHost.objects.create(name="h1", executor_type="docker", connection_string="unix:///nowhere")
client = Client(raise_request_exception=False)
assert client.get("/work/").status_code == 200
client.post("/admin/login/?next=/admin/", {{"username": "mallory", "password": "{WRONG_PASSWORD}"}})
assert client.login(username="root", password="Right-Pass-123")
deleted = client.post(f"/admin/container_manager/executorhost/{{host.pk}}/delete/", {{"post": "yes"}})
assert deleted.status_code == 302
bulk = [ExecutorHost.objects.create(name=name, executor_type="docker", connection_string="unix:///x").pk
        for name in ("h2", "h3")]
deleted = client.post("/admin/container_manager/executorhost/",
                      {{"action": "delete_selected", "_selected_action": bulk, "post": "yes"}})
assert deleted.status_code == 302
assert not ExecutorHost.objects.filter(pk__in=bulk).exists()
client.logout()
assert client.get("/forbidden/").status_code == 403
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[dict[str, Any]], OtlpReceiver]]:
    receiver = start_receiver()
    project = write_project(tmp_path_factory.mktemp("logs_project"), settings_tail=SETTINGS_TAIL)
    (project / "urls.py").write_text(URLS)
    (project / "script.py").write_text(SCRIPT)
    env = project_env(project, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
    done = subprocess.run(
        [sys.executable, str(project / "script.py")], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout == ""
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # every line is JSON
    try:
        yield lines, receiver
    finally:
        receiver.close()


def exported(receiver: OtlpReceiver, message_start: str) -> Log:
    found = [log for log in receiver.logs() if str(log.body).startswith(message_start)]
    assert len(found) == 1, [log.body for log in receiver.logs()]
    return found[0]


def test_a_log_line_in_a_request_carries_the_request_span_ids_in_json_and_otlp(run) -> None:
    lines, receiver = run
    [line] = [line for line in lines if line["logger"] == "shop.views"]
    [server] = [s for s in receiver.spans() if s.name == "GET /work/"]
    assert (line["trace_id"], line["span_id"]) == (server.trace_id, server.span_id)
    assert line["service.name"] == "settings"
    assert line["deployment.environment.name"] == "test"
    log = exported(receiver, "job env")
    assert (log.trace_id, log.span_id) == (server.trace_id, server.span_id)
    assert log.severity_text == "INFO"
    assert log.scope == "shop.views"
    assert log.attributes["dcm.job.id"] == line["dcm.job.id"]
    assert log.resource["service.name"] == "settings"


def test_a_secret_in_a_job_env_and_in_extra_fields_is_masked_everywhere(run) -> None:
    lines, receiver = run
    [line] = [line for line in lines if line["logger"] == "shop.views"]
    assert line["api_key"] == "***"
    assert "'API_TOKEN': '***'" in line["message"]
    assert "'GREETING': 'hello'" in line["message"]
    assert exported(receiver, "job env").attributes["dcm.log.api_key"] == "***"  # un-namespaced: dcm.log.
    assert SECRET not in json.dumps(lines)
    with receiver.lock:
        raw = [message.SerializeToString() for batch in receiver.received.values() for message in batch]
    assert raw
    assert not [body for body in raw if SECRET.encode() in body]


def test_failed_login_is_a_security_event_without_the_password(run) -> None:
    lines, receiver = run
    [failed] = [line for line in lines if line.get("event.name") == "security.login.failed"]
    assert failed["logger"] == "dcm_otel.security"
    assert failed["level"] == "WARNING"
    assert len(failed["user.hash"]) == 16
    assert "mallory" not in json.dumps(failed)
    assert failed["trace_id"]  # inside the POST /admin/login/ request span
    assert WRONG_PASSWORD not in json.dumps(lines)
    log = exported(receiver, "login failed")
    assert log.event_name == "security.login.failed"
    with receiver.lock:
        raw = [message.SerializeToString() for batch in receiver.received.values() for message in batch]
    assert not [body for body in raw if WRONG_PASSWORD.encode() in body or b"mallory" in body]


def test_login_logout_admin_action_and_403_are_security_events(run) -> None:
    lines, _ = run
    events = {line.get("event.name"): line for line in lines if line.get("event.name")}
    assert events["security.login.succeeded"]["user.id"] == "1"
    assert events["security.logout"]["user.id"] == "1"
    # one delete from the object's page (post_save), two at once by the bulk action (bulk_create)
    deleted = [line for line in lines if line.get("event.name") == "security.admin.action"]
    assert sorted(line["dcm.admin.object.repr"][:2] for line in deleted) == ["h1", "h2", "h3"]
    for admin in deleted:
        assert admin["user.id"] == "1"
        assert admin["dcm.admin.action"] == "delete"
        assert admin["dcm.admin.object.type"] == "container_manager.executorhost"
    refused = events["security.permission_denied"]
    assert refused["url.path"] == "/forbidden/"
    assert refused["http.response.status_code"] == 403
