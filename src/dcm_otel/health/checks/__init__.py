"""Built-in checks, by the name ``DCM_OTEL['health']['checks']`` uses. Each entry builds the check function
from the configuration; ``database``, ``docker`` and ``queue`` run by default, ``cache`` and ``otlp`` are
there to be listed."""

from __future__ import annotations

from collections.abc import Callable

from dcm_otel.config import Config
from dcm_otel.health.checks import cache, database, docker_hosts, otlp, queue
from dcm_otel.health.results import CheckFunction
from dcm_otel.health.settings import BuiltinCheck

#: One entry per name of ``BuiltinCheck`` (the names settings are validated against).
BUILTINS: dict[BuiltinCheck, Callable[[Config], CheckFunction]] = {
    "database": database.build,
    "docker": docker_hosts.build,
    "queue": queue.build,
    "cache": cache.build,
    "otlp": otlp.build,
}
