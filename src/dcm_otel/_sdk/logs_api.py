"""The logs API, still in an underscore module while the logs signal is in development."""

from opentelemetry._logs import (
    LoggerProvider,
    LogRecord,
    SeverityNumber,
    get_logger_provider,
    set_logger_provider,
)

__all__ = ["LogRecord", "LoggerProvider", "SeverityNumber", "get_logger_provider", "set_logger_provider"]
