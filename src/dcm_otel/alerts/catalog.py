"""The alert and recording rules, as PromQL templates with named, documented, overridable parameters.

Placeholders are ``[[name]]`` (PromQL and Go templates both use braces). Besides its own and the global
parameters, a template can use ``[[name_pct]]`` for a ratio (``0.25`` -> ``25%``) and ``[[name_seconds]]``
for a duration (``4h`` -> ``14400``). Metric names are those of docs/metrics.md as Prometheus exposes them.
"""

from __future__ import annotations

from dcm_otel.alerts.anomaly import ANOMALY_ALERTS, ANOMALY_RECORDING, BASELINE_WINDOW, LEVELS
from dcm_otel.alerts.base import (
    DOCKER_API,
    FAILED,
    FINISHED,
    FS_LABELS,
    FS_USED_RATIO,
    HOSTS_CONTAINERS,
    HTTP,
    HTTP_5XX,
    HTTP_BUCKET,
    HTTP_DB,
    JOBS_QUEUE,
    OVERVIEW,
    SEVERITIES,
    WAITING,
    AlertRule,
    Catalog,
    Panel,
    Param,
    RecordingGroup,
    RecordingRule,
    min_used,
    trend_params,
)

__all__ = ["ALERTS", "CATALOG", "SEVERITIES", "AlertRule", "Catalog", "Panel", "Param"]


GLOBALS = (
    Param(
        "runbook_base_url",
        "https://example.com/dcm-otel/docs/runbooks.md",
        "url",
        "Where docs/runbooks.md is published; each alert links to `<url>#<alertname in lower case>`.",
    ),
    Param(
        "grafana_url",
        "https://example.com/grafana",
        "url",
        "Grafana's base URL: each alert links to its panel, `<url>/d/<uid>/<slug>?viewPanel=<id>` "
        "(annotation `dashboard_url`).",
    ),
    Param(
        "http_excluded_routes",
        "/health/|/ready/|/metrics",
        "regex",
        "`http_route` values left out of the HTTP rules (probes and scrapes).",
    ),
    Param(
        "queue_capacity",
        100,
        "count",
        "Jobs waiting (pending, queued, retrying) per executor host that the processors can absorb.",
    ),
)


def _quantiles(level: str, by: str, metric: str, selector: str = "") -> tuple[RecordingRule, ...]:
    return tuple(
        RecordingRule(
            f"{level}:{metric.removeprefix('dcm_')}:p{q}_rate5m",
            f"histogram_quantile(0.{q}, sum by ({by}, le) (rate({metric}_bucket{selector}[5m])))",
        )
        for q in ("50", "95", "99")
    )


RECORDING = (
    RecordingGroup(
        "dcm-otel.http.recording",
        (
            RecordingRule(
                "dcm_route:http_server_requests:rate5m", f"sum by (job, http_route) (rate({HTTP}[5m]))"
            ),
            RecordingRule(
                "dcm_route:http_server_errors:rate5m", f"sum by (job, http_route) (rate({HTTP_5XX}[5m]))"
            ),
            RecordingRule(
                "dcm_route:http_server_errors:ratio_rate5m",
                "dcm_route:http_server_errors:rate5m / dcm_route:http_server_requests:rate5m",
            ),
            *_quantiles(
                "dcm_route",
                "job, http_route",
                "http_server_request_duration_seconds",
                '{http_route!~"[[http_excluded_routes]]"}',
            ),
        ),
    ),
    RecordingGroup(
        "dcm-otel.jobs.recording",
        (
            RecordingRule(
                "dcm_host:job_transitions:rate5m",
                "sum by (job, dcm_host_name, dcm_job_status) (rate(dcm_job_transitions_total[5m]))",
            ),
            RecordingRule(
                "dcm_host:job_retries:rate5m",
                "sum by (job, dcm_host_name) (rate(dcm_job_retries_total[5m]))",
            ),
            *_quantiles("dcm_host", "job, dcm_host_name", "dcm_job_duration_seconds"),
            *_quantiles("dcm_host", "job, dcm_host_name", "dcm_job_queue_wait_time_seconds"),
            *(rule for level in LEVELS for rule in level.recording()),
            RecordingRule("dcm_host:queue_waiting_jobs:sum", WAITING),
            RecordingRule(
                "dcm_host:queue_oldest_age_seconds:max",
                "max by (job, dcm_host_name) (dcm_queue_oldest_age_seconds)",
            ),
        ),
    ),
    RecordingGroup(
        "dcm-otel.docker.recording",
        (
            RecordingRule(
                "dcm_operation:docker_client_operations:rate5m",
                "sum by (job, dcm_docker_operation) "
                "(rate(dcm_docker_client_operation_duration_seconds_count[5m]))",
            ),
            RecordingRule(
                "dcm_operation:docker_client_errors:rate5m",
                "sum by (job, dcm_docker_operation) "
                '(rate(dcm_docker_client_operation_duration_seconds_count{error_type!=""}[5m]))',
            ),
            *_quantiles(
                "dcm_operation", "job, dcm_docker_operation", "dcm_docker_client_operation_duration_seconds"
            ),
        ),
    ),
    RecordingGroup(
        "dcm-otel.resources.recording",
        (
            RecordingRule(
                "dcm_instance:host_cpu_utilization:avg",
                '1 - avg by (job, instance) (system_cpu_utilization{cpu_mode="idle"})',
            ),
            RecordingRule(
                "dcm_instance:host_memory_utilization:ratio",
                'sum by (job, instance) (system_memory_usage_bytes{system_memory_state="used"})\n'
                "/ on (job, instance)\nmax by (job, instance) (system_memory_limit_bytes)",
            ),
            RecordingRule("dcm_filesystem:host_filesystem_utilization:ratio", FS_USED_RATIO),
            RecordingRule(
                "dcm_host:container_cpu_usage:sum",
                "sum by (job, dcm_host_name) "
                "(max by (job, dcm_host_name, container_image_name, cpu_mode) (container_cpu_usage))",
            ),
            RecordingRule(
                "dcm_host:container_memory_usage_bytes:sum",
                "sum by (job, dcm_host_name) "
                "(max by (job, dcm_host_name, container_image_name) (container_memory_usage_bytes))",
            ),
            RecordingRule(
                "dcm_host:docker_host_up:max", "max by (job, dcm_host_name, dcm_executor_type) (dcm_host_up)"
            ),
        ),
    ),
)


def _window(default: str, doc: str = "Window the rate or ratio is computed over.") -> Param:
    return Param("window", default, "duration", doc)


def _http_window(figure: str) -> tuple[Param, Param]:
    return (
        _window("5m"),
        Param("min_rate", 0.05, "number", f"Requests per second the route needs before the {figure} counts."),
    )


LAST_POLL = "dcm_processor_last_poll_time_seconds"
HEARTBEAT_BY = "job, instance, dcm_host_name, dcm_processor_mode"
LAST_POLL_REMEMBERED = f"max by ({HEARTBEAT_BY}) (max_over_time({LAST_POLL}[[[forget_after]]]))"

# The HTTP alerts judge a route only when it has traffic enough for a ratio or a percentile to mean something.
HTTP_BUSY_ENOUGH = (
    f"and on (job, http_route)\nsum by (job, http_route) (rate({HTTP}[[[window]]])) >= [[min_rate]]"
)

_THRESHOLD_ALERTS = (
    # --- jobs ---------------------------------------------------------------------------------------------
    AlertRule(
        "DcmJobFailureRatioHigh",
        "dcm-otel.jobs",
        f"(\n  sum by (job, dcm_host_name) (increase({FAILED}[[[window]]]))\n/\n"
        f"  sum by (job, dcm_host_name) (increase({FINISHED}[[[window]]]))\n) > [[ratio]]\n"
        f"and on (job, dcm_host_name)\n"
        f"sum by (job, dcm_host_name) (increase({FINISHED}[[[window]]])) >= [[min_jobs]]",
        "critical",
        "jobs",
        "5m",
        "Jobs on {{ $labels.dcm_host_name }} are failing",
        "{{ $value | humanizePercentage }} of the jobs that finished on executor host "
        "{{ $labels.dcm_host_name }} "
        "in the last [[window]] failed or timed out (threshold [[ratio_pct]]).",
        (
            Param("ratio", 0.25, "ratio", "Failed + timed-out share of finished jobs above which it fires."),
            _window("15m"),
            Param("min_jobs", 5, "number", "Finished jobs needed in the window before the ratio counts."),
        ),
        panel=JOBS_QUEUE(2),
    ),
    # --- queue and processor ------------------------------------------------------------------------------
    AlertRule(
        "DcmJobQueueBacklogHigh",
        "dcm-otel.queue",
        f"{WAITING} > [[queue_capacity]]",
        "warning",
        "jobs",
        "10m",
        "Job backlog on {{ $labels.dcm_host_name }} is over capacity",
        "{{ $value }} jobs are waiting (pending, queued, retrying) for executor host "
        "{{ $labels.dcm_host_name }}, "
        "more than its capacity of [[queue_capacity]].",
        panel=JOBS_QUEUE(8),
    ),
    AlertRule(
        "DcmJobQueueBacklogGrowing",
        "dcm-otel.queue",
        "predict_linear(dcm_host:queue_waiting_jobs:sum[[[lookback]]], [[horizon_seconds]])"
        " > [[queue_capacity]]\n"
        "and dcm_host:queue_waiting_jobs:sum <= [[queue_capacity]]",
        "warning",
        "jobs",
        "10m",
        "Job backlog on {{ $labels.dcm_host_name }} will exceed capacity within [[horizon]]",
        "At the rate of the last [[lookback]], the jobs waiting for executor host "
        "{{ $labels.dcm_host_name }} "
        'reach {{ $value | printf "%.0f" }} in [[horizon]], over the capacity of [[queue_capacity]].',
        (*trend_params("30m", "30m", "the backlog"),),
        panel=JOBS_QUEUE(8),
    ),
    AlertRule(
        "DcmJobQueueWaitTooLong",
        "dcm-otel.queue",
        "max by (job, dcm_host_name) (dcm_queue_oldest_age_seconds) > [[max_age_seconds]]",
        "warning",
        "jobs",
        "2m",
        "Jobs wait too long on {{ $labels.dcm_host_name }}",
        "The oldest job waiting for executor host {{ $labels.dcm_host_name }} has waited "
        "{{ $value | humanizeDuration }} (threshold [[max_age]]).",
        (Param("max_age", "10m", "duration", "Age of the oldest waiting job (health `queue_max_age`)."),),
        panel=OVERVIEW(2),
    ),
    AlertRule(
        "DcmJobQueueStalled",
        "dcm-otel.queue",
        f"{WAITING} > 0\n"
        "and on (job, dcm_host_name)\n"
        "sum by (job, dcm_host_name) (max by (job, dcm_host_name, dcm_job_status) "
        '(delta(dcm_queue_depth{dcm_job_status=~"pending|queued|retrying"}[[[window]]]))) >= 0\n'
        "unless on (job, dcm_host_name)\n"
        "sum by (job, dcm_host_name) "
        '(increase(dcm_job_transitions_total{dcm_job_status=~"launching|running"}[[[window]]])) > 0',
        "critical",
        "jobs",
        "5m",
        "Job queue on {{ $labels.dcm_host_name }} is not moving",
        "{{ $value }} jobs wait for executor host {{ $labels.dcm_host_name }}, "
        "the backlog has not shrunk and "
        "no job was launched in the last [[window]].",
        (_window("15m", "Window in which at least one launch is expected while jobs wait."),),
        panel=JOBS_QUEUE(8),
    ),
    AlertRule(
        "DcmJobProcessorHeartbeatMissing",
        "dcm-otel.queue",
        # The last poll each processor reported, remembered for forget_after: a frozen or hung processor
        # reports the same time, a dead one (or one frozen behind OTLP) none, and both age alike. Left out:
        # a processor gone since another of its job, host and mode started polling (a restart: over OTLP each
        # process is an instance of its own).
        f"time() - {LAST_POLL_REMEMBERED} > [[max_age_seconds]]\n"
        f"unless on ({HEARTBEAT_BY})\n"
        f"(\n  {LAST_POLL_REMEMBERED}\n  < on (job, dcm_host_name, dcm_processor_mode) group_left ()\n"
        "  max by (job, dcm_host_name, dcm_processor_mode) (\n"
        f"    min_over_time({LAST_POLL}[[[forget_after]]])\n"
        f"    and on ({HEARTBEAT_BY})\n"
        f"    time() - {LAST_POLL} <= [[max_age_seconds]]\n"
        "  ) + [[max_age_seconds]]\n)",
        "critical",
        "jobs",
        "1m",
        "The job processor {{ with $labels.dcm_host_name }}of host {{ . }}{{ else }}"
        "on {{ $labels.instance }}{{ end }} stopped polling",
        "process_container_jobs ({{ $labels.dcm_processor_mode }} mode) last finished a poll cycle "
        "{{ $value | humanizeDuration }} ago (threshold [[max_age]]).",
        (
            Param("max_age", "2m", "duration", "Seconds since the last poll (health `heartbeat_max_age`)."),
            Param(
                "forget_after",
                "6h",
                "duration",
                "How long a processor that stopped reporting (killed, or frozen behind OTLP) keeps firing "
                "unless another one of its job, host and mode replaces it.",
            ),
        ),
        panel=JOBS_QUEUE(7),
    ),
    AlertRule(
        "DcmTelemetryAbsent",
        "dcm-otel.telemetry",
        "absent([[heartbeat_selector]])",
        "critical",
        "jobs",
        "10m",
        "dcm_otel telemetry is absent",
        "No series matches [[heartbeat_selector]]: no instrumented job processor reports to Prometheus "
        "(it is down, runs without dcm_otel, or the metrics pipeline is broken).",
        (
            Param(
                "heartbeat_selector",
                LAST_POLL,
                "selector",
                'Heartbeat series whose absence fires; narrow it to one deployment, e.g. `{job="jobs"}`.',
            ),
        ),
        panel=JOBS_QUEUE(7),
    ),
    # --- Docker hosts, hosts, containers ------------------------------------------------------------------
    AlertRule(
        "DcmDockerHostDown",
        "dcm-otel.hosts",
        "max by (job, dcm_host_name, dcm_executor_type) (dcm_host_up) < 1",
        "critical",
        "platform",
        "1m",
        "Docker host {{ $labels.dcm_host_name }} is down",
        "Executor host {{ $labels.dcm_host_name }} ({{ $labels.dcm_executor_type }}) does not answer pings; "
        "jobs routed to it cannot launch.",
        panel=HOSTS_CONTAINERS(1),
    ),
    AlertRule(
        "DcmDockerClientErrorRatioHigh",
        "dcm-otel.hosts",
        "(\n  sum by (job, server_address) "
        '(rate(dcm_docker_client_operation_duration_seconds_count{error_type!=""}[[[window]]]))\n/\n'
        "  sum by (job, server_address) "
        "(rate(dcm_docker_client_operation_duration_seconds_count[[[window]]]))\n"
        ") > [[ratio]]",
        "warning",
        "platform",
        "5m",
        "Docker API calls to {{ $labels.server_address }} are failing",
        "{{ $value | humanizePercentage }} of the Docker Engine API calls to "
        "{{ $labels.server_address }} failed "
        "in the last [[window]] (threshold [[ratio_pct]]).",
        (
            Param("ratio", 0.1, "ratio", "Share of failed Docker API calls above which it fires."),
            _window("10m"),
        ),
        panel=DOCKER_API(2),
    ),
    AlertRule(
        "DcmHostCpuHigh",
        "dcm-otel.hosts",
        '1 - avg by (job, instance) (system_cpu_utilization{cpu_mode="idle"}) > [[ratio]]',
        "warning",
        "platform",
        "15m",
        "CPU of {{ $labels.instance }} is near its limit",
        "CPU utilization of {{ $labels.instance }} is {{ $value | humanizePercentage }} "
        "(threshold [[ratio_pct]]).",
        (Param("ratio", 0.9, "ratio", "Busy share of all CPUs above which it fires."),),
        panel=HOSTS_CONTAINERS(5),
    ),
    AlertRule(
        "DcmHostMemoryHigh",
        "dcm-otel.hosts",
        "sum by (job, instance) (max by (job, instance, system_memory_state) "
        '(system_memory_usage_bytes{system_memory_state="used"}))\n'
        "/ on (job, instance)\nmax by (job, instance) (system_memory_limit_bytes) > [[ratio]]",
        "warning",
        "platform",
        "10m",
        "Memory of {{ $labels.instance }} is near its limit",
        "Memory utilization of {{ $labels.instance }} is {{ $value | humanizePercentage }} "
        "(threshold [[ratio_pct]]).",
        (Param("ratio", 0.9, "ratio", "Used share of memory above which it fires."),),
        panel=HOSTS_CONTAINERS(6),
    ),
    AlertRule(
        "DcmHostFilesystemAlmostFull",
        "dcm-otel.hosts",
        f"{FS_USED_RATIO} > [[ratio]]",
        "warning",
        "platform",
        "10m",
        "Filesystem {{ $labels.system_filesystem_mountpoint }} on {{ $labels.instance }} is almost full",
        "{{ $labels.system_filesystem_mountpoint }} ({{ $labels.system_device }}) "
        "on {{ $labels.instance }} is "
        "{{ $value | humanizePercentage }} full (threshold [[ratio_pct]]).",
        (Param("ratio", 0.9, "ratio", "Used share of the filesystem above which it fires."),),
        panel=HOSTS_CONTAINERS(7),
    ),
    AlertRule(
        "DcmHostFilesystemFillingUp",
        "dcm-otel.hosts",
        f"max by ({FS_LABELS}) (predict_linear("
        'system_filesystem_usage_bytes{system_filesystem_state="free"}[[[lookback]]], '
        "[[horizon_seconds]])) < 0\n"
        f"and on ({FS_LABELS})\n"
        f"{FS_USED_RATIO} > [[min_ratio]]",
        "warning",
        "platform",
        "30m",
        "Filesystem {{ $labels.system_filesystem_mountpoint }} on {{ $labels.instance }} "
        "fills up within [[horizon]]",
        "At the rate of the last [[lookback]], {{ $labels.system_filesystem_mountpoint }} "
        "({{ $labels.system_device }}) on {{ $labels.instance }} is full within [[horizon]].",
        (
            *trend_params("6h", "4h", "free space"),
            min_used(0.5),
        ),
        panel=HOSTS_CONTAINERS(7),
    ),
    AlertRule(
        "DcmContainerMemoryNearLimit",
        "dcm-otel.hosts",
        "sum by (job, dcm_host_name) "
        "(max by (job, dcm_host_name, container_image_name) (container_memory_usage_bytes))\n"
        "/ on (job, dcm_host_name)\n"
        "max by (job, dcm_host_name) (dcm_host_memory_limit_bytes) > [[ratio]]",
        "warning",
        "platform",
        "5m",
        "Job containers on {{ $labels.dcm_host_name }} are near the host's memory limit",
        "The running job containers on Docker host {{ $labels.dcm_host_name }} use "
        "{{ $value | humanizePercentage }} of its memory (threshold [[ratio_pct]]).",
        (Param("ratio", 0.9, "ratio", "Share of the Docker host's memory above which it fires."),),
        panel=HOSTS_CONTAINERS(4),
    ),
    # --- HTTP and health ----------------------------------------------------------------------------------
    AlertRule(
        "DcmHttpServerErrorRatioHigh",
        "dcm-otel.http",
        f"(\n  sum by (job, http_route) (rate({HTTP_5XX}[[[window]]]))\n/\n"
        f"  sum by (job, http_route) (rate({HTTP}[[[window]]]))\n) > [[ratio]]\n{HTTP_BUSY_ENOUGH}",
        "critical",
        "app",
        "5m",
        "Route {{ $labels.http_route }} answers 5xx",
        "{{ $value | humanizePercentage }} of the requests to {{ $labels.http_route }} ({{ $labels.job }}) "
        "answered 5xx in the last [[window]] (threshold [[ratio_pct]]).",
        (Param("ratio", 0.05, "ratio", "Share of 5xx answers above which it fires."), *_http_window("ratio")),
        panel=HTTP_DB(2),
    ),
    AlertRule(
        "DcmHttpLatencyP95High",
        "dcm-otel.http",
        f"histogram_quantile(0.95, sum by (job, http_route, le) (rate({HTTP_BUCKET}[[[window]]])))"
        f" > [[seconds]]\n{HTTP_BUSY_ENOUGH}",
        "warning",
        "app",
        "10m",
        "Route {{ $labels.http_route }} is slow",
        "The 95th percentile of {{ $labels.http_route }} ({{ $labels.job }}) is "
        "{{ $value | humanizeDuration }} over the last [[window]] (threshold [[seconds]] s).",
        (Param("seconds", 1.0, "number", "p95 request duration above which it fires."), *_http_window("p95")),
        panel=HTTP_DB(3),
    ),
    AlertRule(
        "DcmHealthCheckFailing",
        "dcm-otel.http",
        "min by (job, dcm_health_check_name) (dcm_health_check_status) < 1",
        "warning",
        "app",
        "5m",
        "Readiness check {{ $labels.dcm_health_check_name }} fails",
        "The readiness check {{ $labels.dcm_health_check_name }} of {{ $labels.job }} fails: "
        "/ready/ answers 503.",
        panel=HTTP_DB(8),
    ),
    # --- database -----------------------------------------------------------------------------------------
    AlertRule(
        "DcmDatabaseUnreachable",
        "dcm-otel.database",
        'min by (job, dcm_health_check_name) (dcm_health_check_status{dcm_health_check_name="database"}) < 1',
        "critical",
        "app",
        "1m",
        "{{ $labels.job }} cannot reach its database",
        "The readiness check database of {{ $labels.job }} cannot connect to or query a database alias "
        "(SELECT 1): the requests and jobs that need it fail.",
        panel=HTTP_DB(8),
    ),
)

ALERTS = (*_THRESHOLD_ALERTS, *ANOMALY_ALERTS)
CATALOG = Catalog(
    globals=(*GLOBALS, BASELINE_WINDOW), recording=(*RECORDING, *ANOMALY_RECORDING), alerts=ALERTS
)
