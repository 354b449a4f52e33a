"""Every configured database alias answers a real round trip (``SELECT 1``).

Each alias gets a connection of its own, opened and closed by the check, with a connect timeout: a hung
server can neither block the requests' own connections nor keep a socket open for long.
"""

from __future__ import annotations

import math
from typing import Any

from django.db import connections

from dcm_otel.config import Config
from dcm_otel.health.results import CheckFunction, Outcome, describe, failing, ok

# Backends whose driver takes a connect timeout in OPTIONS, and its name there.
_CONNECT_TIMEOUT_OPTION = {"postgresql": "connect_timeout", "mysql": "connect_timeout"}


def build(config: Config) -> CheckFunction:
    return check_databases


def check_databases(timeout: float) -> Outcome:
    failures = []
    for alias in connections:
        try:
            round_trip(alias, timeout)
        except Exception as exc:
            failures.append(f"{alias}: {describe(exc)}")
    if failures:
        return failing("; ".join(failures))
    return ok()


def round_trip(alias: str, timeout: float) -> None:
    wrapper = connections.create_connection(alias)
    option = _CONNECT_TIMEOUT_OPTION.get(wrapper.vendor)
    if option is not None:
        # A copy: the settings dict is shared with the alias' regular connections.
        options: dict[str, Any] = {**wrapper.settings_dict.get("OPTIONS", {}), option: math.ceil(timeout)}
        wrapper.settings_dict = {**wrapper.settings_dict, "OPTIONS": options}
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        wrapper.close()
