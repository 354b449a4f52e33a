"""The admin's live dashboard in a real headless Chromium against a real Django server: staff only, no console
errors, the numbers the database holds, and a number that changes without a reload when a job finishes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.dashboards import live_project
from tests.dashboards.cdp import Page, chromium
from tests.project_factory import project_env, runserver, write_project

DASHBOARD = "/admin/dcm-otel/"
# Set to a directory (docs/images) to keep screenshots of the pages for the docs.
SCREENSHOTS = os.environ.get("DCM_OTEL_SCREENSHOTS")


@dataclass
class Server:
    project: Path
    url: str
    plain_session: str = ""

    def db(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(f"file:{self.project / 'db.sqlite3'}?mode=ro", uri=True, timeout=20) as conn:
            return conn.execute(sql).fetchall()

    def run(self, name: str, script: str) -> str:
        (self.project / name).write_text(script)
        env = project_env(self.project)
        return subprocess.run(
            [sys.executable, name], cwd=self.project, env=env, check=True, capture_output=True, text=True
        ).stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    project = write_project(tmp_path_factory.mktemp("live"), settings_tail=live_project.SETTINGS_TAIL)
    (project / "urls.py").write_text(live_project.URLS)
    plain_session = Server(project, "").run("seed.py", live_project.SEED).strip()
    with runserver(project) as url:
        yield Server(project, url, plain_session)


def login(page: Page, base_url: str, user: str, password: str, next_path: str) -> None:
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.evaluate(
        f"document.getElementById('id_username').value = '{user}';"
        f"document.getElementById('id_password').value = '{password}';"
        "document.querySelector('#login-form').submit()"
    )
    page.wait_for("location.pathname !== '/admin/login/' && document.readyState === 'complete'")
    page.errors.clear()  # the admin's own pages ask for /favicon.ico; only the dashboard's errors count
    page.goto(f"{base_url}{next_path}")


def shown(page: Page, field: str) -> str:
    return str(page.evaluate(f"document.querySelector('[data-field={field}]').textContent"))


def status_counts(page: Page) -> dict[str, int]:
    rows = page.evaluate(
        "Array.from(document.querySelectorAll('#dcm-counts tr')).map(r => [r.children[0].textContent, "
        "r.children[1].textContent])"
    )
    return {status: int(n) for status, n in rows}


def test_anonymous_and_non_staff_users_get_no_data(server: Server) -> None:
    anonymous = requests.get(f"{server.url}{DASHBOARD}data/", allow_redirects=False, timeout=30)
    assert anonymous.status_code == 302
    assert "/admin/login/" in anonymous.headers["Location"]
    cookies = {"sessionid": server.plain_session}  # logged in, yet not staff
    for path in ("", "data/", "history/"):
        page = requests.get(
            f"{server.url}{DASHBOARD}{path}", cookies=cookies, allow_redirects=False, timeout=30
        )
        assert page.status_code == 302, path
        assert "/admin/login/" in page.headers["Location"], path


def test_live_page_shows_the_database_and_updates_without_reload(server: Server) -> None:
    with chromium() as page:
        login(page, server.url, "staff", "staff-pw", f"{DASHBOARD}?poll=1")
        page.wait_for("document.getElementById('dcm-updated').textContent !== 'never'")
        page.evaluate("window.dcmNoReload = 'same document'")

        db_counts = dict(
            server.db("SELECT status, COUNT(*) FROM container_manager_containerjob GROUP BY status")
        )
        counts = status_counts(page)
        assert {s: n for s, n in counts.items() if n} == db_counts
        assert shown(page, "queue_depth") == str(sum(db_counts.get(s, 0) for s in ("pending", "queued")))
        assert shown(page, "running") == str(db_counts["running"])
        failures = server.db(
            "SELECT id, name FROM container_manager_containerjob WHERE status IN ('failed', 'timeout')"
        )
        links = dict(
            page.evaluate(
                "Array.from(document.querySelectorAll('#dcm-failures td:first-child a'))"
                ".map(a => [a.textContent, a.pathname])"
            )
        )
        assert {
            name: f"/admin/container_manager/containerjob/{uuid.UUID(str(pk))}/change/"
            for pk, name in failures
        } == links
        traces = page.evaluate(
            "Array.from(document.querySelectorAll('#dcm-failures td:last-child a')).map(a => a.pathname)"
        )
        assert sorted(traces) == sorted(
            f"/admin/dcm-otel/traces/job/{uuid.UUID(str(pk))}/" for pk, _ in failures
        )
        hosts = page.evaluate(
            "Array.from(document.querySelectorAll('#dcm-hosts tr')).map(r => [r.children[0].textContent, "
            "r.children[5].textContent, r.children[6].textContent])"
        )
        per_host = server.db(
            "SELECT h.name, SUM(j.status IN ('completed', 'failed', 'timeout', 'cancelled')), "
            "SUM(j.status IN ('failed', 'timeout')) FROM container_manager_executorhost h "
            "JOIN container_manager_containerjob j ON j.docker_host_id = h.id GROUP BY h.name ORDER BY h.name"
        )
        assert hosts == [[name, str(done), str(failed)] for name, done, failed in per_host]
        assert page.evaluate(
            "document.querySelector('#dcm-hosts tr:nth-child(2) td:nth-child(3)').textContent"
        ) == ("inactive")
        if SCREENSHOTS:
            page.screenshot(Path(SCREENSHOTS) / "admin-live-dashboard.png")

        server.run("finish.py", live_project.FINISH)
        completed = counts["completed"]
        page.wait_for(
            "document.querySelector('#dcm-counts tr[data-status=completed] td:nth-child(2)').textContent"
            f" === '{completed + 1}'"
        )
        assert shown(page, "running") == str(db_counts["running"] - 1)
        assert page.evaluate("window.dcmNoReload") == "same document"
        assert page.errors == []


def test_history_page_shows_the_report(server: Server) -> None:
    with chromium() as page:
        login(page, server.url, "staff", "staff-pw", f"{DASHBOARD}history/?days=2")
        (total,) = server.db("SELECT COUNT(*) FROM container_manager_containerjob")[0]
        (failed,) = server.db(
            "SELECT COUNT(*) FROM container_manager_containerjob WHERE status IN ('failed', 'timeout')"
        )[0]
        assert page.evaluate("document.getElementById('dcm-h-jobs').textContent") == str(total)
        assert page.evaluate("document.getElementById('dcm-h-failed').textContent") == str(failed)
        if SCREENSHOTS:
            page.screenshot(Path(SCREENSHOTS) / "admin-history.png")
        assert page.errors == []
