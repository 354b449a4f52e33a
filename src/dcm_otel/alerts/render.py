"""Thresholds in, Prometheus rule files out: users set numbers, windows, severities and teams in a small YAML
file and never edit PromQL.

A thresholds file (every key optional; ``python -m dcm_otel.alerts defaults`` prints them all)::

    runbook_base_url: https://wiki.example.com/dcm-otel/runbooks.md
    queue_capacity: 250
    alerts:
      DcmJobFailureRatioHigh: {ratio: 0.1, window: 30m, for: 10m}
      DcmHostCpuHigh: {enabled: false}
      DcmHttpLatencyP95High: {seconds: 0.5, severity: critical, team: web}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dcm_otel.alerts.catalog import CATALOG, SEVERITIES, AlertRule, Catalog, Panel, Param

ALERTS_FILE = "dcm-otel-alerts.yml"
RECORDING_FILE = "dcm-otel-recording.yml"
RULE_KEYS = ("for", "severity", "team", "enabled")
_PLACEHOLDER = re.compile(r"\[\[(\w+)\]\]")
_DURATION = re.compile(r"^(?:\d+(?:ms|[smhdwy]))+$")
_DURATION_PART = re.compile(r"(\d+)(ms|[smhdwy])")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.-]+$")
_SELECTOR = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?$|^\{.+\}$")


class ThresholdsError(ValueError):
    """A thresholds file names an unknown alert or key, or a value of the wrong kind."""


@dataclass(frozen=True)
class RenderedAlert:
    rule: AlertRule
    values: dict[str, str]
    for_: str
    severity: str
    team: str


def duration_seconds(value: str) -> float:
    return sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(value))


def _check(param: Param, value: Any, where: str) -> float | int | str:
    kind = param.kind
    if kind in ("ratio", "number", "count"):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ThresholdsError(f"{where}={value!r} is invalid: expected a number of 0 or more")
        if kind == "ratio" and value > 1:
            raise ThresholdsError(f"{where}={value!r} is invalid: expected a ratio from 0 to 1")
        if kind == "count" and not isinstance(value, int):
            raise ThresholdsError(f"{where}={value!r} is invalid: expected a whole number")
        return value
    if not isinstance(value, str) or not value:
        raise ThresholdsError(f"{where}={value!r} is invalid: expected a non-empty string")
    if kind == "duration" and not _DURATION.match(value):
        raise ThresholdsError(
            f"{where}={value!r} is invalid: expected a Prometheus duration such as 15m or 1h30m"
        )
    if kind == "url" and not value.startswith(("http://", "https://")):
        raise ThresholdsError(f"{where}={value!r} is invalid: expected an http:// or https:// URL")
    if kind == "selector" and not _SELECTOR.match(value):
        raise ThresholdsError(
            f'{where}={value!r} is invalid: expected a series selector such as up{{job="x"}}'
        )
    if kind == "regex" and '"' in value:
        raise ThresholdsError(f"{where}={value!r} is invalid: a label regex cannot contain a double quote")
    return value


def _format(param: Param, value: float | int | str) -> dict[str, str]:
    """The placeholders a parameter provides: itself, plus _pct for ratios and _seconds for durations."""
    out = {param.name: _number(value) if not isinstance(value, str) else value}
    if param.kind == "ratio" and not isinstance(value, str):
        out[f"{param.name}_pct"] = f"{_number(value * 100)}%"
    if param.kind == "duration" and isinstance(value, str):
        out[f"{param.name}_seconds"] = _number(duration_seconds(value))
    return out


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _fill(template: str, values: Mapping[str, str], where: str) -> str:
    def one(match: re.Match[str]) -> str:
        try:
            return values[match.group(1)]
        except KeyError:
            raise ThresholdsError(f"{where}: unknown placeholder [[{match.group(1)}]]") from None

    return _PLACEHOLDER.sub(one, template)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ThresholdsError(f"{where} must be a mapping, not {type(value).__name__}")
    return value


def resolve(thresholds: Mapping[str, Any] | None = None, catalog: Catalog = CATALOG) -> list[RenderedAlert]:
    """Validate ``thresholds`` against the catalog and return every enabled alert with its values."""
    thresholds = _mapping(thresholds, "thresholds")
    known_globals = {p.name: p for p in catalog.globals}
    unknown = set(thresholds) - set(known_globals) - {"alerts"}
    if unknown:
        raise ThresholdsError(f"unknown thresholds key(s): {', '.join(sorted(unknown))}")
    global_values: dict[str, str] = {}
    for param in catalog.globals:
        global_values.update(
            _format(param, _check(param, thresholds.get(param.name, param.default), param.name))
        )
    overrides = _mapping(thresholds.get("alerts"), "alerts")
    by_name = {rule.name: rule for rule in catalog.alerts}
    unknown = set(overrides) - set(by_name)
    if unknown:
        raise ThresholdsError(f"unknown alert(s): {', '.join(sorted(unknown))}")
    resolved = []
    for rule in catalog.alerts:
        mine = _mapping(overrides.get(rule.name), f"alerts.{rule.name}")
        params = {p.name: p for p in rule.params}
        bad = set(mine) - set(params) - set(RULE_KEYS)
        if bad:
            allowed = ", ".join([*params, *RULE_KEYS])
            raise ThresholdsError(
                f"alerts.{rule.name}: unknown key(s) {', '.join(sorted(bad))} (allowed: {allowed})"
            )
        enabled = mine.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ThresholdsError(
                f"alerts.{rule.name}.enabled={enabled!r} is invalid: expected true or false"
            )
        if not enabled:
            continue
        values = dict(global_values)
        for param in rule.params:
            where = f"alerts.{rule.name}.{param.name}"
            values.update(_format(param, _check(param, mine.get(param.name, param.default), where)))
        for_ = mine.get("for", rule.for_)
        if not isinstance(for_, str) or not (for_ == "0s" or _DURATION.match(for_)):
            raise ThresholdsError(
                f"alerts.{rule.name}.for={for_!r} is invalid: expected a Prometheus duration"
            )
        severity = mine.get("severity", rule.severity)
        if severity not in SEVERITIES:
            raise ThresholdsError(
                f"alerts.{rule.name}.severity={severity!r} is invalid: "
                f"expected one of {', '.join(SEVERITIES)}"
            )
        team = mine.get("team", rule.team)
        if not isinstance(team, str) or not _LABEL_VALUE.match(team):
            raise ThresholdsError(
                f"alerts.{rule.name}.team={team!r} is invalid: expected a short label value"
            )
        resolved.append(RenderedAlert(rule, values, for_, severity, team))
    return resolved


def panel_annotations(panel: Panel, grafana_url: str) -> dict[str, str]:
    """The link to the alert's Grafana panel: a URL for people, and uid + panel id both under our names and
    under the ones Grafana reads to tie an alert to a panel."""
    uid, panel_id = panel.dashboard_uid, str(panel.panel_id)
    return {
        "dashboard_url": f"{grafana_url.rstrip('/')}/d/{uid}/{panel.dashboard_slug}?viewPanel={panel_id}",
        "dashboard_uid": uid,
        "panel_id": panel_id,
        "__dashboardUid__": uid,
        "__panelId__": panel_id,
    }


def alert_rules(thresholds: Mapping[str, Any] | None = None, catalog: Catalog = CATALOG) -> dict[str, Any]:
    """The alerting rule file (Prometheus ``groups:`` document) for ``thresholds``."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for alert in resolve(thresholds, catalog):
        rule, values = alert.rule, alert.values
        where = f"alerts.{rule.name}"
        anchor = rule.name.lower()
        groups.setdefault(rule.group, []).append(
            {
                "alert": rule.name,
                "expr": _fill(rule.expr, values, where),
                "for": alert.for_,
                "labels": {"severity": alert.severity, "team": alert.team},
                "annotations": {
                    "summary": _fill(rule.summary, values, where),
                    "description": _fill(rule.description, values, where),
                    "runbook_url": f"{values['runbook_base_url']}#{anchor}",
                    **panel_annotations(rule.panel, values["grafana_url"]),
                },
            }
        )
    return {"groups": [{"name": name, "rules": rules} for name, rules in groups.items()]}


def recording_rules(
    thresholds: Mapping[str, Any] | None = None, catalog: Catalog = CATALOG
) -> dict[str, Any]:
    """The recording rule file; it uses the global parameters only (validated like the alerts')."""
    resolve(thresholds, catalog)  # validates the file, globals included
    values: dict[str, str] = {}
    for param in catalog.globals:
        values.update(_format(param, _mapping(thresholds, "thresholds").get(param.name, param.default)))
    groups = []
    for group in catalog.recording:
        document: dict[str, Any] = {"name": group.name}
        if group.interval:
            document["interval"] = group.interval
        document["rules"] = [
            {"record": rule.record, "expr": _fill(rule.expr, values, f"recording {rule.record}")}
            for rule in group.rules
        ]
        groups.append(document)
    return {"groups": groups}


def defaults(catalog: Catalog = CATALOG) -> dict[str, Any]:
    """Every setting at its default: a complete thresholds file to start from."""
    document: dict[str, Any] = {p.name: p.default for p in catalog.globals}
    document["alerts"] = {
        rule.name: {
            **{p.name: p.default for p in rule.params},
            "for": rule.for_,
            "severity": rule.severity,
            "team": rule.team,
            "enabled": True,
        }
        for rule in catalog.alerts
    }
    return document
