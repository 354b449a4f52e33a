"""Writes dashboards/*.json from the panel lists below (run: python deploy/grafana/build.py).

One definition per panel, so the five dashboards share their variables, layout and datasource reference;
tests/dashboards/test_grafana.py checks the JSON is current and every query runs on a real Prometheus.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
J = 'job=~"$job"'
RI = "$__rate_interval"

# (title, unit, expression with its legend); a panel kind "stat" shows the last value, else a time series.
DASHBOARDS: dict[str, list[tuple[str, str, str, list[tuple[str, str]]]]] = {
    "Overview": [
        (
            "Jobs finished / s by status",
            "timeseries",
            "ops",
            [(f"sum by (dcm_job_status) (dcm_host:job_transitions:rate5m{{{J}}})", "{{dcm_job_status}}")],
        ),
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
            [(f"sum(dcm_host_up{{{J}}})", "up"), (f"count(dcm_host_up{{{J}}})", "hosts")],
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
            [(f"max by (dcm_job_status) (dcm_queue_depth{{{J}}})", "{{dcm_job_status}}")],
        ),
        ("Retries / s", "timeseries", "ops", [(f"dcm_host:job_retries:rate5m{{{J}}}", "{{dcm_host_name}}")]),
        (
            "Processor last poll age",
            "timeseries",
            "s",
            [(f"max(dcm_processor_last_poll_age_seconds{{{J}}})", "age")],
        ),
    ],
    "Hosts & containers": [
        ("Docker host up", "timeseries", "short", [(f"dcm_host_up{{{J}}}", "{{dcm_host_name}}")]),
        (
            "Docker ping p95",
            "timeseries",
            "s",
            [
                (
                    f"histogram_quantile(0.95, sum by (dcm_host_name, le) (rate(dcm_host_ping_duration_seconds_bucket{{{J}}}[{RI}])))",
                    "{{dcm_host_name}}",
                )
            ],
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
            [(f"dcm_host:container_memory_usage_bytes:sum{{{J}}}", "{{dcm_host_name}}")],
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
            [(f"dcm_route:http_server_errors:ratio_rate5m{{{J}}}", "{{http_route}}")],
        ),
        (
            "Latency p95 by route",
            "timeseries",
            "s",
            [(f"dcm_route:http_server_request_duration_seconds:p95_rate5m{{{J}}}", "{{http_route}}")],
        ),
        ("Active requests", "timeseries", "short", [(f"sum(http_server_active_requests{{{J}}})", "active")]),
        (
            "Slowest DB operations p95",
            "timeseries",
            "s",
            [
                (
                    f"topk(5, histogram_quantile(0.95, sum by (db_operation_name, le) (rate(db_client_operation_duration_seconds_bucket{{{J}}}[{RI}]))))",
                    "{{db_operation_name}}",
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
                    f"sum by (http_route) (rate(dcm_http_server_db_repeated_queries_total{{{J}}}[{RI}]))",
                    "{{http_route}}",
                )
            ],
        ),
    ],
    "Docker API": [
        (
            "Calls / s by operation",
            "timeseries",
            "ops",
            [(f"dcm_operation:docker_client_operations:rate5m{{{J}}}", "{{docker_operation}}")],
        ),
        (
            "Errors / s by operation",
            "timeseries",
            "ops",
            [(f"dcm_operation:docker_client_errors:rate5m{{{J}}}", "{{docker_operation}}")],
        ),
        (
            "Latency p95 by operation",
            "timeseries",
            "s",
            [
                (
                    f"dcm_operation:docker_client_operation_duration_seconds:p95_rate5m{{{J}}}",
                    "{{docker_operation}}",
                )
            ],
        ),
    ],
}


def panel(index: int, title: str, kind: str, unit: str, targets: list[tuple[str, str]]) -> dict[str, object]:
    width = 6 if kind == "stat" else 12
    per_row = 24 // width
    return {
        "id": index + 1,
        "title": title,
        "type": kind,
        "datasource": DS,
        "gridPos": {
            "h": 4 if kind == "stat" else 8,
            "w": width,
            "x": (index % per_row) * width,
            "y": index // per_row * 8,
        },
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(65 + i), "datasource": DS, "expr": expr, "legendFormat": legend, "exemplar": True}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


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
        "panels": [panel(i, *spec) for i, spec in enumerate(panels)],
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
