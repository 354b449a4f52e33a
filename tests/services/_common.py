"""Helpers shared by the real-service fixtures: the skip-or-fail rule, free ports, polling, private dirs."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import NoReturn

import pytest

# Polling and log tails are the library's own (dcm_otel.devtools); the fixtures import them from here.
from dcm_otel.devtools import log_tail as log_tail
from dcm_otel.devtools import wait_until as wait_until

REQUIRE_ENV = "DCM_OTEL_REQUIRE_SERVICES"
INSTALL_HINT = "run scripts/install-services.sh"


def services_required() -> bool:
    """CI sets DCM_OTEL_REQUIRE_SERVICES=1 so that a missing service fails the run instead of skipping."""
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def unavailable(reason: str) -> NoReturn:
    """Skip the requesting tests with `reason`, or fail them when real services are required."""
    if services_required():
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 turns this skip into a failure)", pytrace=False)
    pytest.skip(reason)


def is_root() -> bool:
    return os.geteuid() == 0


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago; callers retry on the rare race with another process."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def short_tempdir(prefix: str) -> Path:
    """A fresh private dir directly under /tmp.

    pytest's own tmp dirs are 0700 (the postgres user cannot enter them) and can be too deep for a
    unix socket path (~107 bytes), so daemons get a short private dir of their own.
    """
    base = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


def keep_log(log: Path | None, dest_dir: Path) -> None:
    """Copy a daemon log into the pytest session dir before its private dir is removed."""
    if log is not None and log.exists():
        shutil.copy(log, dest_dir / log.name)
