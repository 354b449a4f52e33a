"""Server hooks for gunicorn's config file: ``from dcm_otel.gunicorn import on_starting, on_exit``.

Not required: dcm_otel detects gunicorn by itself, starts its providers in each worker after fork (also
with ``--preload``) and flushes at worker exit. The hooks only keep the shared ``/metrics`` directory tidy:
a server starts counting from zero and removes its directory when it stops.
"""

from __future__ import annotations

from typing import Any

from dcm_otel.prometheus import default_multiprocess_dir, prepare_multiprocess_dir, remove_multiprocess_dir

__all__ = ["on_exit", "on_starting"]


def on_starting(server: Any) -> None:
    prepare_multiprocess_dir(default_multiprocess_dir())


def on_exit(server: Any) -> None:
    remove_multiprocess_dir(default_multiprocess_dir())
