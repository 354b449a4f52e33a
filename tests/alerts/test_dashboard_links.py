"""Every alert links to the Grafana panel that shows its signal: the dashboard uid and panel id of its
annotations exist in deploy/grafana/dashboards, and that panel's PromQL reads the metrics the alert reads
(recording rules expanded to what they read; a histogram's _bucket, _count and _sum are one metric)."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest

from dcm_otel.alerts import ALERTS, alert_rules, recording_rules
from tests.alerts.tools import DEPLOY, series_names

DASHBOARDS = DEPLOY / "grafana" / "dashboards"


@cache
def dashboards() -> dict[str, dict[str, Any]]:
    boards = (json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json")))
    return {board["uid"]: board for board in boards}


@cache
def recorded() -> dict[str, str]:
    return {rule["record"]: rule["expr"] for g in recording_rules()["groups"] for rule in g["rules"]}


def metrics(expr: str, expanded: frozenset[str] = frozenset()) -> set[str]:
    """The metrics an expression reads once recording rules are expanded, by metric family (a recorded series
    met again, as the anomaly baselines read each other's past values, is expanded once)."""
    found = set()
    for name in series_names(expr):
        if name in expanded:
            continue
        if name in recorded():
            found |= metrics(recorded()[name], expanded | {name})
        else:
            found.add(re.sub(r"_(?:bucket|count|sum)$", "", name))
    return found


def grafana_slug(title: str) -> str:
    """Grafana's slug of a dashboard title: lower case, & spelled "and", other runs of symbols one dash."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower().replace("&", " and ")).strip("-")


def _alerts() -> list[dict[str, Any]]:
    return [rule for group in alert_rules()["groups"] for rule in group["rules"]]


@pytest.mark.parametrize("rule", _alerts(), ids=lambda rule: rule["alert"])
def test_alert_links_to_a_panel_that_reads_its_metrics(rule: dict[str, Any]) -> None:
    annotations = rule["annotations"]
    uid, panel_id = annotations["dashboard_uid"], annotations["panel_id"]
    assert (annotations["__dashboardUid__"], annotations["__panelId__"]) == (uid, panel_id)
    assert uid in dashboards(), f"{rule['alert']}: no dashboard {uid}"
    board = dashboards()[uid]
    panels = {str(panel["id"]): panel for panel in board["panels"]}
    assert panel_id in panels, f"{rule['alert']}: {uid} has no panel {panel_id}"
    panel = panels[panel_id]
    assert annotations["dashboard_url"] == (
        f"https://example.com/grafana/d/{uid}/{grafana_slug(board['title'])}?viewPanel={panel_id}"
    )
    alert_reads = metrics(rule["expr"])
    panel_reads = set().union(*(metrics(target["expr"]) for target in panel["targets"]))
    assert alert_reads, rule["expr"]
    assert alert_reads <= panel_reads, (
        f"{rule['alert']} links to {board['title']} / {panel['title']}, which does not read "
        f"{sorted(alert_reads - panel_reads)}"
    )


def test_every_alert_is_linked_and_the_metric_check_can_fail() -> None:
    assert {rule["alert"] for rule in _alerts()} == {rule.name for rule in ALERTS}
    # The expansion reaches raw metrics through recording rules, so a wrong panel is caught.
    assert metrics("dcm_host:job_failures:ratio_rate5m") == {"dcm_job_transitions_total"}
    assert not metrics("dcm_host:docker_host_up:max") <= metrics("dcm_host:queue_waiting_jobs:sum")


def test_every_dashboard_marks_firing_alerts() -> None:
    for board in dashboards().values():
        queries = [a.get("expr", "") for a in board["annotations"]["list"] if a.get("enable")]
        assert 'ALERTS{alertstate="firing"}' in queries, board["title"]
