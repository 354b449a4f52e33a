"""The figures the live page polls: one cheap set of queries over the jobs table, as plain JSON data."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.urls import NoReverseMatch, reverse

from dcm_otel._container_manager import RUNNING, WAITING, oldest_waiting
from dcm_otel.history.stats import FAILED, FINISHED

RATE_WINDOW = timedelta(minutes=5)
TREND_WINDOW = timedelta(hours=1)
RECENT_FAILURES = 10


def _url(name: str, pk: object) -> str | None:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return None


def job_admin_url(pk: object) -> str | None:
    """The job's change page in the admin, when the admin registers ContainerJob."""
    return _url("admin:container_manager_containerjob_change", pk)


def job_trace_url(pk: object) -> str | None:
    """The job's trace in the trace explorer."""
    return _url("dcm_otel_dashboard:job_trace", pk)


def _oldest_waiting(now: datetime) -> dict[str, Any] | None:
    """The adapter's oldest waiting job, the one ``dcm.queue.oldest_age`` and ``/ready/`` report."""
    job = oldest_waiting(now)
    if job is None:
        return None
    return {
        "id": str(job.pk),
        "name": job.name,
        "age_seconds": round(job.age, 1),
        "url": job_admin_url(job.pk),
    }


def _hosts(now: datetime) -> list[dict[str, Any]]:
    from container_manager.models import ExecutorHost

    recent = Q(jobs__completed_at__gte=now - TREND_WINDOW)
    hosts = ExecutorHost.objects.annotate(
        running=Count("jobs", filter=Q(jobs__status__in=RUNNING)),
        waiting=Count("jobs", filter=Q(jobs__status__in=WAITING)),
        finished_1h=Count("jobs", filter=recent & Q(jobs__status__in=FINISHED)),
        failed_1h=Count("jobs", filter=recent & Q(jobs__status__in=FAILED)),
    ).order_by("name")
    return [
        {
            "name": h.name,
            "executor": h.executor_type,
            "active": h.is_active,
            "running": h.running,
            "waiting": h.waiting,
            "finished_1h": h.finished_1h,
            "failed_1h": h.failed_1h,
            # Degraded: most of the last hour's jobs on it failed.
            "health": "inactive"
            if not h.is_active
            else ("degraded" if h.failed_1h * 2 > h.finished_1h else "ok"),
        }
        for h in hosts
    ]


def _failures() -> list[dict[str, Any]]:
    from container_manager.models import ContainerJob

    jobs = (
        ContainerJob.objects.filter(status__in=FAILED, completed_at__isnull=False)
        .select_related("docker_host")
        .order_by("-completed_at")[:RECENT_FAILURES]
    )
    return [
        {
            "id": str(job.pk),
            "name": job.name,
            "image": job.docker_image,
            "host": job.docker_host.name,
            "status": job.status,
            "exit_code": job.exit_code,
            "error": (job.last_error or "").strip().split("\n", 1)[0][:200],
            "completed_at": job.completed_at.isoformat() if job.completed_at else None,
            "url": job_admin_url(job.pk),
            "trace_url": job_trace_url(job.pk),
        }
        for job in jobs
    ]


def _trend(now: datetime) -> dict[str, list[int]]:
    """Jobs created, finished and failed per minute over the last hour, oldest minute first."""
    from container_manager.models import ContainerJob

    start = now - TREND_WINDOW
    minutes = int(TREND_WINDOW.total_seconds() // 60)
    trend = {"created": [0] * minutes, "finished": [0] * minutes, "failed": [0] * minutes}

    def add(series: str, when: datetime) -> None:
        index = int((when - start).total_seconds() // 60)
        if 0 <= index < minutes:
            trend[series][index] += 1

    for created in ContainerJob.objects.filter(created_at__gte=start).values_list("created_at", flat=True):
        add("created", created)
    done = ContainerJob.objects.filter(completed_at__gte=start, status__in=FINISHED)
    for completed, status in done.values_list("completed_at", "status"):
        add("finished", completed)
        if status in FAILED:
            add("failed", completed)
    return trend


def snapshot(now: datetime) -> dict[str, Any]:
    """Everything the page shows, as of ``now``."""
    from container_manager.models import ContainerJob

    counts = dict(ContainerJob.objects.values_list("status").annotate(n=Count("pk")).order_by())
    finished_recently = ContainerJob.objects.filter(
        status__in=FINISHED, completed_at__gte=now - RATE_WINDOW
    ).count()
    return {
        "now": now.isoformat(),
        "counts": {status: counts.get(status, 0) for status, _ in ContainerJob.STATUS_CHOICES},
        "queue_depth": sum(counts.get(status, 0) for status in WAITING),
        "running": sum(counts.get(status, 0) for status in RUNNING),
        "rate_per_minute": round(finished_recently / (RATE_WINDOW.total_seconds() / 60), 2),
        "oldest_waiting": _oldest_waiting(now),
        "hosts": _hosts(now),
        "recent_failures": _failures(),
        "trend": _trend(now),
    }
