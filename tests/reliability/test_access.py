"""(Issue 12.7) ``/metrics`` behind the configured access control, tested both ways on a real gunicorn:
a bearer token (``metrics_token``) or an allowed network (``metrics_ips``) lets a scrape in, anything else
gets a 403 that shows no metric. The readiness details' token, network and staff rules are tested both
ways in tests/health/test_health_endpoints.py."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.project_factory import write_project
from tests.reliability._support import report
from tests.test_gunicorn import ONE_LINE, gunicorn

TOKEN = "scrape-token-0123456789abcdef"
METRIC = b"http_server_request_duration_seconds"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
WRONG = {"Authorization": "Bearer not-the-scrape-token-at-all"}
BASIC = {"Authorization": f"Basic {TOKEN}"}

# (environment, {case: (request headers, expected status)})
CASES: dict[str, tuple[dict[str, str], dict[str, tuple[dict[str, str], int]]]] = {
    "open by default": ({}, {"anonymous": ({}, 200)}),
    "token": (
        {"DCM_OTEL_METRICS_TOKEN": TOKEN},
        {
            "anonymous": ({}, 403),
            "wrong token": (WRONG, 403),
            "not bearer": (BASIC, 403),
            "token": (BEARER, 200),
        },
    ),
    "allowed network": ({"DCM_OTEL_METRICS_IPS": "10.0.0.0/8,127.0.0.0/8"}, {"anonymous": ({}, 200)}),
    "other network": (
        {"DCM_OTEL_METRICS_IPS": "10.0.0.0/8"},
        {"anonymous": ({}, 403), "wrong token": (WRONG, 403)},
    ),
    "token or network": (
        {"DCM_OTEL_METRICS_TOKEN": TOKEN, "DCM_OTEL_METRICS_IPS": "10.0.0.0/8"},
        {"anonymous": ({}, 403), "token": (BEARER, 200)},
    ),
}


def fetch(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Connection": "close", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize("setup", list(CASES))
def test_metrics_only_for_allowed_scrapers(tmp_path: Path, setup: str) -> None:
    env, cases = CASES[setup]
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    with gunicorn(project, "-w", "1", **env) as (_, base):
        fetch(base + "/", {})  # one request, so that the exposition has the request metric
        answers = {case: fetch(base + "/metrics", headers) for case, (headers, _) in cases.items()}
    report(f"/metrics access, {setup}", **{case: status for case, (status, _) in answers.items()})
    assert {case: status for case, (status, _) in answers.items()} == {c: s for c, (_, s) in cases.items()}
    for status, body in answers.values():
        assert (METRIC in body) is (status == 200), body[:200]
