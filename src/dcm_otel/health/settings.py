"""``DCM_OTEL['health']``: the endpoints' paths, the checks to run, their timeouts and who sees details.

Parsed with the rest of ``DCM_OTEL`` (see :mod:`dcm_otel.config`); every invalid sub-key is reported at
once, named ``DCM_OTEL['health']['timeout']`` and so on. Kept free of Django imports: settings.py loads it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from dcm_otel.access_control import IpNetwork, parse_networks, parse_token
from dcm_otel.settings_parsing import ConfigError, Problem, url_path

DockerPolicy = Literal["all", "any"]  # or a minimum number of hosts
DOCKER_POLICIES: tuple[DockerPolicy, ...] = get_args(DockerPolicy)
BuiltinCheck = Literal["database", "docker", "queue", "cache", "otlp"]
BUILTIN_CHECKS: tuple[BuiltinCheck, ...] = get_args(BuiltinCheck)
DEFAULT_CHECKS: tuple[BuiltinCheck, ...] = ("database", "docker", "queue")


@dataclass(frozen=True)
class HealthSettings:
    """Defaults keep a readiness answer under 2 s and let probes hit the DB at most every 2 s."""

    live_path: str = "/health/"
    ready_path: str = "/ready/"
    checks: tuple[str, ...] = DEFAULT_CHECKS
    timeout: float = 1.5
    timeouts: Mapping[str, float] = field(default_factory=dict)
    cache_ttl: float = 2.0
    docker_policy: DockerPolicy | int = "all"
    queue_max_age: float = 600.0
    heartbeat_max_age: float = 120.0
    details_token: str | None = None
    details_ips: tuple[IpNetwork, ...] = ()
    details_staff: bool = True

    def timeout_of(self, name: str, registered: float | None = None) -> float:
        """A check's timeout: ``timeouts[name]``, else the one it was registered with, else ``timeout``."""
        return self.timeouts.get(name, registered if registered is not None else self.timeout)


def _seconds(raw: object, allow_zero: bool = False) -> float:
    allowed = "a number of seconds" + (" (0 or more)" if allow_zero else " above 0")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(allowed)
    if raw == float("inf") or raw != raw or raw < 0 or (raw == 0 and not allow_zero):
        raise ValueError(allowed)
    return float(raw)


def _checks(raw: object) -> tuple[str, ...]:
    """Built-in names or dotted paths: a name without a dot that is not built in is a typo, which would
    otherwise become a check failing forever (whether a dotted path imports is a system check's job)."""
    allowed = f"a list of built-in check names ({', '.join(BUILTIN_CHECKS)}) or dotted paths of functions"
    if isinstance(raw, str) or not isinstance(raw, list | tuple):
        raise ValueError(allowed)
    if not all(isinstance(c, str) and c.strip() and not any(ch.isspace() for ch in c) for c in raw):
        raise ValueError(allowed)
    unknown = [c for c in raw if "." not in c and c not in BUILTIN_CHECKS]
    if unknown:
        raise ValueError(f"{allowed}; unknown: {', '.join(unknown)}")
    return tuple(dict.fromkeys(raw))


def _timeouts(raw: object) -> dict[str, float]:
    allowed = "a dict of check name -> seconds above 0"
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) for k in raw):
        raise ValueError(allowed)
    try:
        return {k: _seconds(v) for k, v in raw.items()}
    except ValueError:
        raise ValueError(allowed) from None


def _docker_policy(raw: object) -> DockerPolicy | int:
    for policy in DOCKER_POLICIES:
        if raw == policy:
            return policy
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1:
        return raw
    raise ValueError("'all', 'any' or a minimum number of hosts (an integer of at least 1)")


def _bool(raw: object) -> bool:
    if not isinstance(raw, bool):
        raise ValueError("True or False")
    return raw


_PARSERS: dict[str, Callable[[object], Any]] = {
    "live_path": url_path,
    "ready_path": url_path,
    "checks": _checks,
    "timeout": _seconds,
    "timeouts": _timeouts,
    "cache_ttl": lambda raw: _seconds(raw, allow_zero=True),
    "docker_policy": _docker_policy,
    "queue_max_age": _seconds,
    "heartbeat_max_age": _seconds,
    "details_token": parse_token,
    "details_ips": parse_networks,
    "details_staff": _bool,
}


def parse_health(raw: object) -> HealthSettings:
    """The parser of the ``health`` key; raises ``ConfigError`` naming each invalid sub-key."""
    key = "DCM_OTEL['health']"
    if not isinstance(raw, Mapping):
        raise ConfigError([Problem(key, raw, "a dict with keys " + ", ".join(_PARSERS))])
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in _PARSERS:
            problems.append(Problem(f"{key}[{name!r}]", value, "one of " + ", ".join(_PARSERS)))
            continue
        try:
            values[name] = _PARSERS[name](value)
        except ValueError as exc:
            problems.append(Problem(f"{key}[{name!r}]", value, str(exc)))
    if problems:
        raise ConfigError(problems)
    return HealthSettings(**values)
