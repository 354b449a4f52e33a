"""A slow request's profile in a real headless Chromium against a real Django server (``runserver``, a
thread per request): the browser's own request to the slow view is profiled, the trace explorer's trace page
links its profile, and the profile page draws the call tree down to the view, with no console error."""

from __future__ import annotations

import os
from pathlib import Path

from tests.dashboards.cdp import Page, chromium
from tests.dashboards.test_live_dashboard import login
from tests.profiling import project
from tests.project_factory import runserver
from tests.services._common import wait_until
from tests.trace_explorer.scripts import run_script

SCREENSHOTS = os.environ.get("DCM_OTEL_SCREENSHOTS")
SEED = """
import django

django.setup()
from django.contrib.auth.models import User
from django.core.management import call_command

call_command("migrate", verbosity=0)
User.objects.create_superuser("staff", "staff@example.com", "staff-pw")
print("{}")
"""
TRACE_LINK = 'tbody a[href^="/admin/dcm-otel/traces/"]'
ROWS = """
Array.from(document.querySelectorAll('.dcm-call[data-function]')).map(e => ({
  function: e.dataset.function, depth: Number(e.dataset.depth),
  width: e.querySelector('.dcm-call-bar').getBoundingClientRect().width,
}))
"""


def listed(page: Page, url: str) -> bool:
    """Whether the list shows a trace yet (the explorer writes off the request's thread): reloads it."""
    page.goto(url)
    return bool(page.evaluate(f"document.querySelector({TRACE_LINK!r}) !== null"))


def test_a_slow_requests_profile_in_the_browser(tmp_path: Path) -> None:
    directory = project.write(tmp_path / "project", tmp_path / "profiles")
    run_script(directory, "seed.py", SEED)
    with runserver(directory) as base_url, chromium() as page:
        login(page, base_url, "staff", "staff-pw", "/slow/")
        page.wait_for("document.body.textContent === 'slow'")
        assert wait_until(lambda: listed(page, f"{base_url}/admin/dcm-otel/traces/?route=slow"), 30, 0.5)
        page.evaluate(f"document.querySelector({TRACE_LINK!r}).click()")
        page.wait_for("document.querySelector('.dcm-span .dcm-profile-link') !== null")
        page.evaluate("document.querySelector('.dcm-span .dcm-profile-link').click()")
        page.wait_for("document.getElementById('dcm-profile') !== null && document.readyState === 'complete'")
        rows = page.evaluate(ROWS)
        functions = [row["function"] for row in rows]
        assert functions[0] == "TelemetryMiddleware.__call__", functions
        view = rows[functions.index("slow_view")]
        assert view["depth"] > 0
        assert 0 < view["width"] <= rows[0]["width"]  # its bar within the request's
        assert page.errors == []
        if SCREENSHOTS:
            page.screenshot(Path(SCREENSHOTS) / "profile.png")
