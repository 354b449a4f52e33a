"""Instructions per log record (valgrind callgrind, deterministic where times on a shared machine are not):
``python -m benchmarks.log_instructions``.

Each step runs in its own ``python -m benchmarks.log_instructions --emit STEP N`` under callgrind, inside a
span, after 200 warm-up records, with N = 1200 and N = 200: the difference over 1000 is the cost of one
record, start-up cancelled out. Steps: ``record`` makes the ``logging.LogRecord`` only (what every
configuration pays), ``bridge`` also emits it through dcm_otel's ``OtlpLogHandler`` into a batch processor
(``bridge_no_processor``: into a provider without one), ``bridge_encoded`` into dcm_otel's
``EncodedLogRecordProcessor`` (what D exports with) through the SDK's records, ``bridge_shortcut`` into the
same processor by the bridge's shortcut (:mod:`dcm_otel._sdk.log_fast_path`), ``sdk_handler`` through the
SDK's ``LoggingHandler`` (what configuration C uses) instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence

from benchmarks import callgrind

WARMUP = 200
COUNTS = (1200, 200)
STEPS = ("record", "bridge_no_processor", "bridge", "bridge_encoded", "bridge_shortcut", "sdk_handler")


class _DiscardEncoded:
    """For ``EncodedLogRecordProcessor``: the records are encoded as they are emitted, the batches dropped."""

    def __init__(self) -> None:
        from dcm_otel.export.log_encoding import LogEncoder

        self.encoder = LogEncoder()

    def send_encoded(self, count: int, groups: object) -> None:
        return None

    def shutdown(self) -> None:
        return None


def _handler(step: str) -> Callable[[logging.LogRecord], object]:
    from opentelemetry.sdk._logs import LoggingHandler

    from benchmarks.json_logs import _Discard
    from dcm_otel._sdk.logs_sdk import BatchLogRecordProcessor, LoggerProvider
    from dcm_otel.export.encoded_batches import BatchLimits
    from dcm_otel.export.processors import EncodedLogRecordProcessor
    from dcm_otel.logs.bridge import OtlpLogHandler

    if step == "record":
        return lambda record: None
    provider = LoggerProvider()
    if step in ("bridge_encoded", "bridge_shortcut"):
        limits = BatchLimits(1.0, max_queue_size=4096, max_export_batch_size=512, export_timeout=5.0)
        provider.add_log_record_processor(EncodedLogRecordProcessor(_DiscardEncoded(), limits))
    elif step != "bridge_no_processor":
        provider.add_log_record_processor(BatchLogRecordProcessor(_Discard(), max_queue_size=4096))
    if step.startswith("bridge"):
        handler = OtlpLogHandler(provider)
        handler._fast = step == "bridge_shortcut"  # the shortcut is off for every other step anyway
        return handler.emit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return LoggingHandler(logger_provider=provider).emit


def _emit(step: str, count: int) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    emit = _handler(step)
    with TracerProvider().get_tracer(__name__).start_as_current_span("bench"):
        for _ in range(WARMUP + count):
            emit(logging.LogRecord("benchmarks.urls", logging.INFO, __file__, 1, "view served", (), None))
    sys.stdout.flush()
    os._exit(0)  # the instructions of the interpreter's shutdown would not cancel out


def per_record(steps: Sequence[str] = STEPS) -> dict[str, int]:
    """Instructions per record of each step."""
    return {
        step: callgrind.per_unit(
            lambda count, step=step: ["-m", "benchmarks.log_instructions", "--emit", step, str(count)], COUNTS
        )
        for step in steps
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.log_instructions", description=__doc__)
    parser.add_argument("--emit", nargs=2, metavar=("STEP", "COUNT"), help="internal: one measured process")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS), help="to measure")
    args = parser.parse_args()
    if args.emit:
        _emit(args.emit[0], int(args.emit[1]))
    callgrind.require_valgrind()
    figures = per_record(["record", *(step for step in args.steps if step != "record")])
    record = figures["record"]
    print("| step | instructions per record | over the bare record |\n|---|---|---|")
    for step, value in figures.items():
        print(f"| {step} | {value:,} | {value - record:+,} |")


if __name__ == "__main__":
    main()
