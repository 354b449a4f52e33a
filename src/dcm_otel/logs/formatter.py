"""One JSON object per line, with the field set of :mod:`dcm_otel.logs.fields`.

python-json-logger does the serialising (its encoder renders datetimes, UUIDs, exceptions and dataclasses
in ``extra=`` fields); this subclass only decides which fields there are, so that every record has the
same ones whichever library logged it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pythonjsonlogger.json import JsonEncoder
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from dcm_otel import runtime
from dcm_otel.config import Config

from . import fields as f

# One encoder for every line: python-json-logger's rendering of datetimes, UUIDs etc. as a ``default``
# callback, so the C encoder does the rest (a JSONEncoder subclass, or one per call, is 2-4x slower).
_ENCODER = json.JSONEncoder(default=JsonEncoder().default)


def _encode(data: Any, **_options: Any) -> str:
    return _ENCODER.encode(data)


class JsonFormatter(_JsonFormatter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("json_serializer", _encode)
        super().__init__(*args, **kwargs)
        self._identity: tuple[object, dict[str, str]] = (object(), {})

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data[f.TIMESTAMP] = f.timestamp(record.created)
        log_data[f.LEVEL] = record.levelname
        log_data[f.LOGGER] = record.name
        log_data[f.MESSAGE] = record.message
        log_data.update(self._service())
        log_data.update(f.correlation())
        log_data.update(f.event_fields(record))
        exception = record.exc_text or message_dict.get("exc_info")
        if exception:
            log_data[f.EXCEPTION] = exception

    def _service(self) -> dict[str, str]:
        """From dcm_otel's configuration, read again only when the process's state changes (``init()``)."""
        state = runtime.current()
        if self._identity[0] is not state:
            self._identity = (state, f.identity(state.config if state is not None else Config()))
        return self._identity[1]
