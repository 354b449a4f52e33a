"""Per-job usage into the job's own fields, ``max_memory_usage`` and ``cpu_usage_percent``.

The app never fills them itself: at harvest it reads a stats key the Engine does not send
(``memory_usage``) and the stats of a container that has already exited (all zero), and saves that over
whatever the job held. So the figures are set on the job before the harvest's terminal save (the job
span reads them there) and written back once the harvest is done.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from .container_usage import JobUsage

logger = logging.getLogger("dcm_otel.resources")


def apply(job: Any, usage: JobUsage) -> None:
    job.max_memory_usage = usage.max_memory_usage
    job.cpu_usage_percent = usage.cpu_usage_percent


def store(job: Any, usage: JobUsage) -> None:
    """Write the figures back with an UPDATE of the two columns (no signals, no other field touched)."""
    apply(job, usage)
    try:
        with transaction.atomic(using=job._state.db):  # a failure must not poison the caller's transaction
            type(job)._base_manager.using(job._state.db).filter(pk=job.pk).update(
                max_memory_usage=usage.max_memory_usage, cpu_usage_percent=usage.cpu_usage_percent
            )
    except Exception:
        logger.warning("dcm_otel: could not store the resource usage of job %s", job.pk, exc_info=True)
