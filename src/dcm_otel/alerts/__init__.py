"""Prometheus alerting and recording rules for dcm_otel's metrics, rendered from overridable thresholds.

``python -m dcm_otel.alerts render --thresholds thresholds.yml --out rules/`` writes ``dcm-otel-alerts.yml``
and ``dcm-otel-recording.yml``; with no thresholds file it writes the defaults committed in
``deploy/prometheus/rules``. See docs/alerting.md.
"""

from __future__ import annotations

from dcm_otel.alerts.catalog import ALERTS, CATALOG, AlertRule, Param
from dcm_otel.alerts.render import (
    ALERTS_FILE,
    RECORDING_FILE,
    ThresholdsError,
    alert_rules,
    defaults,
    recording_rules,
)

__all__ = [
    "ALERTS",
    "ALERTS_FILE",
    "CATALOG",
    "RECORDING_FILE",
    "AlertRule",
    "Param",
    "ThresholdsError",
    "alert_rules",
    "defaults",
    "recording_rules",
]
