"""The threshold generator: overrides reach the PromQL, labels and annotations; bad files are refused with the
key named; the CLI writes and checks the rule files; a `defaults` file renders the committed rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dcm_otel.alerts import (
    ALERTS,
    ALERTS_FILE,
    RECORDING_FILE,
    ThresholdsError,
    alert_rules,
    defaults,
    recording_rules,
)
from dcm_otel.alerts.__main__ import main as alerts_cli
from tests.alerts.tools import RULES_DIR, binary, run


def _rule(document: dict[str, Any], name: str) -> dict[str, Any]:
    rules = [r for g in document["groups"] for r in g["rules"] if r.get("alert") == name]
    assert len(rules) == 1, name
    rule: dict[str, Any] = rules[0]
    return rule


def test_overrides_reach_expression_for_labels_and_annotations() -> None:
    rule = _rule(
        alert_rules(
            {
                "alerts": {
                    "DcmJobFailureRatioHigh": {
                        "ratio": 0.1,
                        "window": "30m",
                        "min_jobs": 20,
                        "for": "10m",
                        "severity": "warning",
                        "team": "batch",
                    }
                }
            }
        ),
        "DcmJobFailureRatioHigh",
    )
    assert ") > 0.1\n" in rule["expr"]
    assert "[30m]" in rule["expr"]
    assert "[15m]" not in rule["expr"]
    assert rule["expr"].endswith(">= 20")
    assert rule["for"] == "10m"
    assert rule["labels"] == {"severity": "warning", "team": "batch"}
    assert "in the last 30m failed or timed out (threshold 10%)" in rule["annotations"]["description"]


def test_global_settings_reach_every_rule() -> None:
    settings = {
        "runbook_base_url": "https://wiki.example.org/ops/runbooks.md",
        "grafana_url": "https://grafana.example.org/",
        "queue_capacity": 250,
        "http_excluded_routes": "/health/|/ready/|/metrics|/internal/.*",
    }
    document = alert_rules(settings)
    for group in document["groups"]:
        for rule in group["rules"]:
            assert (
                rule["annotations"]["runbook_url"]
                == f"{settings['runbook_base_url']}#{rule['alert'].lower()}"
            )
            annotations = rule["annotations"]
            url = annotations["dashboard_url"]  # the trailing slash of grafana_url is not doubled
            assert url.startswith(f"https://grafana.example.org/d/{annotations['dashboard_uid']}/"), url
            assert url.endswith(f"?viewPanel={annotations['panel_id']}"), url
    assert _rule(document, "DcmJobQueueBacklogHigh")["expr"].endswith("> 250")
    assert (
        "> 250\nand dcm_host:queue_waiting_jobs:sum <= 250"
        in _rule(document, "DcmJobQueueBacklogGrowing")["expr"]
    )
    assert '/internal/.*"' in _rule(document, "DcmHttpServerErrorRatioHigh")["expr"]
    recording = yaml.safe_dump(recording_rules(settings))
    assert "/internal/.*" in recording


def test_durations_are_converted_for_predict_linear() -> None:
    rule = _rule(
        alert_rules({"alerts": {"DcmHostFilesystemFillingUp": {"horizon": "1d", "lookback": "12h"}}}),
        "DcmHostFilesystemFillingUp",
    )
    assert "[12h], 86400)" in rule["expr"]
    assert rule["annotations"]["summary"].endswith("fills up within 1d")


def test_disabled_alerts_are_left_out() -> None:
    document = alert_rules({"alerts": {"DcmHostCpuHigh": {"enabled": False}}})
    names = [r["alert"] for g in document["groups"] for r in g["rules"]]
    assert "DcmHostCpuHigh" not in names
    assert len(names) == len(ALERTS) - 1


def test_baseline_window_reaches_the_recording_rules() -> None:
    text = yaml.safe_dump(recording_rules({"anomaly_baseline_window": "7d"}))
    assert "mean_rate5m[7d]" in text
    assert "[1d]" not in text


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"alerts": {"DcmNoSuchAlert": {}}}, "unknown alert(s): DcmNoSuchAlert"),
        ({"alerts": {"DcmHostCpuHigh": {"treshold": 0.8}}}, "alerts.DcmHostCpuHigh: unknown key(s) treshold"),
        ({"alerts": {"DcmHostCpuHigh": {"ratio": 1.5}}}, "alerts.DcmHostCpuHigh.ratio=1.5 is invalid"),
        ({"alerts": {"DcmHostCpuHigh": {"ratio": "high"}}}, "alerts.DcmHostCpuHigh.ratio='high' is invalid"),
        ({"alerts": {"DcmJobFailureRatioHigh": {"window": "15 minutes"}}}, "window='15 minutes' is invalid"),
        ({"alerts": {"DcmHostCpuHigh": {"severity": "page"}}}, "severity='page' is invalid"),
        ({"alerts": {"DcmHostCpuHigh": {"team": "a b"}}}, "team='a b' is invalid"),
        ({"alerts": {"DcmHostCpuHigh": {"enabled": "no"}}}, "enabled='no' is invalid"),
        ({"queue_capacity": 10.5}, "queue_capacity=10.5 is invalid: expected a whole number"),
        ({"runbook_base_url": "docs/runbooks.md"}, "runbook_base_url='docs/runbooks.md' is invalid"),
        ({"http_excluded_routes": '/"x'}, "cannot contain a double quote"),
        ({"alerts": {"DcmTelemetryAbsent": {"heartbeat_selector": "up or vector(1)"}}}, "expected a series"),
        ({"thresholds": 1}, "unknown thresholds key(s): thresholds"),
        ({"alerts": ["DcmHostCpuHigh"]}, "alerts must be a mapping"),
    ],
)
def test_invalid_thresholds_are_refused_naming_the_key(thresholds: dict[str, Any], message: str) -> None:
    with pytest.raises(ThresholdsError) as raised:
        alert_rules(thresholds)
    assert message in str(raised.value)


def test_cli_defaults_file_renders_the_committed_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert alerts_cli(["defaults"]) == 0
    thresholds = tmp_path / "thresholds.yml"
    thresholds.write_text(capsys.readouterr().out)
    assert yaml.safe_load(thresholds.read_text()) == defaults()
    out = tmp_path / "rules"
    assert alerts_cli(["render", "--thresholds", str(thresholds), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([ALERTS_FILE, RECORDING_FILE])
    for name in (ALERTS_FILE, RECORDING_FILE):  # the generated files; the cost rules are written by hand
        assert (out / name).read_text() == (RULES_DIR / name).read_text(), name


def test_cli_render_then_check_detects_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    thresholds = tmp_path / "thresholds.yml"
    thresholds.write_text("alerts:\n  DcmJobQueueWaitTooLong: {max_age: 30m}\n")
    out = tmp_path / "rules"
    assert alerts_cli(["render", "--thresholds", str(thresholds), "--out", str(out)]) == 0
    assert "> 1800" in (out / "dcm-otel-alerts.yml").read_text()
    result = run([binary("promtool"), "check", "rules", *map(str, sorted(out.glob("*.yml")))])
    assert result.returncode == 0, result.stdout + result.stderr
    assert alerts_cli(["render", "--thresholds", str(thresholds), "--out", str(out), "--check"]) == 0
    thresholds.write_text("alerts:\n  DcmJobQueueWaitTooLong: {max_age: 20m}\n")
    capsys.readouterr()
    assert alerts_cli(["render", "--thresholds", str(thresholds), "--out", str(out), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    thresholds.write_text("alerts:\n  DcmJobQueueWaitTooLong: {max_age: soon}\n")
    assert alerts_cli(["render", "--thresholds", str(thresholds), "--out", str(out)]) == 2
    assert "alerts.DcmJobQueueWaitTooLong.max_age='soon' is invalid" in capsys.readouterr().err
