"""OpenTelemetry instrumentation for django-container-manager's jobs: lifecycle, queue and processor.

Everything is derived from the status transitions and timestamps we observe on ``ContainerJob`` saves
and from the database, never from the app's own counters (several of which are wrong in 1.0.14).
Signals: ``dcm.job.*`` metrics, one log record per transition (logger ``dcm_otel.jobs``), a
``dcm.job.run`` span per run holding the Docker spans of that run, ``dcm.processor.poll`` spans, and
the ``dcm.queue.*`` / ``dcm.processor.last_poll_time`` gauges. Names are in :mod:`.attributes`.
"""

from .instrumentor import JobsInstrumentor

__all__ = ["JobsInstrumentor"]
