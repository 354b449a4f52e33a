"""The resource's process entity (semantic conventions v1.44.0, model/process/entities.yaml): both its
identifying attributes, ``process.pid`` and ``process.creation.time``; and the recommended host, process and
telemetry.distro attributes dcm_otel has at hand."""

from __future__ import annotations

import os
import platform
from datetime import datetime

import psutil
import pytest

from dcm_otel.config import Config
from dcm_otel.telemetry_resource import ARCHITECTURES, build_resource, process_details


def test_process_pid_goes_with_its_creation_time() -> None:
    attributes = build_resource(Config()).attributes
    assert attributes["process.pid"] == os.getpid()
    created = attributes["process.creation.time"]
    assert isinstance(created, str)
    assert created.endswith("Z")  # ISO 8601 in UTC, as the conventions' example
    started = datetime.fromisoformat(created).timestamp()
    assert abs(started - psutil.Process().create_time()) < 0.001


def test_recommended_host_process_and_distro_attributes() -> None:
    from dcm_otel import __version__

    attributes = build_resource(Config()).attributes
    process = psutil.Process()
    assert attributes["process.command"] == process.cmdline()[0]  # no arguments: they may hold secrets
    assert attributes["process.owner"] == process.username()
    assert attributes["telemetry.distro.version"] == __version__
    assert attributes["host.arch"] == ARCHITECTURES[platform.machine().lower()]


def test_an_unknown_architecture_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "pdp11")
    assert "host.arch" not in build_resource(Config()).attributes


def test_unreadable_process_details_are_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(self: psutil.Process) -> str:
        raise psutil.AccessDenied(self.pid)

    monkeypatch.setattr(psutil.Process, "cmdline", denied)
    monkeypatch.setattr(psutil.Process, "username", denied)
    assert process_details(os.getpid()) == {}
