"""The app's models (Django looks for them here): the trace explorer's storage."""

from dcm_otel.trace_explorer.models import TraceLog, TraceSpan

__all__ = ["TraceLog", "TraceSpan"]
