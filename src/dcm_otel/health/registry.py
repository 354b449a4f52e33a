"""The check registry: user checks registered in code (``@check`` / ``register``) join the ones named in
``DCM_OTEL['health']['checks']`` (built-in names or dotted paths); :func:`resolve` turns both into the
list a runner runs.

A check is a callable taking its timeout in seconds (to bound its own client calls) and returning an
:class:`~dcm_otel.health.results.Outcome`, or None/True for ok, False for failing; raising an exception
fails it with the exception as the reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dcm_otel.health.results import CheckFunction, describe, failing

if TYPE_CHECKING:
    from dcm_otel.config import Config


@dataclass(frozen=True)
class Check:
    name: str
    function: CheckFunction
    timeout: float


_lock = threading.Lock()
# name -> (function, timeout it was registered with; None: DCM_OTEL['health']['timeout'])
_registered: dict[str, tuple[CheckFunction, float | None]] = {}


def register(name: str, function: CheckFunction, *, timeout: float | None = None) -> None:
    """Add a readiness check (replacing one of the same name). Register at import time, e.g. in an
    ``AppConfig.ready``: the runner takes the registry as it is at the first probe."""
    with _lock:
        _registered[name] = (function, timeout)


def check(
    name: str | None = None, *, timeout: float | None = None
) -> Callable[[CheckFunction], CheckFunction]:
    """Decorator form of :func:`register`; the name defaults to the function's."""

    def decorate(function: CheckFunction) -> CheckFunction:
        register(name or function.__name__, function, timeout=timeout)
        return function

    return decorate


def resolve(config: Config) -> list[Check]:
    """The checks to run: the configured ones (built-in or dotted path), then the registered ones, each
    with its final timeout."""
    from dcm_otel.health.checks import BUILTINS

    health = config.health
    functions: dict[str, tuple[CheckFunction, float | None]] = {}
    for entry in health.checks:
        if entry in BUILTINS:
            functions[entry] = (BUILTINS[entry](config), None)
        else:
            functions[entry.rpartition(".")[2]] = (_imported(entry), None)
    with _lock:
        functions.update(_registered)
    return [Check(name, f, health.timeout_of(name, timeout)) for name, (f, timeout) in functions.items()]


def _imported(dotted_path: str) -> CheckFunction:
    """The function at ``dotted_path``; one that cannot be imported becomes a check failing with why."""
    from django.utils.module_loading import import_string

    try:
        function: CheckFunction = import_string(dotted_path)
    except ImportError as exc:
        reason = describe(exc)
        return lambda timeout: failing(reason)
    return function
