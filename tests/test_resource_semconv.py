"""The resource's process entity (semantic conventions v1.44.0, model/process/entities.yaml): both its
identifying attributes, ``process.pid`` and ``process.creation.time``."""

from __future__ import annotations

import os
from datetime import datetime

import psutil

from dcm_otel.config import Config
from dcm_otel.telemetry_resource import build_resource


def test_process_pid_goes_with_its_creation_time() -> None:
    attributes = build_resource(Config()).attributes
    assert attributes["process.pid"] == os.getpid()
    created = attributes["process.creation.time"]
    assert isinstance(created, str)
    assert created.endswith("Z")  # ISO 8601 in UTC, as the conventions' example
    started = datetime.fromisoformat(created).timestamp()
    assert abs(started - psutil.Process().create_time()) < 0.001
