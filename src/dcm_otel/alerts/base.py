"""The rule model (parameters, Grafana panels, alert and recording rules, the catalog) and the PromQL
fragments several rule modules share. Metric names are those of docs/metrics.md as Prometheus exposes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Literal

ParamKind = Literal["ratio", "number", "count", "duration", "regex", "url", "selector"]
Severity = Literal["critical", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning", "info")


@dataclass(frozen=True)
class Param:
    name: str
    default: float | int | str
    kind: ParamKind
    doc: str


@dataclass(frozen=True)
class Panel:
    """The Grafana panel (deploy/grafana/dashboards) that shows an alert's signal, which the alert links to.

    tests/alerts/test_dashboard_links.py checks that it exists and reads the alert's metrics."""

    dashboard_uid: str
    dashboard_slug: str  # Grafana's slug of the dashboard title (cosmetic: Grafana resolves the uid)
    panel_id: int


OVERVIEW = partial(Panel, "dcm-otel-overview", "dcm-otel-overview")
JOBS_QUEUE = partial(Panel, "dcm-otel-jobs-queue", "dcm-otel-jobs-and-queue")
HOSTS_CONTAINERS = partial(Panel, "dcm-otel-hosts-containers", "dcm-otel-hosts-and-containers")
HTTP_DB = partial(Panel, "dcm-otel-http-db", "dcm-otel-http-and-db")
DOCKER_API = partial(Panel, "dcm-otel-docker-api", "dcm-otel-docker-api")


@dataclass(frozen=True)
class AlertRule:
    name: str
    group: str
    expr: str
    severity: Severity
    team: str
    for_: str
    summary: str
    description: str
    params: tuple[Param, ...] = ()
    panel: Panel = field(kw_only=True)


@dataclass(frozen=True)
class RecordingRule:
    record: str
    expr: str


@dataclass(frozen=True)
class RecordingGroup:
    name: str
    rules: tuple[RecordingRule, ...]
    interval: str | None = None


@dataclass(frozen=True)
class Catalog:
    globals: tuple[Param, ...]
    recording: tuple[RecordingGroup, ...]
    alerts: tuple[AlertRule, ...] = field(default=())


# Shared PromQL fragments (each is one expression, so they compose inside templates).
WAITING = (
    "sum by (job, dcm_host_name) (max by (job, dcm_host_name, dcm_job_status) "
    '(dcm_queue_depth{dcm_job_status=~"pending|queued|retrying"}))'
)
FINISHED = 'dcm_job_transitions_total{dcm_job_status=~"completed|failed|timeout"}'
FAILED = 'dcm_job_transitions_total{dcm_job_status=~"failed|timeout"}'
HTTP = 'http_server_request_duration_seconds_count{http_route!~"[[http_excluded_routes]]"}'
HTTP_5XX = (
    "http_server_request_duration_seconds_count"
    '{http_route!~"[[http_excluded_routes]]", http_response_status_code=~"5.."}'
)
HTTP_BUCKET = 'http_server_request_duration_seconds_bucket{http_route!~"[[http_excluded_routes]]"}'
FS_LABELS = "job, instance, system_device, system_filesystem_mountpoint"
# Used share of a filesystem as df shows it: used / (used + available to unprivileged users).
FS_USED_RATIO = (
    f"sum by ({FS_LABELS}) "
    '(system_filesystem_usage_bytes{system_filesystem_state="used"})\n'
    f"/ on ({FS_LABELS})\n"
    f"sum by ({FS_LABELS}) "
    '(system_filesystem_usage_bytes{system_filesystem_state=~"used|free"})'
)


def trend_params(lookback: str, horizon: str, predicted: str) -> tuple[Param, Param]:
    """The two parameters of a ``predict_linear`` alert."""
    return (
        Param("lookback", lookback, "duration", "Trend window of the prediction."),
        Param("horizon", horizon, "duration", f"How far ahead {predicted} is predicted."),
    )


def min_used(default: float) -> Param:
    """The floor of a resource prediction: a nearly empty resource growing fast is no risk yet."""
    return Param("min_ratio", default, "ratio", "Used share below which no prediction fires (noise).")
