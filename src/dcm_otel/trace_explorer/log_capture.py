"""Log records made inside a sampled span, kept with the trace (the explorer's trace page shows them).

A handler on the root logger: records of every logger that propagates reach it (Django's own and
container_manager's included), whatever the project's handlers are. INFO and above; the explorer's own
records never (a failing store would feed itself).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import TraceStore


class TraceLogHandler(logging.Handler):
    def __init__(self, store: TraceStore) -> None:
        super().__init__(logging.INFO)
        self._store = store

    def emit(self, record: logging.LogRecord) -> None:
        from .store import LogEntry, current_span_ids

        ids = current_span_ids()
        if ids is None or record.name.startswith("dcm_otel.trace_explorer"):
            return
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: the logging module reports it itself
            return
        if record.exc_info and record.exc_info[0] is not None:
            message = f"{message} ({record.exc_info[0].__name__})"
        entry = LogEntry(*ids, int(record.created * 1e9), record.levelname, record.name, message)
        self._store.keep_log(entry)


def capture_logs(store: TraceStore) -> None:
    logging.getLogger().addHandler(TraceLogHandler(store))
