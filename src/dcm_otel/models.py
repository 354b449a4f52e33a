"""The app's models (Django looks for them here): the trace explorer's storage and the audit store."""

from dcm_otel.audit.models import AuditEvent
from dcm_otel.trace_explorer.models import TraceLog, TraceSpan

__all__ = ["AuditEvent", "TraceLog", "TraceSpan"]
