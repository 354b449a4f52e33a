"""The hooks a project puts in its gunicorn config file: start from zero, leave nothing behind."""

from __future__ import annotations

from typing import Any

from dcm_otel.prometheus import default_multiprocess_dir, prepare_multiprocess_dir, remove_multiprocess_dir


def on_starting(server: Any) -> None:
    prepare_multiprocess_dir(default_multiprocess_dir())


def on_exit(server: Any) -> None:
    remove_multiprocess_dir(default_multiprocess_dir())
