"""Helpers shared by the real-service fixtures: the skip-or-fail rule, free ports, polling, private dirs."""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest

# Polling, log tails and free ports are the library's own (dcm_otel_devtools); fixtures import them here.
from dcm_otel_devtools import log_tail as log_tail
from dcm_otel_devtools import wait_until as wait_until
from dcm_otel_devtools.private_postgres import free_port as free_port

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


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
