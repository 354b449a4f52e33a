"""What each readiness run tells the rest of the observability stack: per check a status gauge
(1 ok, 0 failing; skipped checks are not reported) and a duration histogram, and one structured log event
when a check's status changes (or when its first run fails)."""

from __future__ import annotations

import logging
import threading

from opentelemetry import metrics

from dcm_otel.health.results import CheckResult, Report, Status

logger = logging.getLogger("dcm_otel.health")
NAME = "dcm.health.check.name"


class HealthTelemetry:
    """The runner's observer; built once per runner."""

    def __init__(self) -> None:
        from dcm_otel import __version__

        meter = metrics.get_meter("dcm_otel.health", __version__)
        self.status = meter.create_gauge(
            "dcm.health.check.status",
            unit="1",
            description="1 if the readiness check passed, 0 if it failed.",
        )
        self.duration = meter.create_histogram(
            "dcm.health.check.duration", unit="s", description="Duration of each readiness check run."
        )
        self.last: dict[str, Status] = {}
        self._lock = threading.Lock()  # with a TTL of 0, two runs can finish at once

    def __call__(self, report: Report) -> None:
        with self._lock:
            for result in report.results:
                self._observe(result)

    def _observe(self, result: CheckResult) -> None:
        attributes = {NAME: result.name}
        self.duration.record(result.duration, attributes)
        if result.status != "skipped":
            self.status.set(1 if result.status == "ok" else 0, attributes)
        previous = self.last.get(result.name)
        self.last[result.name] = result.status
        if result.status == previous or (previous is None and result.status != "fail"):
            return
        logger.log(
            logging.WARNING if result.status == "fail" else logging.INFO,
            "dcm_otel: health check %s is now %s (was %s): %s",
            result.name,
            result.status,
            previous or "unknown",
            result.reason or "-",
            extra={
                "event.name": "dcm.health.check.status_change",
                NAME: result.name,
                "dcm.health.check.status": result.status,
                "dcm.health.check.previous_status": previous or "unknown",
                "dcm.health.check.reason": result.reason,
            },
        )
