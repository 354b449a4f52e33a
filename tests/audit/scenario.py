"""Run inside the test project (``python scenario.py ACTIONS_JSON``): performs the given logins, admin
changes and refused requests through Django's real auth and admin with the test client, then prints, as its
last line, what the database holds, counted with plain SQL (not through dcm_otel)."""

import json
import sys
from datetime import timedelta
from html.parser import HTMLParser

import django

django.setup()

from container_manager.models import ContainerJob, ExecutorHost  # noqa: E402
from django.contrib.admin.models import LogEntry  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402


class FormFields(HTMLParser):
    """What a browser submits from a page's form: text inputs, checked boxes, selected options, textareas."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.data[name] = a.get("value") or ""
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data.removeprefix("\n") if not self.data[self._textarea] else data


def submitted(client, path, **changes):
    """POST the page's form back as a browser would, with ``changes``; the response's status code."""
    form = FormFields()
    form.feed(client.get(path).content.decode())
    return client.post(path, {**form.data, **changes}).status_code


call_command("migrate", verbosity=0)
actions = json.loads(sys.argv[1])
User.objects.create_superuser("alice", password="alice-pw")
User.objects.create_user("bob", password="bob-pw", is_staff=True)  # staff, but no permission on jobs
host = ExecutorHost.objects.create(name="h1", host_type="unix", connection_string="unix:///x.sock")
jobs = [
    ContainerJob.objects.create(docker_image="busybox", docker_host=host, command="true") for _ in range(4)
]

# Before the reported period: neither may be counted.
old = timezone.now() - timedelta(days=3)
connection.cursor().execute(
    "INSERT INTO dcm_otel_auditevent (time, kind, user_hash, address_hash, route) "
    "VALUES (%s, %s, '', '', '')",
    [old, "login.failed"],
)
LogEntry.objects.create(
    user=User.objects.get(username="alice"),
    action_flag=2,
    object_id=str(jobs[0].pk),
    object_repr="old",
    content_type=ContentType.objects.get_for_model(ContainerJob),
    action_time=old,
)

statuses = []
for username, password, address in actions["logins"]:
    response = Client(REMOTE_ADDR=address).post(
        "/admin/login/", {"username": username, "password": password, "next": "/admin/"}
    )
    statuses.append(response.status_code)

alice = Client(REMOTE_ADDR="10.9.0.1")
alice.login(username="alice", password="alice-pw")
host_form = {
    "name": "h2",
    "executor_type": "docker",
    "host_type": "unix",
    "connection_string": "unix:///y.sock",
    "is_active": "on",
    "weight": "100",
    "executor_config": "{}",
    "max_concurrent_jobs": "10",
    "auto_pull_images": "on",
}
statuses.append(alice.post("/admin/container_manager/executorhost/add/", host_form).status_code)
added = ExecutorHost.objects.get(name="h2")
statuses.append(
    alice.post(
        f"/admin/container_manager/executorhost/{added.pk}/change/", {**host_form, "weight": "50"}
    ).status_code
)
statuses.append(
    submitted(alice, f"/admin/container_manager/containerjob/{jobs[3].pk}/change/", name="renamed")
)
statuses.append(
    alice.post(f"/admin/container_manager/containerjob/{jobs[0].pk}/delete/", {"post": "yes"}).status_code
)
statuses.append(
    alice.post(
        "/admin/container_manager/containerjob/",
        {"action": "delete_selected", "_selected_action": [str(jobs[1].pk), str(jobs[2].pk)], "post": "yes"},
    ).status_code
)
# Not a job or a host: in LogEntry, but not in the report.
statuses.append(
    alice.post(
        "/admin/auth/user/add/",
        {
            "username": "carol",
            "password1": "Xy-12345678",
            "password2": "Xy-12345678",
            "usable_password": "true",
        },
    ).status_code
)

bob = Client(REMOTE_ADDR="10.9.0.2")
bob.login(username="bob", password="bob-pw")
for _ in range(actions["bob_denied"]):
    statuses.append(bob.get(f"/admin/container_manager/containerjob/{jobs[3].pk}/change/").status_code)
for _ in range(actions["anonymous_denied"]):
    statuses.append(Client(REMOTE_ADDR="10.9.0.3").get("/forbidden/").status_code)

with connection.cursor() as cursor:
    cursor.execute("SELECT kind, COUNT(*) FROM dcm_otel_auditevent WHERE time > %s GROUP BY kind", [old])
    kinds = dict(cursor.fetchall())
    cursor.execute(
        "SELECT ct.model, e.action_flag, COUNT(*) FROM django_admin_log e "
        "JOIN django_content_type ct ON ct.id = e.content_type_id "
        "WHERE ct.app_label = 'container_manager' AND e.action_time > %s GROUP BY ct.model, e.action_flag",
        [old],
    )
    admin = [[model, flag, n] for model, flag, n in cursor.fetchall()]
    cursor.execute("SELECT user_hash, address_hash, route FROM dcm_otel_auditevent")
    stored = [list(row) for row in cursor.fetchall()]
assert ContainerJob.objects.get(pk=jobs[3].pk).name == "renamed"
print(json.dumps({"statuses": statuses, "kinds": kinds, "admin": admin, "stored": stored}))
