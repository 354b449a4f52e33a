"""The gunicorn config a project would write: the hooks dcm_otel ships."""

from dcm_otel.gunicorn import on_exit, on_starting

__all__ = ["on_exit", "on_starting"]
