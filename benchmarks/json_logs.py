"""Cost per record of the JSON formatter (with masking) and of the OTLP bridge, beside a plain
``logging.Formatter`` line, all inside a span (the common case: a request or a job).

``measure()`` returns microseconds per record and the ratios; it asserts nothing (``nox -s bench``
reports the figures in docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import TracerProvider

from dcm_otel.logs.bridge import OtlpLogHandler
from dcm_otel.logs.formatter import JsonFormatter
from dcm_otel.logs.redaction import RedactingFilter, Redactor

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class _Discard(LogRecordExporter):
    """The export itself happens on the processor's thread; only the caller's cost is measured."""

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def _record() -> logging.LogRecord:
    record = logging.LogRecord(
        "dcm_otel.jobs", logging.INFO, __file__, 1, "job %s: %s -> %s", ("42", "a", "b"), None
    )
    record.__dict__.update({"dcm.job.id": "42", "dcm.job.status": "running", "dcm.host.name": "docker-1"})
    return record


def _per_record(step: Callable[[logging.LogRecord], object], records: int) -> float:
    batch = [_record() for _ in range(records)]
    start = time.perf_counter()
    for record in batch:
        step(record)
    return (time.perf_counter() - start) / records * 1e6


def measure(records: int = 20_000, repeats: int = 5) -> dict[str, float]:
    """Best of ``repeats`` runs of ``records`` records each, in microseconds per record."""
    plain = logging.Formatter(PLAIN_FORMAT)
    json_formatter = JsonFormatter()
    redact = RedactingFilter(
        Redactor(("password", "secret", "token", "key", "authorization", "cookie", "env"))
    )
    provider = LoggerProvider()
    provider.add_log_record_processor(BatchLogRecordProcessor(_Discard(), max_queue_size=max(records, 512)))
    bridge = OtlpLogHandler(provider)

    def json_line(record: logging.LogRecord) -> object:
        redact.filter(record)
        return json_formatter.format(record)

    steps: dict[str, Callable[[logging.LogRecord], object]] = {
        "plain_us": plain.format,
        "json_us": json_line,
        "otlp_bridge_us": bridge.emit,
    }
    figures = dict.fromkeys(steps, float("inf"))
    tracer = TracerProvider().get_tracer(__name__)
    try:
        with tracer.start_as_current_span("bench"):
            for _ in range(repeats):
                for name, step in steps.items():
                    figures[name] = min(figures[name], _per_record(step, records))
                provider.force_flush()
    finally:
        provider.shutdown()
    figures["json_ratio"] = figures["json_us"] / figures["plain_us"]
    figures["json_and_otlp_ratio"] = (figures["json_us"] + figures["otlp_bridge_us"]) / figures["plain_us"]
    return figures


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name:22} {value:8.2f}")
