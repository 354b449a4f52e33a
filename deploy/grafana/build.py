"""Writes dashboards/*.json from the panel lists below (run: python deploy/grafana/build.py).

One definition per panel, so the five dashboards share their variables, layout and datasource reference;
tests/dashboards/test_grafana.py checks the JSON is current and every query runs on a real Prometheus.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
J = 'job=~"$job"'
RI = "$__rate_interval"
# Counters that appear with their first event (retries, errors, N+1 flags) read "0", not "No data", on a series
# of the same labels that always exists.
ZERO_BY_HOST = f"sum by (job, dcm_host_name) (dcm_host:job_transitions:rate5m{{{J}}}) * 0"
# Gauges that every processor (and web process) observing the database reports alike: one value per host, not
# one per reporting process (two processors would double a plain sum).
QUEUE_DEPTH_BY_HOST = f"max by (job, dcm_host_name, dcm_job_status) (dcm_queue_depth{{{J}}})"
HOST_UP = f"max by (job, dcm_host_name) (dcm_host_up{{{J}}})"
# Every dashboard marks the time when an alert fired (annotation query on Prometheus's ALERTS series).
FIRING_ALERTS = {
    "name": "Firing alerts",
    "datasource": DS,
    "enable": True,
    "iconColor": "red",
    "expr": 'ALERTS{alertstate="firing"}',
    "step": "30s",
    "titleFormat": "{{alertname}}",
    "textFormat": "{{alertname}} ({{severity}}, team {{team}})",
    "tagKeys": "severity,team",
    "useValueForTime": False,
}

# (title, kind, unit, expressions with their legend). Kinds: "timeseries"; "stat" (the last value); "table"
# (an instant query, one row per series). A panel's id is its place in its list: alerts link to panels by id
# (dcm_otel.alerts.catalog), so add panels at the end.
DASHBOARDS: dict[str, list[tuple[str, str, str, list[tuple[str, str]]]]] = {
    "Overview": [
        (
            "Queue: waiting jobs",
            "stat",
            "short",
            [(f"sum(dcm_host:queue_waiting_jobs:sum{{{J}}})", "waiting")],
        ),
        ("Oldest waiting job", "stat", "s", [(f"max(dcm_queue_oldest_age_seconds{{{J}}})", "age")]),
        (
            "Hosts up",
            "stat",
            "short",
            [(f"sum({HOST_UP})", "up"), (f"count({HOST_UP})", "hosts")],
        ),
        (
            "Job failure ratio",
            "stat",
            "percentunit",
            [
                (
                    f'sum(dcm_host:job_transitions:rate5m{{{J}, dcm_job_status=~"failed|timeout"}})'
                    f' / sum(dcm_host:job_transitions:rate5m{{{J}, dcm_job_status=~"completed|failed|timeout"}})'
                    " or vector(0)",
                    "failed",
                )
            ],
        ),
        (
            "HTTP 5xx ratio",
            "stat",
            "percentunit",
            [
                (
                    f"sum(dcm_route:http_server_errors:rate5m{{{J}}}) / sum(dcm_route:http_server_requests:rate5m{{{J}}})"
                    " or vector(0)",
                    "5xx",
                )
            ],
        ),
        ("Alerts firing", "stat", "short", [('count(ALERTS{alertstate="firing"}) or vector(0)', "firing")]),
        (
            "Jobs finished / s by status",
            "timeseries",
            "ops",
            [(f"sum by (dcm_job_status) (dcm_host:job_transitions:rate5m{{{J}}})", "{{dcm_job_status}}")],
        ),
        (
            "Requests / s by route",
            "timeseries",
            "reqps",
            [(f"sum by (http_route) (dcm_route:http_server_requests:rate5m{{{J}}})", "{{http_route}}")],
        ),
    ],
    "Jobs & queue": [
        (
            "Transitions / s by host and status",
            "timeseries",
            "ops",
            [(f"dcm_host:job_transitions:rate5m{{{J}}}", "{{dcm_host_name}} {{dcm_job_status}}")],
        ),
        (
            "Failure ratio by host",
            "timeseries",
            "percentunit",
            [(f"dcm_host:job_failures:ratio_rate5m{{{J}}}", "{{dcm_host_name}}")],
        ),
        (
            "Job duration p50 / p95 / p99",
            "timeseries",
            "s",
            [
                (f"dcm_host:job_duration_seconds:p{q}_rate5m{{{J}}}", f"p{q} {{{{dcm_host_name}}}}")
                for q in (50, 95, 99)
            ],
        ),
        (
            "Queue wait p95",
            "timeseries",
            "s",
            [(f"dcm_host:job_queue_wait_time_seconds:p95_rate5m{{{J}}}", "{{dcm_host_name}}")],
        ),
        (
            "Queue depth by status",
            "timeseries",
            "short",
            [(f"sum by (dcm_job_status) ({QUEUE_DEPTH_BY_HOST})", "{{dcm_job_status}}")],
        ),
        (
            "Retries / s",
            "timeseries",
            "ops",
            [(f"dcm_host:job_retries:rate5m{{{J}}} or {ZERO_BY_HOST}", "{{dcm_host_name}}")],
        ),
        (
            "Processor last poll age",
            "timeseries",
            "s",
            [(f"time() - max(dcm_processor_last_poll_time_seconds{{{J}}})", "age")],
        ),
        (
            "Waiting jobs and starts / min by host",
            "timeseries",
            "short",
            [
                (f"dcm_host:queue_waiting_jobs:sum{{{J}}}", "{{dcm_host_name}} waiting"),
                (
                    "sum by (job, dcm_host_name) "
                    f'(dcm_host:job_transitions:rate5m{{{J}, dcm_job_status=~"launching|running"}}) * 60',
                    "{{dcm_host_name}} started / min",
                ),
            ],
        ),
        (
            "Successful job mean run time vs baseline",
            "timeseries",
            "s",
            [
                (f"dcm_host:job_duration_seconds:mean_rate5m{{{J}}}", "{{dcm_host_name}} 5m mean"),
                (f"dcm_host:job_duration_seconds_mean_rate5m:expected{{{J}}}", "{{dcm_host_name}} expected"),
                (f"dcm_host:job_duration_seconds_mean_rate5m:avg_baseline{{{J}}}", "{{dcm_host_name}} 1d mean"),
            ],
        ),
    ],
    "Hosts & containers": [
        ("Docker host up", "timeseries", "short", [(HOST_UP, "{{dcm_host_name}}")]),
        (
            "Docker ping duration",
            "timeseries",
            "s",
            [(f"max by (dcm_host_name) (dcm_host_ping_duration_seconds{{{J}}})", "{{dcm_host_name}}")],
        ),
        (
            "Container CPU by host",
            "timeseries",
            "short",
            [(f"dcm_host:container_cpu_usage:sum{{{J}}}", "{{dcm_host_name}}")],
        ),
        (
            "Container memory by host",
            "timeseries",
            "bytes",
            [
                (f"dcm_host:container_memory_usage_bytes:sum{{{J}}}", "{{dcm_host_name}} containers"),
                (f"max by (dcm_host_name) (dcm_host_memory_limit_bytes{{{J}}})", "{{dcm_host_name}} host memory"),
            ],
        ),
        (
            "Machine CPU utilization",
            "timeseries",
            "percentunit",
            [(f"dcm_instance:host_cpu_utilization:avg{{{J}}}", "{{instance}}")],
        ),
        (
            "Machine memory utilization",
            "timeseries",
            "percentunit",
            [(f"dcm_instance:host_memory_utilization:ratio{{{J}}}", "{{instance}}")],
        ),
        (
            "Filesystem used",
            "timeseries",
            "percentunit",
            [
                (
                    f"dcm_filesystem:host_filesystem_utilization:ratio{{{J}}}",
                    "{{instance}} {{system_filesystem_mountpoint}}",
                )
            ],
        ),
        # The cost rules (deploy/prometheus/rules/dcm-otel-cost.yml), in the currency of their unit prices.
        (
            "Cost per job by image and host (last hour)",
            "table",
            "short",
            [(f"dcm_host_image:job_cost:avg1h{{{J}}}", "{{container_image_name}} on {{dcm_host_name}}")],
        ),
    ],
    "HTTP & DB": [
        (
            "Requests / s by route",
            "timeseries",
            "reqps",
            [(f"dcm_route:http_server_requests:rate5m{{{J}}}", "{{http_route}}")],
        ),
        (
            "Error ratio by route",
            "timeseries",
            "percentunit",
            [
                (
                    f"dcm_route:http_server_errors:ratio_rate5m{{{J}}} or dcm_route:http_server_requests:rate5m{{{J}}} * 0",
                    "{{http_route}}",
                )
            ],
        ),
        (
            "Latency p95 by route",
            "timeseries",
            "s",
            [(f"dcm_route:http_server_request_duration_seconds:p95_rate5m{{{J}}}", "{{http_route}}")],
        ),
        ("Active requests", "timeseries", "short", [(f"sum(http_server_active_requests{{{J}}})", "active")]),
        (
            "Slowest DB queries p95 by summary",
            "timeseries",
            "s",
            [
                (
                    f"topk(5, histogram_quantile(0.95, sum by (db_query_summary, le) (rate(db_client_operation_duration_seconds_bucket{{{J}}}[{RI}]))))",
                    "{{db_query_summary}}",
                )
            ],
        ),
        (
            "Queries per request p95 by route",
            "timeseries",
            "short",
            [
                (
                    f"histogram_quantile(0.95, sum by (http_route, le) (rate(dcm_http_server_db_queries_bucket{{{J}}}[{RI}])))",
                    "{{http_route}}",
                )
            ],
        ),
        (
            "Repeated (N+1) statements flagged per second",
            "timeseries",
            "short",
            [
                (
                    f"sum by (http_route) (rate(dcm_http_server_db_repeated_queries_total{{{J}}}[{RI}]))"
                    f" or sum by (http_route) (rate(dcm_http_server_db_queries_count{{{J}}}[{RI}])) * 0",
                    "{{http_route}}",
                )
            ],
        ),
        (
            "Readiness checks (1 passed, 0 failed)",
            "table",
            "short",
            [(f"min by (dcm_health_check_name) (dcm_health_check_status{{{J}}})", "{{dcm_health_check_name}}")],
        ),
    ],
    "Docker API": [
        (
            "Calls / s by operation",
            "timeseries",
            "ops",
            [(f"dcm_operation:docker_client_operations:rate5m{{{J}}}", "{{dcm_docker_operation}}")],
        ),
        (
            "Errors / s by operation",
            "timeseries",
            "ops",
            [
                (
                    f"dcm_operation:docker_client_errors:rate5m{{{J}}} or dcm_operation:docker_client_operations:rate5m{{{J}}} * 0",
                    "{{dcm_docker_operation}}",
                )
            ],
        ),
        (
            "Latency p95 by operation",
            "timeseries",
            "s",
            [
                (
                    f"dcm_operation:docker_client_operation_duration_seconds:p95_rate5m{{{J}}}",
                    "{{dcm_docker_operation}}",
                )
            ],
        ),
    ],
}


SIZES = {"stat": (4, 4), "timeseries": (12, 8), "table": (12, 8)}  # kind -> (width, height) in grid units


def panel(index: int, title: str, kind: str, unit: str, targets: list[tuple[str, str]]) -> dict[str, object]:
    width, height = SIZES[kind]
    table = kind == "table"
    return {
        "id": index + 1,
        "title": title,
        "type": kind,
        "datasource": DS,
        "gridPos": {"h": height, "w": width, "x": 0, "y": 0},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {
                "refId": chr(65 + i),
                "datasource": DS,
                "expr": expr,
                "legendFormat": legend,
                **({"instant": True, "range": False, "format": "table"} if table else {"exemplar": True}),
            }
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def flow(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Left to right, a new row when the 24 columns are full (Grafana's grid)."""
    x = y = row_height = 0
    for item in panels:
        grid = item["gridPos"]
        if x + grid["w"] > 24:
            x, y, row_height = 0, y + row_height, 0
        grid.update(x=x, y=y)
        x += grid["w"]
        row_height = max(row_height, grid["h"])
    return panels


def dashboard(title: str, panels: list[tuple[str, str, str, list[tuple[str, str]]]]) -> dict[str, object]:
    uid = "dcm-otel-" + "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
    return {
        "uid": uid.replace("--", "-").replace("--", "-"),
        "title": f"dcm_otel / {title}",
        "tags": ["dcm_otel"],
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "links": [{"type": "dashboards", "tags": ["dcm_otel"], "asDropdown": True, "title": "dcm_otel"}],
        "annotations": {"list": [FIRING_ALERTS]},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
                {
                    "name": "job",
                    "type": "query",
                    "datasource": DS,
                    "query": {"query": "label_values(target_info, job)", "refId": "job"},
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".+",
                    "current": {"text": "All", "value": "$__all"},
                },
            ]
        },
        "panels": flow([panel(i, *spec) for i, spec in enumerate(panels)]),
    }


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {
        "".join(c if c.isalnum() else "-" for c in title.lower()).replace("---", "-") + ".json": json.dumps(
            dashboard(title, panels), indent=2
        )
        + "\n"
        for title, panels in DASHBOARDS.items()
    }


if __name__ == "__main__":
    for name, text in render().items():
        (OUT / name).write_text(text)
