"""Lifecycle signals from ``ContainerJob`` saves: the app sends no signals of its own, but every status
change goes through ``Model.save()``.

``pre_save`` reads the row as it is (one primary-key lookup, skipped for saves that write no tracked
field); ``post_save`` compares it with the row as the save leaves it. The signals are recorded when the
transaction commits, so a rolled-back change is never counted.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import transaction
from opentelemetry import metrics

from dcm_otel._container_manager import JobStatus

from . import attributes as a
from .processor import note_transition
from .spans import JobFacts, JobSpans, remember_creator
from .state import TRACKED, JobState, after_save, state_of

logger = logging.getLogger("dcm_otel.jobs")
_BEFORE = "_dcm_otel_before"
# Jobs run from seconds to hours; waits from milliseconds to hours.
_DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600)
_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


def host_attributes(job: Any) -> dict[str, str]:
    try:
        host = job.docker_host
    except Exception:  # no host assigned (a broken job still gets counted)
        return {a.HOST_NAME: "", a.EXECUTOR_TYPE: ""}
    return {a.HOST_NAME: host.name, a.EXECUTOR_TYPE: host.executor_type}


class Lifecycle:
    def __init__(self, meter: metrics.Meter, spans: JobSpans) -> None:
        self._spans = spans
        self._transitions = meter.create_counter(
            a.TRANSITIONS, unit="{transition}", description="Job status changes, by previous and new status."
        )
        self._retries = meter.create_counter(
            a.RETRIES, unit="{retry}", description="Jobs put into the retrying status."
        )
        self._duration = meter.create_histogram(
            a.DURATION, unit="s", description="Job run time, from started_at to completed_at, by result.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )  # fmt: skip
        self._wait = meter.create_histogram(
            a.WAIT_TIME, unit="s", description="Time from queued_at (or created_at) to started_at.",
            explicit_bucket_boundaries_advisory=_WAIT_BUCKETS,
        )  # fmt: skip

    def pre_save(
        self, sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **_: Any
    ) -> None:
        fields = None if update_fields is None else frozenset(update_fields)
        if raw or (fields is not None and fields.isdisjoint(TRACKED)):
            return
        if instance._state.adding:
            remember_creator(instance)
            before = JobState()
        else:
            row = sender._base_manager.filter(pk=instance.pk).values(*TRACKED).first()
            before = JobState() if row is None else state_of(row)
        setattr(instance, _BEFORE, (before, fields))

    def post_save(self, sender: Any, instance: Any, using: str = "default", **_: Any) -> None:
        pending = instance.__dict__.pop(_BEFORE, None)
        if pending is None:
            return
        before, fields = pending
        after = after_save(before, instance, fields)
        if after != before:
            record = partial(self._record, JobFacts.of(instance), before, after, host_attributes(instance))
            transaction.on_commit(record, using=using)

    def _record(self, job: JobFacts, before: JobState, after: JobState, host: dict[str, str]) -> None:
        if after.status != before.status and after.status is not None:
            self._transition(job, before, after, host)
        waited = after.wait_seconds
        if waited is not None and after.started_at != before.started_at:
            self._wait.record(waited, {**host, a.JOB_IMAGE: job.image})
        ran = after.run_seconds
        if ran is not None and not before.finished_run:
            self._duration.record(ran, {**host, a.RESULT: after.result or "", a.JOB_IMAGE: job.image})

    def _transition(self, job: JobFacts, before: JobState, after: JobState, host: dict[str, str]) -> None:
        previous, status = before.status or "none", after.status or ""
        self._transitions.add(1, {**host, a.PREVIOUS_STATUS: previous, a.STATUS: status})
        if status == JobStatus.RETRYING:
            self._retries.add(1, host)
        note_transition(job.id, before.status, status)
        if after.result is not None:
            self._spans.finish(job, after, host)
        logger.info(
            "job %s: %s -> %s",
            job.id,
            previous,
            status,
            extra={
                a.JOB_ID: job.id,
                a.PREVIOUS_STATUS: previous,
                a.STATUS: status,
                a.HOST_NAME: host[a.HOST_NAME],
                a.JOB_EXIT_CODE: after.exit_code,
                a.JOB_ERROR: job.error,
            },
        )
