"""The logs SDK and the OTLP log exporters, still in underscore modules while the logs signal is in
development."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    LogRecordExporter,
)

# For types only: the class is recent, and importing this module must not fail on an SDK without it.
if TYPE_CHECKING:
    from opentelemetry.sdk._logs import ReadableLogRecord as ReadableLogRecord
    from opentelemetry.sdk._logs import ReadWriteLogRecord as ReadWriteLogRecord

try:  # contrib 0.65b0 gave the level mapping a public home
    from opentelemetry.instrumentation.log_utils import std_to_otel
except ImportError:  # before it, the SDK's (the same function, in every SDK pyproject.toml allows)
    from opentelemetry.sdk._logs._internal import std_to_otel

__all__ = [
    "BatchLogRecordProcessor",
    "ConsoleLogRecordExporter",
    "LogRecordExporter",
    "LogRecordProcessor",
    "LoggerProvider",
    "otlp_log_exporter",
    "std_to_otel",
]


def otlp_log_exporter(protocol: str) -> type[LogRecordExporter]:
    """The OTLP log exporter class for ``grpc`` or ``http/protobuf``, imported only when asked for."""
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as Grpc

        return Grpc
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as Http

    return Http
