"""End to end with real processes on 127.0.0.1: the demo app (its job processor running jobs on a real Docker
Engine) -> real Prometheus evaluating the generated rules -> real Alertmanager with the committed routing and
templates -> a real SMTP server (aiosmtpd) and local HTTP stand-ins for Slack, PagerDuty and the webhook,
which assert the exact payloads those services take.

- Jobs that exit 3 fail until DcmJobFailureRatioHigh fires: one email and one request per receiver, each
  with the alert name, severity, runbook link and the link to its Grafana panel.
- The Engine stopped: DcmDockerHostDown fires, the jobs launched meanwhile fail and DcmJobFailureRatioHigh
  fires too, and the inhibition rule delivers only the host-down alert.

`dcm_host_up` is dcm_otel's own (the job processor probes the demo's Docker host every second here).
The rules are those of deploy/prometheus, rendered with short windows and `for:` by the generator; the
Alertmanager config is deploy/alertmanager/alertmanager.yml with the endpoints, secret files and group timings
pointed at this test.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import escape as html_escape
from pathlib import Path
from typing import Any

import pytest

from dcm_otel.alerts import ALERTS, alert_rules
from dcm_otel_devtools import IMAGE
from tests.alerts.receivers import Request
from tests.alerts.stack import Delivery, delivery_to_local_receivers, write_prometheus_config, write_rules
from tests.alerts.tools import ROOT, Daemon, binary, firing_alerts, get_json, prometheus_daemon
from tests.services import DockerEngine
from tests.services._common import free_port, wait_until

pytestmark = [
    pytest.mark.services,
    pytest.mark.timeout(900),
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

RUN_DEMO = ROOT / "examples" / "demo" / "run_demo.py"
DEMO_JOBS = Path(__file__).with_name("demo_jobs.py")
HOST = "demo-docker"  # the demo's ExecutorHost for a Docker Engine
FAILURE = "DcmJobFailureRatioHigh"
HOST_DOWN = "DcmDockerHostDown"
RUNBOOKS = "https://example.com/dcm-otel/docs/runbooks.md"
FIRE_TIMEOUT = 240.0
# Short windows so that the alerts fire in seconds; every other alert is left out (nothing else is sent).
E2E_THRESHOLDS: dict[str, Any] = {
    "alerts": {
        **{rule.name: {"enabled": False} for rule in ALERTS},
        # As in the defaults (1m against 5m), the host-down alert fires before the job failures it causes.
        FAILURE: {"ratio": 0.2, "window": "30s", "min_jobs": 1, "for": "10s"},
        HOST_DOWN: {"for": "2s"},
    }
}
# The annotations of each alert's Grafana panel, as the generator writes them (the URL is checked against the
# dashboards' JSON by test_dashboard_links.py); every message must carry the panel's URL.
PANELS = {
    rule["alert"]: rule["annotations"]
    for group in alert_rules(E2E_THRESHOLDS)["groups"]
    for rule in group["rules"]
}
RECEIVER_PATHS = {
    "slack-app": "/slack/app",
    "slack-platform": "/slack/platform",
    "pagerduty": "/pagerduty/v2/enqueue",
}


@dataclass
class Stack:
    engine: DockerEngine
    prometheus: Daemon
    demo_env: dict[str, str]
    alertmanager_port: int
    base: Path

    @contextmanager
    def failing_jobs(self) -> Iterator[None]:
        """A process creating a job that exits 3 every 2 s on the demo's host, stopped at the end."""
        creator = Daemon(
            "job creator",
            [sys.executable, str(DEMO_JOBS), "--every", "2", "--command", "sh -c 'exit 3'"],
            self.base / "jobs.log",
            port=0,
        )
        env = {
            **self.demo_env,
            "PYTHONPATH": str(ROOT / "examples" / "demo"),
            "DJANGO_SETTINGS_MODULE": "demo.settings",
        }
        env.pop("DCM_OTEL_MULTIPROCESS_DIR")
        creator.spawn(env=env)
        try:
            yield
        finally:
            creator.stop()

    def wait_quiet(self) -> None:
        """Until no alert fires (an earlier test's failures out of the window)."""
        assert wait_until(lambda: not firing_alerts(self.prometheus.url), FIRE_TIMEOUT, 0.5), sorted(
            firing_alerts(self.prometheus.url)
        )

    def wait_firing(self, *names: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}

        def firing() -> bool:
            found.update(firing_alerts(self.prometheus.url))
            return all(name in found for name in names)

        assert wait_until(firing, FIRE_TIMEOUT, 0.5), (
            f"{names} not firing in Prometheus; firing: {sorted(found)}\n{self.prometheus.log_tail()}"
        )
        return found


@pytest.fixture(scope="module")
def stack(docker_engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    binary("prometheus"), binary("alertmanager")  # checked now, before anything starts
    base = tmp_path_factory.mktemp("alerts-e2e")
    rules = write_rules(base / "rules", E2E_THRESHOLDS)
    demo_port, prometheus_port, alertmanager_port = (free_port() for _ in range(3))
    multiprocess = base / "metrics"
    multiprocess.mkdir(mode=0o700)
    demo_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "DCM_OTEL_", "DJANGO_"))},
        "DOCKER_HOST": docker_engine.base_url,
        "DEMO_VAR_DIR": str(base / "demo"),
        "DEMO_JOB_IMAGE": IMAGE,
        # The job processor's figures (job transitions, heartbeat, dcm.host.up) are served by the web
        # process's /metrics; the processor probes the Docker host every second.
        "DCM_OTEL_MULTIPROCESS_DIR": str(multiprocess),
        "DCM_OTEL_DOCKER_PROBE_INTERVAL": "1",
        "DCM_OTEL_DOCKER_PROBE_TIMEOUT": "5",
        "PYTHONUNBUFFERED": "1",
    }
    write_prometheus_config(base, rules, "dcm-demo", demo_port, alertmanager_port)

    started: list[tuple[Daemon, signal.Signals, float]] = []
    try:
        demo = Daemon(
            "demo",
            [
                sys.executable,
                str(RUN_DEMO),
                "--port",
                str(demo_port),
                "--exit-after",
                "1200",
                "--no-private-docker",
            ],
            base / "demo.log",
            demo_port,
        )
        started.append((demo, signal.SIGTERM, 90.0))
        demo.start(env=demo_env, timeout=180.0)
        prometheus = prometheus_daemon(base, prometheus_port, "--rules.alert.resend-delay=1s")
        started.append((prometheus, signal.SIGTERM, 30.0))
        prometheus.start()
        yield Stack(docker_engine, prometheus, demo_env, alertmanager_port, base)
    finally:
        for daemon, stop_signal, grace in reversed(started):
            daemon.stop(stop_signal, grace)


@pytest.fixture
def delivery(stack: Stack) -> Iterator[Delivery]:
    with delivery_to_local_receivers(stack.base / f"am-{secrets.token_hex(4)}", stack.alertmanager_port) as d:
        yield d


def _title(alertname: str) -> str:
    return f"[FIRING:1] {alertname} (critical) on {HOST}"


def assert_slack(request: Request, alertname: str, channel: str, team: str) -> None:
    """Slack incoming webhook, as Alertmanager posts it: JSON with channel and one attachment."""
    assert request.headers["content-type"] == "application/json"
    body = request.body
    assert body["channel"] == channel
    (attachment,) = body["attachments"]
    runbook = f"{RUNBOOKS}#{alertname.lower()}"
    assert attachment["title"] == _title(alertname)
    assert attachment["title_link"] == runbook
    assert attachment["color"] == "danger"
    assert attachment["fallback"] == _title(alertname)
    assert f"{alertname} [critical, team {team}] firing: " in attachment["text"]
    assert f"Runbook: {runbook}" in attachment["text"]
    panel = PANELS[alertname]["dashboard_url"]
    assert f"Dashboard: {panel}" in attachment["text"]
    assert [(a["type"], a["text"], a["url"]) for a in attachment["actions"]] == [
        ("button", "Runbook", runbook),
        ("button", "Dashboard", panel),
    ]


def assert_pagerduty(request: Request, alertname: str, routing_key: str, team: str) -> None:
    """PagerDuty Events API v2 trigger event."""
    body = request.body
    assert body["routing_key"] == routing_key
    assert body["event_action"] == "trigger"
    assert isinstance(body["dedup_key"], str)
    assert body["dedup_key"]
    payload = body["payload"]
    assert payload["summary"] == _title(alertname)
    assert payload["severity"] == "critical"
    assert payload["source"] == HOST
    assert payload["class"] == alertname
    assert payload["group"] == team
    runbook = f"{RUNBOOKS}#{alertname.lower()}"
    assert payload["custom_details"]["runbook_url"] == runbook
    panel = PANELS[alertname]["dashboard_url"]
    assert body["links"] == [{"href": runbook, "text": "Runbook"}, {"href": panel, "text": "Dashboard"}]
    assert f"Dashboard: {panel}" in payload["custom_details"]["description"]
    assert body["client"] == "dcm-otel Alertmanager"
    assert body["client_url"] == panel


def assert_webhook(request: Request, alertname: str, token: str, team: str) -> None:
    """Alertmanager's webhook JSON, version 4, with the bearer token from its file."""
    assert request.headers["authorization"] == f"Bearer {token}"
    body = request.body
    assert body["version"] == "4"
    assert body["status"] == "firing"
    assert body["receiver"] == "webhook"
    assert body["groupLabels"] == {
        "alertname": alertname,
        "dcm_host_name": HOST,
        "job": "dcm-demo",
    }
    assert isinstance(body["groupKey"], str)
    assert body["truncatedAlerts"] == 0
    (alert,) = body["alerts"]
    assert alert["status"] == "firing"
    assert {k: alert["labels"][k] for k in ("alertname", "severity", "team", "dcm_host_name")} == {
        "alertname": alertname,
        "severity": "critical",
        "team": team,
        "dcm_host_name": HOST,
    }
    assert alert["annotations"]["runbook_url"] == f"{RUNBOOKS}#{alertname.lower()}"
    panel = PANELS[alertname]
    for key in ("dashboard_url", "dashboard_uid", "panel_id", "__dashboardUid__", "__panelId__"):
        assert alert["annotations"][key] == panel[key], key
    assert alert["generatorURL"].startswith("http")
    assert alert["fingerprint"]


def assert_email(delivery: Delivery, alertname: str, team: str) -> None:
    (message,) = delivery.emails(alertname)
    assert message["Subject"] == _title(alertname)
    assert message["To"] == "oncall@example.com"
    assert message["From"] == "alertmanager@example.com"
    runbook = f"{RUNBOOKS}#{alertname.lower()}"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert f"{alertname} [critical, team {team}] firing: " in text.get_content()
    panel = PANELS[alertname]["dashboard_url"]
    assert f"Runbook: {runbook}" in text.get_content()
    assert f"Dashboard: {panel}" in text.get_content()
    assert f'<a href="{runbook}">Runbook</a>' in html.get_content()
    assert f'<a href="{html_escape(panel)}">Dashboard</a>' in html.get_content()
    # Alertmanager logged in with the password from its file (the sink refuses any other).
    assert delivery.smtp.envelopes == [("alertmanager@example.com", ["oncall@example.com"], "alertmanager")]


def _only(requests_: list[Request]) -> Request:
    assert len(requests_) == 1, "\n".join(json.dumps(r.body, indent=1) for r in requests_)
    return requests_[0]


def test_stack_scrapes_the_demo_and_the_job_processor(stack: Stack) -> None:
    """The e2e's metric path itself: the web /metrics carries the processor's heartbeat, job
    transitions and Docker host probe."""

    def health() -> dict[str, str]:
        targets = get_json(f"{stack.prometheus.url}/api/v1/targets")["data"]["activeTargets"]
        return {t["labels"]["job"]: t["health"] for t in targets}

    assert wait_until(lambda: health() == {"dcm-demo": "up"}, FIRE_TIMEOUT, 0.5), health()
    for query in (
        "dcm_processor_last_poll_time_seconds",
        'dcm_job_transitions_total{dcm_job_status="failed"}',
        f'dcm_host_up{{dcm_host_name="{HOST}"}} == 1',
    ):

        def present(query: str = query) -> bool:
            return bool(get_json(f"{stack.prometheus.url}/api/v1/query", query=query)["data"]["result"])

        assert wait_until(present, FIRE_TIMEOUT, 0.5), query


def test_failing_jobs_notify_email_slack_pagerduty_and_webhook_once(stack: Stack, delivery: Delivery) -> None:
    stack.wait_quiet()
    delivery.start_alertmanager()
    with stack.failing_jobs():
        alert = stack.wait_firing(FAILURE)[FAILURE]
        assert alert["labels"]["dcm_host_name"] == HOST
        assert float(alert["value"]) > 0.2
        delivery.wait_for(FAILURE, ["/slack/app", "/pagerduty/v2/enqueue", "/webhook"])

    assert_slack(_only(delivery.http.requests("/slack/app")), FAILURE, "#dcm-alerts", "jobs")
    assert_pagerduty(
        _only(delivery.http.requests("/pagerduty/v2/enqueue")),
        FAILURE,
        delivery.secrets["pagerduty-routing-key"],
        "jobs",
    )
    assert_webhook(
        _only(delivery.http.requests("/webhook")), FAILURE, delivery.secrets["webhook-token"], "jobs"
    )
    assert_email(delivery, FAILURE, "jobs")
    assert delivery.http.requests("/slack/platform") == []  # team jobs: the application channel only
    assert len(delivery.http.requests()) == 3
    assert len(delivery.smtp.messages) == 1


def test_host_down_is_delivered_alone_and_inhibits_the_job_failures_it_causes(
    stack: Stack, delivery: Delivery
) -> None:
    # Alertmanager runs before anything fails, as in production (it flushes an alert that is older than
    # group_wait at once, so starting it on two firing alerts would race them).
    stack.wait_quiet()
    delivery.start_alertmanager()
    with stack.engine.stopped(), stack.failing_jobs():
        # Jobs launched while the Engine is down fail: both alerts fire in Prometheus ...
        firing = stack.wait_firing(HOST_DOWN, FAILURE)
        assert (
            firing[HOST_DOWN]["labels"]["dcm_host_name"] == firing[FAILURE]["labels"]["dcm_host_name"] == HOST
        )
        delivery.wait_for(HOST_DOWN, ["/slack/platform", "/pagerduty/v2/enqueue", "/webhook"])
        # ... Alertmanager holds both, the job alert inhibited by the host-down alert ...
        alerts = get_json(f"http://127.0.0.1:{stack.alertmanager_port}/api/v2/alerts")
        states = {a["labels"]["alertname"]: a["status"] for a in alerts}
        assert states[HOST_DOWN]["state"] == "active"
        assert states[FAILURE]["state"] == "suppressed"
        assert states[FAILURE]["inhibitedBy"]

        # ... and only the host-down alert reached the receivers, once each (checked before the Engine is
        # back, which resolves it).
        assert_slack(
            _only(delivery.http.requests("/slack/platform")), HOST_DOWN, "#platform-alerts", "platform"
        )
        assert_pagerduty(
            _only(delivery.http.requests("/pagerduty/v2/enqueue")),
            HOST_DOWN,
            delivery.secrets["pagerduty-routing-key"],
            "platform",
        )
        assert_webhook(
            _only(delivery.http.requests("/webhook")),
            HOST_DOWN,
            delivery.secrets["webhook-token"],
            "platform",
        )
        assert_email(delivery, HOST_DOWN, "platform")
        delivered = set().union(*(delivery.alertnames(r) for r in delivery.http.requests()))
        assert delivered == {HOST_DOWN}
        assert delivery.http.requests("/slack/app") == []
        assert len(delivery.smtp.messages) == 1
