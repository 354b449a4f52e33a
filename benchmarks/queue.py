"""Queue-gauge cost (issue 5): one collection of ``dcm.queue.depth`` / ``dcm.queue.oldest_age`` on PostgreSQL
with 1,000,000 jobs in the table must take under 50 ms.

``python -m benchmarks.queue`` (or ``run()``) starts a private PostgreSQL, migrates container_manager into
it, seeds the jobs with one ``INSERT ... SELECT generate_series``, runs ANALYZE, then times full metric
collections of the real gauges (:class:`dcm_otel.instrumentation.jobs.queue.QueueGauges` read by an
in-memory reader). The measuring half runs in a fresh subprocess (``--port``) so that Django is set up
with this benchmark's settings whatever the caller's process has; the server is stopped by its PID.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dcm_otel_devtools.private_postgres import start_cluster

JOBS = 1_000_000
HOSTS = 4
BUDGET_MS = 50.0
#: Status by ``mod(i, 10000)``: mostly finished jobs, a few thousand waiting or running (per 1M rows:
#: 2,000 pending, 3,000 queued, 1,000 retrying, 200 launching, 2,000 running, 100,000 failed,
#: 5,000 timeout, 5,000 cancelled, the rest completed).
_SEED = """
INSERT INTO container_manager_containerjob (
    id, name, status, description, docker_image, command, working_directory, timeout_seconds,
    network_configuration, override_environment, execution_id, executor_metadata, stdout_log, stderr_log,
    docker_log, clean_output, created_at, updated_at, docker_host_id, max_retries, priority, retry_count,
    queued_at, started_at, completed_at, exit_code
)
SELECT gen_random_uuid(), 'job-' || i, s.status, '', 'busybox:latest', 'echo ok', '', 3600, '[]', '', '',
    '{}', '', '', '', '', s.created, s.created, %(first_host)s + mod(i / 7, %(hosts)s), 3, 50, 0,
    CASE WHEN s.status IN ('queued', 'retrying') THEN s.created + interval '1 second' END,
    CASE WHEN s.status NOT IN ('pending', 'queued', 'retrying', 'launching')
        THEN s.created + interval '5 seconds' END,
    CASE WHEN s.status IN ('completed', 'failed', 'timeout', 'cancelled')
        THEN s.created + interval '65 seconds' END,
    CASE s.status WHEN 'completed' THEN 0 WHEN 'failed' THEN 1 END
FROM generate_series(1, %(jobs)s) AS i,
    LATERAL (SELECT CASE
        WHEN mod(i, 10000) < 20 THEN 'pending' WHEN mod(i, 10000) < 50 THEN 'queued'
        WHEN mod(i, 10000) < 60 THEN 'retrying' WHEN mod(i, 10000) < 62 THEN 'launching'
        WHEN mod(i, 10000) < 82 THEN 'running' WHEN mod(i, 10000) < 1082 THEN 'failed'
        WHEN mod(i, 10000) < 1132 THEN 'timeout' WHEN mod(i, 10000) < 1182 THEN 'cancelled'
        ELSE 'completed' END AS status, now() - (%(jobs)s - i) * interval '2 seconds' AS created) AS s
"""


def run(jobs: int = JOBS, collections: int = 20) -> dict[str, Any]:
    """Start a private PostgreSQL, measure in a subprocess, stop the server; the figures as a dict."""
    cluster = start_cluster()
    try:
        root = str(Path(__file__).resolve().parent.parent)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "benchmarks.queue_settings",
            "BENCH_PG_PORT": str(cluster.port),
            "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))),
        }
        command = [sys.executable, "-m", "benchmarks.queue", "--measure", str(jobs), str(collections)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"queue benchmark failed:\n{done.stderr}")
        figures: dict[str, Any] = json.loads(done.stdout)
        return figures
    finally:
        cluster.close()


def _measure(jobs: int, collections: int) -> dict[str, Any]:
    """Seed, ANALYZE, time `collections` collections of the real gauges and EXPLAIN the query they ran."""
    import django

    django.setup()
    from container_manager.models import ExecutorHost
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from dcm_otel.instrumentation.jobs.queue import QueueGauges

    call_command("migrate", verbosity=0)
    hosts = [
        ExecutorHost.objects.create(name=f"host-{n}", connection_string=f"mock://{n}", executor_type="mock")
        for n in range(HOSTS)
    ]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(_SEED, {"first_host": hosts[0].pk, "hosts": HOSTS, "jobs": jobs})
        cursor.execute("ANALYZE container_manager_containerjob")
    seeded = time.perf_counter() - started

    reader = InMemoryMetricReader()
    QueueGauges(MeterProvider(metric_readers=[reader]).get_meter("bench")).enable()
    reader.get_metrics_data()  # warm-up: connection, plan cache, buffers
    timings = []
    for _ in range(collections):
        began = time.perf_counter()
        reader.get_metrics_data()
        timings.append((time.perf_counter() - began) * 1000)
    with CaptureQueriesContext(connection) as queries:
        reader.get_metrics_data()
    gauge_sql = next(q["sql"] for q in queries.captured_queries if "containerjob" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {gauge_sql}")
        plan = [row[0] for row in cursor.fetchall()]
    return {
        "jobs": jobs,
        "seed_seconds": round(seeded, 1),
        "collections": collections,
        "median_ms": round(statistics.median(timings), 2),
        "max_ms": round(max(timings), 2),
        "budget_ms": BUDGET_MS,
        "query": gauge_sql,
        "plan": plan,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.queue", description=__doc__)
    parser.add_argument("--jobs", type=int, default=JOBS, help="rows seeded into the job table")
    parser.add_argument("--collections", type=int, default=20, help="timed collections (median reported)")
    parser.add_argument(
        "--measure", nargs=2, type=int, metavar=("JOBS", "COLLECTIONS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_measure(*args.measure)))
        return
    figures = run(args.jobs, args.collections)
    print("\n".join(figures.pop("plan")))
    print(figures.pop("query"))
    verdict = "met" if figures["median_ms"] < BUDGET_MS else "NOT met"
    print(
        f"{figures['jobs']:,} jobs (seeded in {figures['seed_seconds']} s): one queue-gauge collection "
        f"median {figures['median_ms']} ms, max {figures['max_ms']} ms over {figures['collections']} "
        f"(budget < {BUDGET_MS:.0f} ms: {verdict})"
    )


if __name__ == "__main__":
    main()
