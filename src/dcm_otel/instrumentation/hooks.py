"""Runs a user's hook (``request_hook``, ``response_hook``, ``db_hook``, ``docker_request_hook``, ...) so that
a bug in it never reaches the request, query or job it observes: the exception is logged once per hook, with
its traceback, (later failures of the same hook are not logged again). :func:`hook_of` picks an
instrumentor's hook as contrib's do: the ``instrument(...)`` keyword, else the configured one."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from dcm_otel.config import Config
from dcm_otel.settings_parsing import Hook, hook

logger = logging.getLogger("dcm_otel")
_reported: set[int] = set()


def run_hook(name: str, hook: Callable[..., object] | None, *args: object) -> None:
    if hook is None:
        return
    try:
        hook(*args)
    except Exception:
        if id(hook) not in _reported:  # one traceback per hook, not one per request
            _reported.add(id(hook))
            logger.warning("dcm_otel: the %s %r raised; its call was skipped", name, hook, exc_info=True)


def hook_of(kwargs: Mapping[str, Any], config: Config, name: str) -> Hook | None:
    """``instrument(<name>=...)`` (a callable or a dotted path), else the config's ``<name>``."""
    if kwargs.get(name) is not None:
        return hook(kwargs[name])
    found: Hook | None = getattr(config, name)
    return found
