"""gunicorn settings of the HTTP benchmark: one sync worker, quiet, and dcm_otel's directory hooks."""

from dcm_otel.gunicorn import on_exit, on_starting

workers = 1
loglevel = "warning"

__all__ = ["loglevel", "on_exit", "on_starting", "workers"]
