"""One JSON object per line, with the field set of :mod:`dcm_otel.logs.fields`.

python-json-logger does the serialising, with its orjson encoder: orjson renders datetimes, UUIDs and
dataclasses in ``extra=`` fields natively (python-json-logger's default callback renders exceptions, bytes
and anything else), and encodes a line in a tenth of the time of the stdlib's ``json``, which keeps a JSON
line under twice the cost of a plain ``logging.Formatter`` line. This subclass decides which fields there
are, so that every record has the same ones whichever library logged it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from opentelemetry import trace
from pythonjsonlogger.json import JsonEncoder
from pythonjsonlogger.orjson import OrjsonFormatter

from dcm_otel import handover

from . import fields as f


class JsonFormatter(OrjsonFormatter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._context: tuple[object, object, dict[str, str]] = (object(), object(), {})

    def format(self, record: logging.LogRecord) -> str:
        """python-json-logger's ``format`` less what this fixed field set has no use for (format-string
        fields, ``asctime``, a dict message merged into the fields): the same line, ~10% sooner."""
        record.message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter.formatException(self, record.exc_info)  # text, not a list
        log_data: dict[str, Any] = {
            f.TIMESTAMP: f.timestamp(record.created),
            f.LEVEL: record.levelname,
            f.LOGGER: record.name,
            f.MESSAGE: record.message,
            **self._context_fields(),
            **f.event_fields(record),
        }
        if record.exc_text:
            log_data.update(f.exception_fields(record))
            log_data[f.EXCEPTION] = record.exc_text
        return self.jsonify_log_record(log_data)

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        try:
            return super().jsonify_log_record(log_data)
        except TypeError:  # what orjson refuses (integers beyond 64 bits): the stdlib renders it all
            return json.dumps(log_data, cls=JsonEncoder)

    def _context_fields(self) -> dict[str, str]:
        """service.name, the environment and the current span's ids: the same for every record of one span
        under one configuration (``init()`` hands over a new one), so formatted once per span."""
        config = handover.config()
        span_context = trace.get_current_span().get_span_context()
        if self._context[0] is not config or self._context[1] is not span_context:
            self._context = (config, span_context, f.identity(config) | f.correlation(span_context))
        return self._context[2]
