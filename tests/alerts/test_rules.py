"""The committed Prometheus rules: up to date with the generator, valid for promtool, every alert unit-tested
firing and quiet (deploy/prometheus/tests), documented with a runbook, and built on the metric names that
docs/metrics.md documents."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dcm_otel.alerts import ALERTS, ALERTS_FILE, CATALOG, RECORDING_FILE, alert_rules, recording_rules
from dcm_otel.alerts.__main__ import main as alerts_cli
from dcm_otel.alerts.anomaly import ANOMALY_ALERTS
from dcm_otel.alerts.catalog import SEVERITIES
from tests.alerts.tools import ROOT, RULE_TESTS_DIR, RULES_DIR, binary, run, series_names

RULE_FILES = [RULES_DIR / ALERTS_FILE, RULES_DIR / RECORDING_FILE]  # generated
COST_FILE = RULES_DIR / "dcm-otel-cost.yml"  # written by hand: users set its prices
RULE_TESTS = sorted(RULE_TESTS_DIR.glob("*.yml"))
DOCS = ROOT / "docs"
# Metric names rules may read before docs/metrics.md documents them: Prometheus name -> OpenTelemetry name.
# Once docs/metrics.md documents a metric of the same namespace, the name must be documented exactly (so a
# rename there fails this test instead of silencing an alert). Empty while every name is documented.
PENDING: dict[str, str] = {}
UNIT_SUFFIX = {"s": "_seconds", "By": "_bytes"}


def test_committed_rules_are_the_generator_defaults() -> None:
    assert alerts_cli(["render", "--out", str(RULES_DIR), "--check"]) == 0, (
        "deploy/prometheus/rules is stale: python -m dcm_otel.alerts render --out deploy/prometheus/rules"
    )


def test_promtool_check_rules() -> None:
    result = run([binary("promtool"), "check", "rules", *map(str, RULE_FILES), str(COST_FILE)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout
    assert f"SUCCESS: {len(_cost_rules())} rules found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    assert RULE_TESTS, "no promtool unit tests in deploy/prometheus/tests"
    result = run([binary("promtool"), "test", "rules", *map(str, RULE_TESTS)], timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS), result.stdout


def test_example_prometheus_config_loads_the_rules() -> None:
    example = RULES_DIR.parent / "prometheus.example.yml"
    result = run([binary("promtool"), "check", "config", str(example)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 3 rule files found" in result.stdout
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


def _alert_cases(paths: list[Path] = RULE_TESTS) -> tuple[dict[str, int], dict[str, int]]:
    fires: dict[str, int] = {}
    quiet: dict[str, int] = {}
    for path in paths:
        document = yaml.safe_load(path.read_text())
        if document["rule_files"] == [f"../rules/{COST_FILE.name}"]:
            continue  # the cost rules' tests: recorded figures, no alert
        assert sorted(document["rule_files"]) == sorted(f"../rules/{p.name}" for p in RULE_FILES), path
        for test in document["tests"]:
            for case in test.get("alert_rule_test", []):
                into = fires if case.get("exp_alerts") else quiet
                into[case["alertname"]] = into.get(case["alertname"], 0) + 1
    return fires, quiet


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    fires, quiet = _alert_cases()
    names = {rule.name for rule in ALERTS}
    assert set(fires) == names, f"no firing case: {sorted(names - set(fires))}; unknown: {set(fires) - names}"
    assert set(quiet) == names, f"no quiet case: {sorted(names - set(quiet))}; unknown: {set(quiet) - names}"


def test_anomaly_and_trend_alerts_are_tested_on_days_of_seasonal_series() -> None:
    """Beyond a case on each side of a threshold: every anomaly alert fires and stays quiet, and every trend
    alert stays quiet, in the unit tests made of days of daily rhythm with quiet nights."""
    fires, quiet = _alert_cases([RULE_TESTS_DIR / "anomaly.yml", RULE_TESTS_DIR / "predictive.yml"])
    anomaly = {rule.name for rule in ANOMALY_ALERTS}
    trends = {rule.name for rule in ALERTS if "predict_linear(" in rule.expr}
    assert {"DcmJobQueueBacklogGrowing", "DcmHostFilesystemFillingUp", "DcmHostMemoryFillingUp"} <= trends
    assert anomaly <= set(fires), f"no firing case: {sorted(anomaly - set(fires))}"
    assert anomaly | trends <= set(quiet), f"no quiet case: {sorted((anomaly | trends) - set(quiet))}"


def test_alerts_follow_the_mixin_conventions() -> None:
    document = alert_rules()
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert len(rules) == len(ALERTS)
    for rule in rules:
        assert re.fullmatch(r"Dcm(?:[A-Z][a-z0-9]+)+", rule["alert"]), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES
        assert rule["labels"]["team"]
        annotations = rule["annotations"]
        assert set(annotations) == {
            "summary",
            "description",
            "runbook_url",
            "dashboard_url",
            "dashboard_uid",
            "panel_id",
            "__dashboardUid__",
            "__panelId__",
        }
        assert annotations["runbook_url"].endswith(f"runbooks.md#{rule['alert'].lower()}")
        assert "[[" not in yaml.safe_dump(rule), f"unfilled placeholder in {rule['alert']}"
    assert {r["labels"]["severity"] for r in rules} == set(SEVERITIES)


def test_every_alert_has_a_runbook_section_and_is_documented() -> None:
    runbooks = (DOCS / "runbooks.md").read_text()
    headings = {m.group(1) for m in re.finditer(r"^## (Dcm\w+)\s*$", runbooks, re.MULTILINE)}
    assert headings == {rule.name for rule in ALERTS}
    alerting = (DOCS / "alerting.md").read_text()
    for rule in ALERTS:
        assert f"`{rule.name}`" in alerting, rule.name
        for param in rule.params:
            assert f"`{param.name}`" in alerting, f"{rule.name}.{param.name} is not in docs/alerting.md"
    for param in CATALOG.globals:
        assert f"`{param.name}`" in alerting, param.name


def _documented_metrics() -> dict[str, str]:
    """Prometheus names of the docs/metrics.md table (dots -> underscores, unit suffix, _total, histogram
    series) -> OpenTelemetry name."""
    names: dict[str, str] = {}
    for line in (DOCS / "metrics.md").read_text().splitlines():
        match = re.match(r"\| `([a-z0-9_.]+)` \| (\w+) \| `([^`]*)` \|", line)
        if not match:
            continue
        otel, kind, unit = match.groups()
        base = otel.replace(".", "_") + UNIT_SUFFIX.get(unit, "")
        series = {
            "counter": [f"{base}_total"],
            "updowncounter": [base],
            "histogram": [f"{base}_bucket", f"{base}_count", f"{base}_sum"],
        }.get(kind, [base])
        names.update(dict.fromkeys(series, otel))
    assert names, "docs/metrics.md has no metric table"
    return names


def _metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads, recorded series left out."""
    return {w for w in series_names(expr) if ":" not in w}


def _cost_rules() -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(COST_FILE.read_text())["groups"] for r in g["rules"]]


def _rules() -> list[dict[str, Any]]:
    generated = [r for doc in (alert_rules(), recording_rules()) for g in doc["groups"] for r in g["rules"]]
    return generated + _cost_rules()


def test_rules_read_only_documented_metric_names() -> None:
    documented = _documented_metrics()
    used = set().union(*(_metric_names(rule["expr"]) for rule in _rules()))
    assert "dcm_job_transitions_total" in used
    assert {"container_cpu_usage", "dcm_job_duration_seconds_count"} <= used
    assert "http_server_request_duration_seconds_bucket" in used
    unknown = used - set(documented) - set(PENDING)
    assert not unknown, f"rules read metrics that docs/metrics.md does not document: {sorted(unknown)}"
    namespaces = {otel.rsplit(".", 1)[0] for otel in documented.values()}
    for prom, otel in PENDING.items():
        if otel.rsplit(".", 1)[0] in namespaces or otel in documented.values():
            assert prom in documented, f"docs/metrics.md documents {otel.rsplit('.', 1)[0]}.* but not {prom}"


def test_recorded_series_read_by_alerts_are_recorded() -> None:
    recorded = {rule["record"] for group in recording_rules()["groups"] for rule in group["rules"]}
    recorded |= {rule["record"] for rule in _cost_rules()}
    for rule in _rules():
        for name in re.findall(r"\b[a-z_]+:[a-z0-9_]+:[a-z0-9_]+\b", rule["expr"]):
            assert name in recorded, f"{rule.get('alert') or rule.get('record')} reads unrecorded {name}"


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: Path(p).name)
def test_rule_files_say_they_are_generated(path: Path) -> None:
    assert path.read_text().startswith("# Generated by `python -m dcm_otel.alerts render`")
