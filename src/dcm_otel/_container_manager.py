"""Everything dcm_otel assumes about django-container-manager, in one place: its job statuses, the methods
the instrumentations wrap, and what "the oldest waiting job" means.

A container_manager upgrade is checked here: ``tests/test_container_manager_adapter.py`` compares
:class:`JobStatus` with ``ContainerJob.STATUS_CHOICES`` and :func:`missing_hooks` with the installed code.
Nothing here imports container_manager at module level: it is an optional extra.

Usage::

    from dcm_otel._container_manager import WAITING, JobStatus, oldest_waiting

    if job.status in WAITING: ...
    oldest = oldest_waiting(timezone.now())  # None, or the job, when it became due and its age
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from importlib import import_module
from types import MappingProxyType
from typing import Any, Final, NamedTuple

from django.apps import apps
from django.db import connections
from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce


class JobStatus(StrEnum):
    """``ContainerJob.status`` values (its ``STATUS_CHOICES``); members compare equal to the plain strings."""

    PENDING = "pending"
    QUEUED = "queued"
    LAUNCHING = "launching"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    RETRYING = "retrying"


#: Not launched yet: the job waits for an execution slot (``dcm.queue.oldest_age``, ``/ready/``, admin page).
WAITING: Final = (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.RETRYING)
#: Holding an execution slot.
RUNNING: Final = (JobStatus.LAUNCHING, JobStatus.RUNNING)
#: Waiting for or holding a slot (what ``dcm.queue.depth`` counts), in that order.
ACTIVE: Final = (*WAITING, *RUNNING)
#: The run is over (``dcm.job.result`` is set); a ``failed`` job may still be retried, as a new run.
TERMINAL: Final = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.TIMEOUT, JobStatus.CANCELLED)
#: Terminal statuses that count as failures in reports.
FAILURES: Final = (JobStatus.FAILED, JobStatus.TIMEOUT)


# -- hook points ----------------------------------------------------------------------------------------


class Hook(NamedTuple):
    """A method of container_manager that an instrumentation wraps (``wrapt.wrap_function_wrapper``)."""

    module: str
    cls: str
    method: str


MODELS: Final = "container_manager.models"
#: The model whose ``pre_save``/``post_save`` the jobs instrumentation receives (every status change saves).
JOB_MODEL: Final = "ContainerJob"
_DOCKER = "container_manager.executors.docker"
_MOCK = "container_manager.executors.mock"
_COMMAND = "container_manager.management.commands.process_container_jobs"
_QUEUE = "container_manager.queue"

#: Every container_manager method dcm_otel wraps, by name: the jobs instrumentation wraps all of them, the
#: resource_usage one ``docker.launch``/``docker.harvest`` (container sampling) and the polls (its start).
HOOKS: Final = MappingProxyType({
    # Calls acting on one run of the job passed as first argument: they run inside the job span.
    "docker.launch": Hook(_DOCKER, "DockerExecutor", "launch_job"),
    "docker.harvest": Hook(_DOCKER, "DockerExecutor", "harvest_job"),
    "mock.launch": Hook(_MOCK, "MockExecutor", "launch_job"),
    "mock.harvest": Hook(_MOCK, "MockExecutor", "harvest_job"),
    "command.timeout": Hook(_COMMAND, "Command", "handle_job_timeout"),
    # Returns the container's environment as a dict: the job span's trace context is added to it.
    "docker.environment": Hook(_DOCKER, "DockerExecutor", "_build_container_environment"),
    # One processor poll: legacy mode (launch and harvest) and queue mode (launch only).
    "poll.legacy": Hook(_COMMAND, "Command", "_process_single_cycle"),
    "poll.queue": Hook(_QUEUE, "JobQueueManager", "launch_next_batch"),
})  # fmt: skip
JOB_CALLS: Final = tuple(
    HOOKS[name]
    for name in ("docker.launch", "docker.harvest", "mock.launch", "mock.harvest", "command.timeout")
)
ENVIRONMENT_BUILDERS: Final = (HOOKS["docker.environment"],)
#: Processor mode (the ``dcm.processor.mode`` value) -> its poll method.
POLLS: Final = MappingProxyType({"legacy": HOOKS["poll.legacy"], "queue": HOOKS["poll.queue"]})


def missing_hooks() -> list[str]:
    """Names in :data:`HOOKS` the installed container_manager lacks (after an upgrade renamed them)."""
    missing = []
    for name, hook in HOOKS.items():
        try:
            getattr(getattr(import_module(hook.module), hook.cls), hook.method)
        except (ImportError, AttributeError):
            missing.append(name)
    return missing


def installed() -> bool:
    """container_manager is an optional extra: what reads its models skips when the project lacks it."""
    return apps.is_installed("container_manager")


@contextmanager
def own_connections() -> Iterator[None]:
    """A background thread (health check, resource monitor) opens its own ORM connections to read the jobs
    tables; close them when it is done, not at thread death."""
    try:
        yield
    finally:
        connections.close_all()


# -- the oldest waiting job -----------------------------------------------------------------------------


def waiting_since() -> Coalesce:
    """When a waiting job became due: ``scheduled_for``, else ``queued_at``, else ``created_at``.

    container_manager's queue launches only jobs whose ``scheduled_for`` is empty or past
    (``JobQueueManager.get_ready_jobs``; ``queue_status`` calls the others "scheduled"), and a failed
    launch is retried by setting ``scheduled_for`` to the retry time. So a job waits from the moment the
    processor could have launched it; one scheduled for later, or backing off between retries, is not
    late yet. ``pending`` jobs (never queued) wait from their creation, as the legacy processor takes them.
    """
    return Coalesce("scheduled_for", "queued_at", "created_at")


def is_waiting(now: datetime) -> Q:
    """A job in a :data:`WAITING` status that is due by ``now`` (``waiting_since() <= now``), on plain
    columns so it also serves as an aggregate's ``filter``."""
    due = (
        Q(scheduled_for__lte=now)
        | Q(scheduled_for__isnull=True, queued_at__lte=now)
        | Q(scheduled_for__isnull=True, queued_at__isnull=True, created_at__lte=now)
    )
    return Q(status__in=WAITING) & due


def waiting_jobs(now: datetime) -> QuerySet[Any]:
    """The jobs waiting at ``now``, each annotated with ``waiting_since``."""
    from container_manager.models import ContainerJob

    jobs: QuerySet[Any] = ContainerJob.objects.filter(is_waiting(now)).annotate(waiting_since=waiting_since())
    return jobs


def waiting_age(since: datetime, now: datetime) -> float:
    """Seconds a job due at ``since`` has waited by ``now``."""
    return (now - since).total_seconds()


@dataclass(frozen=True)
class WaitingJob:
    pk: Any
    name: str
    since: datetime
    age: float


def oldest_waiting(now: datetime) -> WaitingJob | None:
    """The job that has waited longest at ``now`` (ties: created first), or None when none waits."""
    row = (
        waiting_jobs(now)
        .order_by("waiting_since", "created_at", "pk")
        .values_list("pk", "name", "waiting_since")
        .first()
    )
    if row is None:
        return None
    pk, name, since = row
    return WaitingJob(pk, name, since, waiting_age(since, now))
