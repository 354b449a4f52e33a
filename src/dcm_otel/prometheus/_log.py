"""Logging that does not flood: a broken file or directory is reported once, not at every scrape."""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger("dcm_otel.prometheus")

_MAX_KEYS = 1000
_reported: set[str] = set()
_lock = threading.Lock()


def warn_once(key: str, message: str, *args: object, exc_info: bool = False) -> None:
    """Log ``message`` as a warning the first time ``key`` is seen in this process, later ones at debug."""
    with _lock:
        first = key not in _reported and len(_reported) < _MAX_KEYS
        if first:
            _reported.add(key)
    logger.log(logging.WARNING if first else logging.DEBUG, message, *args, exc_info=exc_info)
