"""A rate limit on what the SDK and its exporters log about their own trouble.

With the backend down, each worker logged "Transient error ... retrying" for every export attempt of
every signal and "Queue full, dropping ..." as its queues overflowed: lines that say the same thing again,
in the application's own logs, for as long as the outage lasts. Each distinct message (logger, level,
format string) now passes at most once per ``INTERVAL`` seconds per process; the next one that passes says
how many were held back. The SDK's own duplicate filter only drops an immediate repeat.
"""

from __future__ import annotations

import logging
import threading
import time

INTERVAL = 60.0
LOGGER_PREFIXES = ("opentelemetry.sdk", "opentelemetry.exporter")


class RateLimit(logging.Filter):
    def __init__(self, interval: float = INTERVAL) -> None:
        super().__init__()
        self.interval = interval
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, int, str], tuple[float, int]] = {}  # -> (window start, held back)

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        with self._lock:
            start, held = self._windows.get(key, (float("-inf"), 0))
            if now - start < self.interval:
                self._windows[key] = (start, held + 1)
                return False
            self._windows[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} ({held} more like this in the last {self.interval:.0f} s not logged)"
        return True


_filter = RateLimit()


def limit_export_logs() -> None:
    """Put the filter on every SDK and exporter logger that exists (call once the exporters are imported).

    A filter on a logger sees only the records logged on it, not its children's, hence one per logger."""
    names = [name for name in logging.root.manager.loggerDict if name.startswith(LOGGER_PREFIXES)]
    for name in names:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
