"""The processor heartbeat over OTLP, every process real and on 127.0.0.1: the demo's job processor -> the
built collector (base + prometheus) -> Prometheus (remote write) evaluating
``DcmJobProcessorHeartbeatMissing``.

A frozen processor (SIGSTOP) exports nothing more, so its ``dcm_processor_last_poll_time_seconds`` stops
arriving and, once Prometheus's lookback delta has passed, is no longer read at all: the alert must fire and
must still fire after that (it remembers the last poll time for ``forget_after``). Time settings are short
(``max_age`` 6 s, lookback 10 s) so that the test takes seconds.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dcm_otel.alerts import ALERTS
from tests.alerts.stack import write_rules
from tests.alerts.tools import get_json
from tests.services import DockerEngine
from tests.services._common import wait_until

from .backends import Prometheus, running
from .configs import running_collector
from .test_end_to_end import ARRIVAL_TIMEOUT, start_demo

ALERT = "DcmJobProcessorHeartbeatMissing"
HEARTBEAT = "dcm_processor_last_poll_time_seconds"
MAX_AGE = 6.0
LOOKBACK_DELTA = "10s"
THRESHOLDS = {
    "alerts": {
        rule.name: {"max_age": f"{MAX_AGE:g}s", "for": "2s", "forget_after": "10m"}
        if rule.name == ALERT
        else {"enabled": False}
        for rule in ALERTS
    }
}


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path, write_rules(tmp_path / "rules", THRESHOLDS), LOOKBACK_DELTA)
    with running(server):
        yield server


def processor_pid(demo_log: Path) -> int:
    """The job processor's pid, as the demo printed it."""
    match = re.search(r"started the job processor \(pid (\d+)\)", demo_log.read_text())
    assert match, demo_log.read_text()[-2000:]
    return int(match[1])


def alert_states(prometheus: Prometheus, instance: str) -> list[str]:
    return [
        alert["state"]
        for alert in prometheus_alerts(prometheus)
        if alert["labels"]["alertname"] == ALERT and alert["labels"].get("instance") == instance
    ]


def prometheus_alerts(prometheus: Prometheus) -> list[dict[str, Any]]:
    return list(get_json(f"{prometheus.url}/api/v1/alerts")["data"]["alerts"])


@pytest.mark.services
def test_a_frozen_processor_fires_over_otlp_and_still_does_once_its_series_is_stale(
    collector_binary: Path, prometheus: Prometheus, docker_engine: DockerEngine, tmp_path: Path
) -> None:
    env = {"PROMETHEUS_REMOTE_WRITE_ENDPOINT": prometheus.remote_write_url}
    with running_collector(collector_binary, ["base", "prometheus"], env, tmp_path) as collector:
        demo = start_demo(tmp_path, collector.otlp_http, docker_engine)
        pid = processor_pid(demo.log_path)
        try:
            # The heartbeat arrives as a Unix time, per process: `instance` is its service.instance.id.
            fresh = f"time() - {HEARTBEAT} < {MAX_AGE}"
            assert wait_until(lambda: bool(prometheus.query(fresh)), ARRIVAL_TIMEOUT, 1.0), (
                collector.log_tail()
            )
            (series,) = prometheus.query(HEARTBEAT)
            labels = series["metric"]
            assert labels["dcm_processor_mode"] == "legacy"
            instance = labels["instance"]
            assert re.fullmatch(r"[0-9a-f-]{36}", instance), labels  # a uuid: new for every process
            assert alert_states(prometheus, instance) == []

            os.kill(pid, signal.SIGSTOP)
            assert wait_until(
                lambda: alert_states(prometheus, instance) == ["firing"], ARRIVAL_TIMEOUT, 0.5
            ), prometheus_alerts(prometheus)
            # Nothing arrives any more: past the lookback delta the series is not read at all ...
            assert wait_until(lambda: prometheus.query(HEARTBEAT) == [], ARRIVAL_TIMEOUT, 1.0)
            # ... and the alert, which remembers the last poll time, still fires, evaluation after evaluation.
            assert not wait_until(lambda: alert_states(prometheus, instance) != ["firing"], 5.0, 0.5)
        finally:
            os.kill(pid, signal.SIGCONT)
            demo.stop(grace=90.0)
