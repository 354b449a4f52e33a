"""The log bridge's shortcut: a record straight to dcm_otel's log processor, without the SDK's records.

Through the SDK, each Python log record becomes an API ``LogRecord``, then in ``Logger.emit`` a
``ReadWriteLogRecord`` whose attributes are copied into ``BoundedAttributes``, only for
:class:`~dcm_otel.export.processors.EncodedLogRecordProcessor` to encode it right away (docs/benchmarks.md,
"The log record, by instructions"). When that processor is the provider's only one, the bridge hands it the
fields themselves (:class:`~dcm_otel.export.log_encoding.LogFields`), doing what ``Logger.emit`` does
besides: skip a disabled logger, count the record in the SDK's ``otel.sdk.log.created``, take the logger's
resource and scope. Only where ``BoundedAttributes`` would change nothing: at most the attribute count
limit, no length limit, plain scalar values (a list or map value, which the SDK turns into a tuple or a
copy, takes the SDK's path). Any other processor, or an SDK without these internals, takes the SDK's path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk._logs import Logger, LoggerProvider

from dcm_otel._sdk.feature_check import FeatureCheck
from dcm_otel.export.processors import EncodedLogRecordProcessor

if TYPE_CHECKING:
    from opentelemetry._logs import LoggerProvider as ApiLoggerProvider
    from opentelemetry.sdk._logs import LogRecordProcessor

    from dcm_otel.export.log_encoding import LogFields


try:  # not in every SDK pyproject.toml allows (1.40 has none)
    from opentelemetry.sdk._logs import SynchronousMultiLogRecordProcessor
except ImportError as error:  # the probe reports it; the bridge then takes the SDK's path
    _import_error: ImportError | None = error
else:
    _import_error = None


def _probe() -> None:
    if _import_error is not None:
        raise _import_error
    logger = LoggerProvider(shutdown_on_exit=False, meter_provider=NoOpMeterProvider()).get_logger("probe")
    if type(logger) is not Logger:
        raise TypeError(f"the provider's logger is a {type(logger).__name__}")
    if type(logger._multi_log_record_processor) is not SynchronousMultiLogRecordProcessor:
        raise TypeError("the logger's processors are not a SynchronousMultiLogRecordProcessor")
    limits = logger._log_record_limits
    _ = (limits.max_log_record_attributes, limits.max_log_record_attribute_length)
    _ = (
        logger._multi_log_record_processor._log_record_processors,
        logger.resource,
        logger.instrumentation_scope,
    )
    if not (logger._is_enabled() and callable(logger._logger_metrics.emit_log)):
        raise TypeError("the logger is off or cannot count records")


FEATURE = FeatureCheck("log bridge", "log records go through the SDK's Logger.emit", _probe)
_SCALARS = str | bool | int | float
_MAX_LOGGERS = 4096  # logger names are a bounded set in practice; past this many, decided at each record


class Shortcut:
    """For one handler: per logger name, the SDK logger and whether dcm_otel's processor is its only one,
    decided at the logger's first record rather than at each (``get_logger`` takes two locks). Decided
    again when the provider's processors change (the SDK replaces its tuple of them on each addition)."""

    def __init__(self, provider: ApiLoggerProvider) -> None:
        self._provider = provider
        self._routes: dict[str, Route] = {}

    def route(self, name: str, attributes: Mapping[str, Any]) -> Route | None:
        """Where a record of logger ``name`` goes by the shortcut; None when it must take the SDK's path."""
        route = self._routes.get(name)
        if route is None or route.processors is not route.multi._log_record_processors:
            route = self._decide(name)
            if route is None:
                return None
        if route.target is None or not route.logger._is_enabled():
            return None
        if attributes:  # only where BoundedAttributes would pass them as they are
            most = route.most
            if most is not None and len(attributes) > most:
                return None
            if not all(isinstance(value, _SCALARS) for value in attributes.values()):
                return None
        return route

    def _decide(self, name: str) -> Route | None:
        logger = self._provider.get_logger(name)
        if type(logger) is not Logger:  # a disabled SDK's no-op logger: nothing to remember
            return None
        multi = logger._multi_log_record_processor
        if type(multi) is not SynchronousMultiLogRecordProcessor:
            return None
        processors = multi._log_record_processors
        limits = logger._log_record_limits
        only = processors[0] if len(processors) == 1 else None
        whole = limits.max_log_record_attribute_length is None  # no value the SDK would truncate
        target = only if type(only) is EncodedLogRecordProcessor and whole else None
        route = Route(logger, multi, processors, target, limits.max_log_record_attributes)
        if len(self._routes) < _MAX_LOGGERS:
            self._routes[name] = route
        return route


class Route(NamedTuple):
    """What :class:`Shortcut` decided for one logger name."""

    logger: Logger
    multi: SynchronousMultiLogRecordProcessor
    processors: tuple[LogRecordProcessor, ...]  # as they were when decided
    target: EncodedLogRecordProcessor | None  # None: the SDK's path for every record
    most: int | None  # the attribute count limit


def emit(logger: Logger, target: EncodedLogRecordProcessor, fields: LogFields) -> None:
    """What ``Logger.emit`` does with a record, but ``fields`` to ``target`` in place of an SDK record."""
    logger._logger_metrics.emit_log()
    target.on_fields(fields, logger.resource, logger.instrumentation_scope)
