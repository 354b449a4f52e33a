"""(Issue 12.1) A backend that refuses or never answers must cost the requests nothing: no failures, the
same tail latency, and worker memory held by the bounded queues (2048 spans, 2048 log records)."""

from __future__ import annotations

from pathlib import Path

import psutil

from tests.project_factory import write_project
from tests.reliability._support import Load, WorkerMemory, report, wrk
from tests.reliability.conftest import otlp_env
from tests.test_gunicorn import ONE_LINE, gunicorn

# Generous: the machine is shared, so a bound a third of a second above three times the live p99 catches
# a request waiting on an export without flaking on noise. The measured figures are in the report line.
P99_FACTOR, P99_SLACK_MS = 3.0, 300.0
WORKER_RSS_BOUND_MB = 300.0
_live: dict[str, Load] = {}


def test_requests_do_not_notice_the_backend(tmp_path: Path, backend: tuple[str, str]) -> None:
    state, endpoint = backend
    project = write_project(tmp_path, settings_tail=ONE_LINE)
    with gunicorn(project, "-w", "2", **otlp_env(endpoint)) as (process, base):
        with WorkerMemory(process.pid).sampling() as memory:
            load = wrk(base + "/", seconds=5)
        workers = {child.pid for child in psutil.Process(process.pid).children()}
    peak = max(memory.peak_mb.values())
    report(
        f"wrk -c8 5 s on gunicorn -w 2, backend {state}",
        requests=load.requests,
        failed=load.non_2xx + load.socket_errors,
        p99_ms=load.p99_ms,
        peak_worker_rss_mb=round(peak, 1),
    )
    assert load.requests > 0
    assert (load.non_2xx, load.socket_errors) == (0, 0)
    assert workers <= set(memory.peak_mb), "every worker was sampled"
    assert peak < WORKER_RSS_BOUND_MB
    if state == "live":
        _live["load"] = load
    elif "load" in _live:  # parametrised live first; run alone, the latency comparison has nothing to compare
        assert load.p99_ms <= _live["load"].p99_ms * P99_FACTOR + P99_SLACK_MS
