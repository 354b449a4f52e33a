"""The committed Alertmanager config: valid for amtool, every receiver reached by the labels that should reach
it (and only those), inhibition rules naming real alerts, and no credential written in the file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcm_otel.alerts import ALERTS
from tests.alerts.tools import ALERTMANAGER_CONFIG, binary, run

PANEL_URL = "https://grafana.example/d/dcm-otel-hosts-containers/dcm-otel-hosts-and-containers?viewPanel=5"
RECEIVERS = {"email", "slack-app", "slack-platform", "pagerduty", "webhook"}


def _config() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    return document


def test_amtool_check_config() -> None:
    result = run([binary("amtool"), "check-config", str(ALERTMANAGER_CONFIG)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert " - 5 receivers" in result.stdout
    assert " - 1 templates" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        # critical: paged, the owning team's Slack channel, email and the webhook
        ("alertname=DcmJobFailureRatioHigh severity=critical team=jobs", "webhook,pagerduty,slack-app,email"),
        (
            "alertname=DcmDockerHostDown severity=critical team=platform",
            "webhook,pagerduty,slack-platform,email",
        ),
        (
            "alertname=DcmHttpServerErrorRatioHigh severity=critical team=app",
            "webhook,pagerduty,slack-app,email",
        ),
        # warning: no page
        ("alertname=DcmJobQueueBacklogHigh severity=warning team=jobs", "webhook,slack-app,email"),
        ("alertname=DcmHostCpuHigh severity=warning team=platform", "webhook,slack-platform,email"),
        # info: the webhook only
        ("alertname=DcmJobDurationAnomalous severity=info team=jobs", "webhook"),
        # a team of the user's own (thresholds `team:`) goes to the application channel
        ("alertname=DcmHttpLatencyP95High severity=warning team=web", "webhook,slack-app,email"),
    ],
)
def test_routes(labels: str, receivers: str) -> None:
    result = run(
        [
            binary("amtool"),
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER_CONFIG}",
            f"--verify.receivers={receivers}",
            *labels.split(),
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receivers


def test_every_receiver_is_routed_to_and_the_tree_lists_them() -> None:
    result = run([binary("amtool"), "config", "routes", "show", f"--config.file={ALERTMANAGER_CONFIG}"])
    assert result.returncode == 0, result.stderr
    shown = set(re.findall(r"receiver: ([\w-]+)", result.stdout))
    assert shown == RECEIVERS
    assert {r["name"] for r in _config()["receivers"]} == RECEIVERS


def test_each_receiver_uses_its_integration() -> None:
    by_name = {r["name"]: r for r in _config()["receivers"]}
    assert set(by_name["email"]) == {"name", "email_configs"}
    assert set(by_name["slack-app"]) == set(by_name["slack-platform"]) == {"name", "slack_configs"}
    assert set(by_name["pagerduty"]) == {"name", "pagerduty_configs"}
    assert set(by_name["webhook"]) == {"name", "webhook_configs"}
    for receiver in by_name.values():
        for key, configs in receiver.items():
            if key != "name":
                assert all(c["send_resolved"] for c in configs), receiver["name"]


def test_no_credentials_in_the_file() -> None:
    text = ALERTMANAGER_CONFIG.read_text()
    for inline in (
        "api_url:",
        "routing_key:",
        "service_key:",
        "smtp_auth_password:",
        "credentials:",
        "password:",
    ):
        assert not re.search(rf"^\s*-?\s*{inline}", text, re.MULTILINE), inline
    files = re.findall(r"(?:_file|credentials_file): (\S+)", text)
    assert len(files) == 5
    assert all(f.startswith("/etc/alertmanager/secrets/") for f in files)


def test_inhibition_rules_name_real_alerts() -> None:
    names = {rule.name for rule in ALERTS}
    rules = _config()["inhibit_rules"]
    host_down = rules[0]
    assert host_down["source_matchers"] == ['alertname="DcmDockerHostDown"']
    assert host_down["equal"] == ["dcm_host_name"]
    for rule in rules:
        for matchers in (rule["source_matchers"], rule["target_matchers"]):
            assert matchers[0].startswith("alertname"), matchers  # each side names its alerts first
            for matcher in matchers:
                if match := re.fullmatch(r'alertname=~?"(.+)"', matcher):
                    assert {n for n in names if re.fullmatch(match.group(1), n)}, (
                        f"{matcher} matches no alert"
                    )
    silenced = {n for n in names if re.fullmatch(host_down["target_matchers"][0].split('"')[1], n)}
    assert silenced == {
        "DcmJobFailureRatioHigh",
        "DcmJobFailureRatioAnomalous",
        "DcmJobFailureRatioRising",
        "DcmJobDurationAnomalous",
        "DcmJobQueueBacklogHigh",
        "DcmJobQueueBacklogGrowing",
        "DcmJobQueueWaitTooLong",
        "DcmJobQueueWaitAnomalous",
        "DcmJobQueueWaitGrowing",
        "DcmJobQueueStalled",
        "DcmContainerMemoryNearLimit",
    }


def test_templates_link_runbook_and_dashboard_panel(tmp_path: Path) -> None:
    """The panel link of the rules' annotations reaches the text and HTML; an alert without runbook or panel
    (another rule file's) gets no empty link."""
    ours = {"runbook_url": "https://runbooks.example/r#dcmhostcpuhigh", "dashboard_url": PANEL_URL}
    alerts = [
        {"status": "firing", "labels": {"alertname": name}, "annotations": annotations,
         "generatorURL": "http://prometheus.example/graph"}
        for name, annotations in (("DcmHostCpuHigh", ours), ("OtherAlert", {}))
    ]  # fmt: skip
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"status": "firing", "alerts": alerts, "externalURL": "http://am.example"}))

    def render(template: str) -> str:
        result = run(
            [
                binary("amtool"),
                "template",
                "render",
                f"--template.glob={ALERTMANAGER_CONFIG.parent / 'templates' / '*.tmpl'}",
                f"--template.data={data}",
                '--template.text={{ template "' + template + '" . }}',
            ]
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    text = render("dcm.text")
    assert f"Runbook: {ours['runbook_url']}\nDashboard: {PANEL_URL}\nGraph: " in text
    assert text.count("Runbook: ") == text.count("Dashboard: ") == 1
    assert text.count("Graph: ") == 2
    html = render("dcm.email.html")
    assert f'<a href="{PANEL_URL}">Dashboard</a>' in html
    assert 'href=""' not in html
