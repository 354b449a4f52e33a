"""``manage.py dcm_audit_report`` on SQLite and PostgreSQL: logins, failures, 403s and admin changes made
through Django's real auth and admin, reported in every format; each figure is recomputed here from the
list of actions the test performed and from the database's rows counted with plain SQL."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dcm_otel.config import ConfigError, load_config
from tests.project_factory import project_env, write_project
from tests.services.postgres import Postgres
from tests.trace_explorer.scripts import run_script

SECRET = "test-only-not-secret"  # the project factory's SECRET_KEY
SETTINGS = """
INSTALLED_APPS += ["django.contrib.admin", "django.contrib.sessions", "django.contrib.messages"]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request", "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
ROOT_URLCONF = "audit_urls"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins; the flow is the same
DCM_OTEL = {"metrics_exporter": "none"}
"""
URLS = """
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path


def forbidden(request):
    raise PermissionDenied


urlpatterns = [path("admin/", admin.site.urls), path("forbidden/", forbidden)]
"""
# (username, password, address): who tried to log in to the admin, in order.
LOGINS = [
    ("mallory", "guess-1", "10.0.0.7"),
    ("mallory", "guess-2", "10.0.0.7"),
    ("alice", "wrong", "10.0.0.7"),
    ("mallory", "guess-3", "10.0.0.8"),
    ("alice", "alice-pw", "10.0.0.1"),
    ("bob", "wrong", "10.0.0.2"),
    ("bob", "bob-pw", "10.0.0.2"),
    ("alice", "alice-pw", "10.0.0.1"),
]
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw"}
ACTIONS = {"logins": LOGINS, "bob_denied": 2, "anonymous_denied": 3}
RAW = ["mallory", "alice", "bob", "10.0.0.7", "10.0.0.8", "10.0.0.1", "10.0.0.2", "10.9.0."]


def keyed(value: str) -> str:
    return hmac.new(SECRET.encode(), value.encode(), hashlib.sha256).hexdigest()[:16]


def make_project(directory: Path, database: dict[str, Any] | None = None) -> Path:
    tail = SETTINGS + (f"DATABASES = {{'default': {database!r}}}\n" if database else "")
    write_project(directory, tail, installed_apps=("container_manager", "dcm_otel"))
    (directory / "audit_urls.py").write_text(URLS)
    return directory


def report(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "dcm_audit_report", *args],
        cwd=project,
        env=project_env(project),
        capture_output=True,
        text=True,
        timeout=120,
        check=check,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    if request.param == "sqlite":
        yield make_project(tmp_path)
        return
    postgres: Postgres = request.getfixturevalue("postgres")
    name = f"dcm_otel_audit_{uuid.uuid4().hex[:8]}"
    try:
        yield make_project(tmp_path, postgres.create_database(name).django_database())
    finally:
        postgres.drop_database(name)


def expected() -> dict[str, Any]:
    """The report's figures from the actions alone."""
    succeeded = [(u, a) for u, p, a in LOGINS if PASSWORDS.get(u) == p]
    failed = [(u, a) for u, p, a in LOGINS if PASSWORDS.get(u) != p]
    # The scenario's own logins of alice and bob (test client, no address) come on top.
    succeeded_users = Counter(keyed(u) for u, _ in succeeded) + Counter([keyed("alice"), keyed("bob")])
    denied = ACTIONS["bob_denied"] + ACTIONS["anonymous_denied"]
    return {
        "succeeded": len(succeeded) + 2,
        "failed": len(failed),
        "succeeded_by_user": dict(succeeded_users),
        "failed_by_user": dict(Counter(keyed(u) for u, _ in failed)),
        "failed_by_address": dict(Counter(keyed(a) for _, a in failed)),
        "denied": denied,
        "denied_by_user": {keyed("bob"): ACTIONS["bob_denied"], "(anonymous)": ACTIONS["anonymous_denied"]},
        "denied_by_address": {
            keyed("10.9.0.2"): ACTIONS["bob_denied"],
            keyed("10.9.0.3"): ACTIONS["anonymous_denied"],
        },
        "denied_by_route": {
            "admin/container_manager/containerjob/<path:object_id>/change/": ACTIONS["bob_denied"],
            "forbidden/": ACTIONS["anonymous_denied"],
        },
        # host added and changed; a job changed, one deleted from its page, two with delete_selected
        "admin": {
            "container_manager.containerjob": {"add": 0, "change": 1, "delete": 3},
            "container_manager.executorhost": {"add": 1, "change": 1, "delete": 0},
        },
    }


def test_report_figures_match_the_actions_and_the_database(project: Path) -> None:
    scenario = Path(__file__).with_name("scenario.py").read_text()
    db, _ = run_script(project, "scenario.py", scenario, json.dumps(ACTIONS))
    want = expected()
    assert db["statuses"][len(LOGINS) :] == [302, 302, 302, 302, 302, 302, 403, 403, 403, 403, 403]
    # The database, counted with plain SQL, agrees with the actions.
    assert db["kinds"] == {
        "login.succeeded": want["succeeded"],
        "login.failed": want["failed"],
        "permission_denied": want["denied"],
    }
    flags = {1: "add", 2: "change", 3: "delete"}
    from_db: dict[str, dict[str, int]] = {}
    for model, flag, count in db["admin"]:
        from_db.setdefault(f"container_manager.{model}", {"add": 0, "change": 0, "delete": 0})[
            flags[flag]
        ] = count
    assert from_db == want["admin"]
    # Stored: hashes and routes only.
    assert not any(raw in value for row in db["stored"] for value in row for raw in RAW)

    data = json.loads(report(project, "--since", "24h", "--format", "json").stdout)
    logins, denials, admin = data["logins"], data["permission_denials"], data["admin_changes"]
    assert (logins["succeeded"], logins["failed"]) == (want["succeeded"], want["failed"])
    assert logins["succeeded_by_user"] == want["succeeded_by_user"]
    assert logins["failed_by_user"] == want["failed_by_user"]
    assert logins["failed_by_address"] == want["failed_by_address"]
    assert next(iter(logins["failed_by_user"])) == keyed("mallory")  # the repeated offender leads
    assert denials["total"] == want["denied"]
    assert denials["by_user"] == want["denied_by_user"]
    assert denials["by_address"] == want["denied_by_address"]
    assert denials["by_route"] == want["denied_by_route"]
    assert admin["total"] == 6
    assert admin["by_object_type"] == want["admin"]
    assert admin["by_user"] == {keyed("alice"): 6}
    assert [(e["object_type"], e["action"]) for e in admin["entries"]] == [
        ("container_manager.executorhost", "add"),
        ("container_manager.executorhost", "change"),
        ("container_manager.containerjob", "change"),
        *[("container_manager.containerjob", "delete")] * 3,
    ]

    rows = list(csv.reader(io.StringIO(report(project, "--since", "24h", "--format", "csv").stdout)))
    assert rows[0] == ["section", "group", "key", "count"]
    figures = {(s, g, k): int(n) for s, g, k, n in rows[1:]}
    assert figures[("logins", "succeeded", "")] == want["succeeded"]
    assert figures[("logins", "failed", "")] == want["failed"]
    for address, count in want["failed_by_address"].items():
        assert figures[("logins", "failed_by_address", address)] == count
    assert figures[("permission_denials", "total", "")] == want["denied"]
    for route, count in want["denied_by_route"].items():
        assert figures[("permission_denials", "by_route", route)] == count
    for kind, actions in want["admin"].items():
        for action, count in actions.items():
            assert figures[("admin_changes", f"by_object_type:{kind}", action)] == count
    assert len(rows) - 1 == len(figures)  # one row per figure

    text = report(project, "--since", "24h").stdout
    assert f"Logins: {want['succeeded']} succeeded, {want['failed']} failed" in text
    assert f"Permission denials (403): {want['denied']}" in text
    assert "container_manager.containerjob: add 0, change 1, delete 3" in text
    assert "container_manager.executorhost: add 1, change 1, delete 0" in text
    for title, counts in (
        ("failed by user", want["failed_by_user"]),
        ("failed by address", want["failed_by_address"]),
        ("by route", want["denied_by_route"]),
    ):
        block = text.split(f"  {title}:\n", 1)[1].split("\n")[: len(counts)]
        assert {line.split()[0]: int(line.split()[1]) for line in block} == counts, title

    for output in (json.dumps(data), text):
        assert not any(raw in output for raw in RAW)

    # The earlier events (three days back) are counted once the period reaches them.
    older = json.loads(report(project, "--since", "4d", "--format", "json").stdout)
    assert older["logins"]["failed"] == want["failed"] + 1
    assert older["admin_changes"]["by_object_type"]["container_manager.containerjob"]["change"] == 2
    # --until excludes everything after it.
    empty = json.loads(report(project, "--since", "4d", "--until", "1d", "--format", "json").stdout)
    assert (empty["logins"]["succeeded"], empty["logins"]["failed"], empty["admin_changes"]["total"]) == (
        0,
        1,
        1,
    )


RETENTION = """
import json, sys
from datetime import timedelta
import django

django.setup()
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.utils import timezone

from dcm_otel.audit.models import AuditEvent

call_command("migrate", verbosity=0)
AuditEvent.objects.create(time=timezone.now() - timedelta(days=8), kind="login.failed")
for i in range(130):
    authenticate(username=f"nobody-{i}", password="x")
oldest = AuditEvent.objects.order_by("time").first().time
print(json.dumps({"rows": AuditEvent.objects.count(), "oldest_days": (timezone.now() - oldest).days}))
"""


def test_the_store_keeps_within_its_bounds(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    settings = project / "settings.py"
    settings.write_text(
        settings.read_text().replace(
            'DCM_OTEL = {"metrics_exporter": "none"}',
            'DCM_OTEL = {"metrics_exporter": "none", "audit_max_events": 100, "audit_max_age_days": 7}',
        )
    )
    result, _ = run_script(project, "retention.py", RETENTION)
    assert result == {"rows": 100, "oldest_days": 0}  # the 8-day-old row went at the first insert


UNMIGRATED = """
import json
import django

django.setup()
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

call_command("migrate", verbosity=0)
call_command("migrate", "dcm_otel", "0001", verbosity=0)  # the audit store's table is not there
User.objects.create_user("dora", password="dora-pw")
client = Client(REMOTE_ADDR="10.1.1.1")
statuses = [client.post("/admin/login/", {"username": "dora", "password": "nope"}).status_code]
statuses.append(client.login(username="dora", password="dora-pw"))
statuses.append(client.get("/forbidden/").status_code)
print(json.dumps(statuses))
"""


def test_a_store_that_fails_never_reaches_the_request(tmp_path: Path) -> None:
    """Without the table: the login form, the login and the 403 behave as without dcm_otel; one warning."""
    statuses, stderr = run_script(make_project(tmp_path), "unmigrated.py", UNMIGRATED)
    assert statuses == [200, True, 403]
    assert stderr.count("could not store an audit event") == 1


def test_bad_option_values_name_the_option_the_value_and_what_is_allowed(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    for args, expected_error in (
        (("--since", "yesterday"), "--since 'yesterday' is not allowed: an ISO date or datetime"),
        (("--since", "7d", "--until", "soon"), "--until 'soon' is not allowed: an ISO date or datetime"),
        (("--since", "1d", "--format", "xml"), "--format 'xml' is not allowed: one of text, json, csv"),
        (("--since", "1h", "--until", "2h"), "must be before --until"),
    ):
        done = report(project, *args, check=False)
        assert done.returncode == 1, done.stderr
        assert expected_error in done.stderr


def test_retention_settings_are_validated() -> None:
    with pytest.raises(ConfigError) as error:
        load_config({"audit_max_events": 5, "audit_max_age_days": 0, "audit_events": "yes"}, environ={})
    message = str(error.value)
    for key, allowed in (
        ("audit_max_events", "an integer of at least 100"),
        ("audit_max_age_days", "an integer of at least 1"),
        ("audit_events", "true or false"),
    ):
        assert f"DCM_OTEL[{key!r}]" in message
        assert allowed in message
