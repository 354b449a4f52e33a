"""Runs a user's hook (``request_hook``, ``response_hook``, ``db_hook``, ``docker_hook``, ...) so that a bug
in it never reaches the request, query or job it observes: the exception is logged once per hook, with its
traceback, (later failures of the same hook are not logged again)."""

from __future__ import annotations

import logging
from collections.abc import Callable

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
