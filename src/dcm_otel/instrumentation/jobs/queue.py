"""Queue gauges observed from the database: jobs per status and host, and the age of the oldest waiting job.

One grouped query per collection, restricted to the active statuses so it reads the app's ``status``
index and never the finished rows, however many there are. Counts follow the ``status`` column, not the
app's ``queue_status`` (which keys on ``launched_at``, a field its executors never set). "Waiting" is the
adapter's definition (:func:`dcm_otel._container_manager.is_waiting`), shared with ``/ready/`` and the admin
page.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from dcm_otel._container_manager import ACTIVE, is_waiting, waiting_age, waiting_since

from . import attributes as a

#: Both gauges are read in one collection; the second reuses the first one's query.
_REUSE_SECONDS = 1.0


@dataclass(frozen=True)
class QueueFigures:
    depth: dict[tuple[str, str, str], int]  # (status, host name, executor type) -> jobs
    oldest_age: dict[tuple[str, str], float]  # (host name, executor type) -> seconds


def read_queue() -> QueueFigures:
    from container_manager.models import ContainerJob, ExecutorHost
    from django.db.models import Count, Min
    from django.utils import timezone

    now = timezone.now()
    rows = (
        ContainerJob.objects.filter(status__in=ACTIVE)
        .order_by()
        .values_list("status", "docker_host_id")
        .annotate(jobs=Count("pk"), oldest=Min(waiting_since(), filter=is_waiting(now)))
    )
    hosts = {
        pk: (name, kind) for pk, name, kind in ExecutorHost.objects.values_list("pk", "name", "executor_type")
    }
    depth: dict[tuple[str, str, str], int] = {
        (status, *host): 0 for host in hosts.values() for status in ACTIVE
    }
    oldest: dict[tuple[str, str], datetime] = {}
    for status, host_id, jobs, first in rows:
        host = hosts.get(host_id, ("", ""))
        depth[(status, *host)] = jobs
        if first is not None:
            oldest[host] = min(first, oldest.get(host, first))
    return QueueFigures(
        depth, {host: waiting_age(oldest[host], now) if host in oldest else 0.0 for host in hosts.values()}
    )


class QueueGauges:
    def __init__(self, meter: metrics.Meter) -> None:
        self._meter = meter
        self._lock = threading.Lock()
        self._figures: QueueFigures | None = None
        self._read_at = 0.0
        self._enabled = False

    def enable(self) -> None:
        """Create the gauges (once): only the process kind chosen by ``queue_metrics`` observes them."""
        with self._lock:
            if self._enabled:
                return
            self._enabled = True
        self._meter.create_observable_gauge(
            a.QUEUE_DEPTH, callbacks=[self._depth], unit="{job}",
            description="Jobs in each active status, per executor host, as the database holds them.",
        )  # fmt: skip
        self._meter.create_observable_gauge(
            a.QUEUE_OLDEST_AGE, callbacks=[self._oldest], unit="s",
            description="Age of the oldest job due and waiting to be launched (pending, queued, retrying).",
        )  # fmt: skip

    def _read(self, fresh: bool) -> QueueFigures:
        with self._lock:
            if fresh or self._figures is None or time.monotonic() - self._read_at > _REUSE_SECONDS:
                self._figures, self._read_at = read_queue(), time.monotonic()
            return self._figures

    def _depth(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(jobs, {a.STATUS: status, a.HOST_NAME: host, a.EXECUTOR_TYPE: kind})
            for (status, host, kind), jobs in self._read(fresh=True).depth.items()
        ]

    def _oldest(self, options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(age, {a.HOST_NAME: host, a.EXECUTOR_TYPE: kind})
            for (host, kind), age in self._read(fresh=False).oldest_age.items()
        ]
