"""The alerting half of the end-to-end stacks (test_e2e.py, test_time_to_detect.py): rule files rendered by
the generator, a private Prometheus scraping one target with short intervals, and a real Alertmanager with the
committed config pointed at local receivers (an SMTP server and one HTTP server for Slack, PagerDuty and the
webhook)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dcm_otel.alerts import ALERTS, alert_rules, recording_rules
from dcm_otel.alerts.yamlio import dump
from tests.alerts.receivers import HttpRecorder, Request, SmtpSink
from tests.alerts.tools import ALERTMANAGER_CONFIG, TEMPLATES_DIR, Daemon, binary, run
from tests.services._common import free_port, wait_until

SECRETS_DIR = "/etc/alertmanager/secrets/"
DELIVERY_TIMEOUT = 90.0
SETTLE = 8.0  # after the expected notifications, how long no other may arrive (several group_intervals)
# The e2e's Alertmanager timings: short, so that a notification follows its alert within seconds.
FAST_GROUP_TIMINGS = {"group_wait": "3s", "group_interval": "2s", "repeat_interval": "1h"}


def write_rules(directory: Path, thresholds: Mapping[str, Any]) -> Path:
    """The generator's alerting and recording rules for ``thresholds`` in ``directory``, promtool-checked."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "alerts.yml").write_text(dump(alert_rules(thresholds)))
    (directory / "recording.yml").write_text(dump(recording_rules(thresholds)))
    checked = run([binary("promtool"), "check", "rules", *map(str, sorted(directory.glob("*.yml")))])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    return directory


def write_prometheus_config(
    base: Path, rules: Path, job: str, target_port: int, alertmanager_port: int, interval: str = "1s"
) -> None:
    """``base``/prometheus.yml: scrape ``job`` on 127.0.0.1:``target_port`` and evaluate the rules every
    ``interval``, alerts to the Alertmanager on ``alertmanager_port``; promtool-checked."""
    config = {
        "global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval},
        "rule_files": [str(rules / "*.yml")],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
        },
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]},
        ],
    }
    (base / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = run([binary("promtool"), "check", "config", str(base / "prometheus.yml")])
    assert checked.returncode == 0, checked.stdout + checked.stderr


def local_alertmanager_config(
    http_url: str,
    smtp_port: int,
    secret_files: dict[str, Path],
    group_timings: Mapping[str, str] = FAST_GROUP_TIMINGS,
) -> dict[str, Any]:
    """deploy/alertmanager/alertmanager.yml pointed at this test: local endpoints, secret files in a temp dir,
    templates from the repo, the given group timings. Routes, inhibition rules and message templates are as
    committed."""
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())

    def relocate(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: relocate(v) for k, v in node.items()}
        if isinstance(node, list):
            return [relocate(v) for v in node]
        if isinstance(node, str) and node.startswith(SECRETS_DIR):
            return str(secret_files[node.removeprefix(SECRETS_DIR)])
        return node

    config = relocate(config)
    config["global"].update(smtp_smarthost=f"127.0.0.1:{smtp_port}", smtp_require_tls=False)
    config["templates"] = [str(TEMPLATES_DIR / "*.tmpl")]
    config["route"].update(group_timings)
    receivers = {r["name"]: r for r in config["receivers"]}
    receivers["pagerduty"]["pagerduty_configs"][0]["url"] = f"{http_url}/pagerduty/v2/enqueue"
    receivers["webhook"]["webhook_configs"][0]["url"] = f"{http_url}/webhook"
    return config


@dataclass
class Delivery:
    """The receivers, and an Alertmanager (fresh state) started on demand with the committed config."""

    http: HttpRecorder
    smtp: SmtpSink
    secrets: dict[str, str]
    config_path: Path
    daemon: Daemon

    def start_alertmanager(self) -> None:
        self.daemon.start()

    def alertnames(self, request: Request) -> set[str]:
        body = request.body
        if "alerts" in body:  # webhook
            return {a["labels"]["alertname"] for a in body["alerts"]}
        text = yaml.safe_dump(body)
        return {rule.name for rule in ALERTS if rule.name in text}

    def emails(self, alertname: str) -> list[Any]:
        return [m for m in self.smtp.messages if alertname in str(m["Subject"])]

    def wait_for(self, alertname: str, paths: list[str]) -> None:
        def arrived() -> bool:
            got = [any(alertname in self.alertnames(r) for r in self.http.requests(p)) for p in paths]
            return all(got) and bool(self.emails(alertname))

        assert wait_until(arrived, DELIVERY_TIMEOUT, 0.5), (
            f"{alertname} not delivered to all of {paths} + email: "
            f"{[(r.path, sorted(self.alertnames(r))) for r in self.http.requests()]}, "
            f"emails {[m['Subject'] for m in self.smtp.messages]}\n{self.daemon.log_tail()}"
        )
        time.sleep(SETTLE)  # anything else (a duplicate, an inhibited alert) would arrive by now


@contextmanager
def delivery_to_local_receivers(
    directory: Path, alertmanager_port: int, group_timings: Mapping[str, str] = FAST_GROUP_TIMINGS
) -> Iterator[Delivery]:
    """Receivers, secrets and a checked Alertmanager config in ``directory``; Alertmanager not yet started
    (``Delivery.start_alertmanager``), stopped at the end."""
    (directory / "secrets").mkdir(parents=True)
    with HttpRecorder() as http:
        values = {
            "smtp-password": secrets.token_urlsafe(16),
            "slack-app-webhook-url": f"{http.url}/slack/app",
            "slack-platform-webhook-url": f"{http.url}/slack/platform",
            "pagerduty-routing-key": secrets.token_hex(16),
            "webhook-token": secrets.token_urlsafe(24),
        }
        files = {}
        for name, value in values.items():
            files[name] = directory / "secrets" / name
            files[name].write_text(value)
        smtp = SmtpSink("alertmanager", values["smtp-password"], free_port())
        smtp.start()
        config_path = directory / "alertmanager.yml"
        config = local_alertmanager_config(http.url, smtp.port_number, files, group_timings)
        config_path.write_text(yaml.safe_dump(config))
        checked = run([binary("amtool"), "check-config", str(config_path)])
        assert checked.returncode == 0, checked.stdout + checked.stderr
        daemon = Daemon(
            "alertmanager",
            [
                binary("alertmanager"),
                f"--config.file={config_path}",
                f"--storage.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{alertmanager_port}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            directory / "alertmanager.log",
            alertmanager_port,
            ready_path="/-/ready",
        )
        try:
            yield Delivery(http, smtp, values, config_path, daemon)
        finally:
            daemon.stop()
            smtp.stop()
