"""What the explorer keeps: ended spans and the log records made inside them, one row each.

One table of spans rather than a table of traces: every process appends its own spans without updating a
shared row, and a trace's summary (start, duration, span count, error) is a GROUP BY over a few thousand
rows at most. ``size`` is the row's payload in bytes, what ``trace_explorer_max_bytes`` bounds.
"""

from __future__ import annotations

from django.db import models


class TraceSpan(models.Model):
    trace_id: models.CharField[str, str] = models.CharField(max_length=32, db_index=True)
    span_id: models.CharField[str, str] = models.CharField(max_length=16)
    parent_id: models.CharField[str, str] = models.CharField(max_length=16, blank=True)
    # The first link (a job's run links the request that queued it): the explorer shows both together.
    linked_trace_id: models.CharField[str, str] = models.CharField(max_length=32, blank=True, db_index=True)
    linked_span_id: models.CharField[str, str] = models.CharField(max_length=16, blank=True)
    name: models.CharField[str, str] = models.CharField(max_length=255)
    kind: models.CharField[str, str] = models.CharField(max_length=16)
    service: models.CharField[str, str] = models.CharField(max_length=255)
    process: models.CharField[str, str] = models.CharField(max_length=64)
    start_ns: models.BigIntegerField[int, int] = models.BigIntegerField(db_index=True)
    end_ns: models.BigIntegerField[int, int] = models.BigIntegerField()
    error: models.BooleanField[bool, bool] = models.BooleanField(default=False)
    status_message: models.TextField[str, str] = models.TextField(blank=True)
    route: models.CharField[str, str] = models.CharField(max_length=255, blank=True)
    http_status: models.IntegerField[int | None, int | None] = models.IntegerField(null=True)
    job_id: models.CharField[str, str] = models.CharField(max_length=64, blank=True, db_index=True)
    attributes: models.TextField[str, str] = models.TextField()  # JSON, masked
    events: models.TextField[str, str] = models.TextField()  # JSON, masked
    size: models.IntegerField[int, int] = models.IntegerField()

    class Meta:
        app_label = "dcm_otel"


class TraceLog(models.Model):
    trace_id: models.CharField[str, str] = models.CharField(max_length=32, db_index=True)
    span_id: models.CharField[str, str] = models.CharField(max_length=16)
    time_ns: models.BigIntegerField[int, int] = models.BigIntegerField()
    level: models.CharField[str, str] = models.CharField(max_length=16)
    logger: models.CharField[str, str] = models.CharField(max_length=255)
    message: models.TextField[str, str] = models.TextField()  # masked
    size: models.IntegerField[int, int] = models.IntegerField()

    class Meta:
        app_label = "dcm_otel"
