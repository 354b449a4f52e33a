"""Instructions per log record (valgrind callgrind, deterministic where times on a shared machine are not):
``python -m benchmarks.log_instructions``.

Each step runs in its own ``python -m benchmarks.log_instructions --emit STEP N`` under callgrind, inside a
span, after 200 warm-up records, with N = 1200 and N = 200: the difference over 1000 is the cost of one
record, start-up cancelled out. Steps: ``record`` makes the ``logging.LogRecord`` only, ``bridge`` also
emits it through dcm_otel's ``OtlpLogHandler`` into a batch processor (``bridge_no_processor``: into a
provider without one), ``bridge_encoded`` into dcm_otel's
``EncodedLogRecordProcessor`` (what D exports with) through the SDK's records, ``bridge_shortcut`` into the
same processor by the bridge's shortcut (:mod:`dcm_otel._sdk.log_fast_path`), ``sdk_handler`` through the
SDK's ``LoggingHandler`` (what configuration C uses) instead. The real path of the measured views'
``logger.info``: ``logger`` is the call on an INFO logger without a handler (what configuration A pays),
``logger_bridge`` the same call with the bridge installed as D has it (``bridge.install``: the filters,
``Handler.handle``, then the shortcut into ``EncodedLogRecordProcessor``), shown over ``logger``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from benchmarks import callgrind

if TYPE_CHECKING:
    from dcm_otel.export.processors import EncodedLogRecordProcessor

WARMUP = 200
COUNTS = (1200, 200)
STEPS = (
    "record",
    "bridge_no_processor",
    "bridge",
    "bridge_encoded",
    "bridge_shortcut",
    "sdk_handler",
    "logger",
    "logger_bridge",
)


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
    from dcm_otel.logs.bridge import OtlpLogHandler

    if step == "record":
        return lambda record: None
    provider = LoggerProvider()
    if step in ("bridge_encoded", "bridge_shortcut"):
        provider.add_log_record_processor(_encoded_processor())
    elif step != "bridge_no_processor":
        provider.add_log_record_processor(BatchLogRecordProcessor(_Discard(), max_queue_size=4096))
    if step.startswith("bridge"):
        handler = OtlpLogHandler(provider)
        handler._fast = step == "bridge_shortcut"  # the shortcut is off for every other step anyway
        return handler.emit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return LoggingHandler(logger_provider=provider).emit


def _encoded_processor() -> EncodedLogRecordProcessor:
    from dcm_otel.export.encoded_batches import BatchLimits
    from dcm_otel.export.processors import EncodedLogRecordProcessor

    limits = BatchLimits(1.0, max_queue_size=4096, max_export_batch_size=512, export_timeout=5.0)
    return EncodedLogRecordProcessor(_DiscardEncoded(), limits)


def _one_record(step: str) -> Callable[[], object]:
    """One record of ``step``: a ``LogRecord`` made and emitted, or ``logger.info`` as a view calls it."""
    if not step.startswith("logger"):
        emit = _handler(step)
        return lambda: emit(
            logging.LogRecord("benchmarks.urls", logging.INFO, __file__, 1, "view served", (), None)
        )
    if step == "logger_bridge":
        from dcm_otel._sdk.logs_sdk import LoggerProvider
        from dcm_otel.logs import bridge
        from dcm_otel.providers import _NotFromExporters

        provider = LoggerProvider()
        provider.add_log_record_processor(_encoded_processor())
        bridge.install(provider, _NotFromExporters())
    logging.getLogger("benchmarks").setLevel(logging.INFO)  # as benchmarks/settings.py has it
    return partial(logging.getLogger("benchmarks.urls").info, "view served")


def _emit(step: str, count: int) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    one_record = _one_record(step)
    with TracerProvider().get_tracer(__name__).start_as_current_span("bench"):
        for _ in range(WARMUP + count):
            one_record()
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
    bases = ["record", *(["logger"] if "logger_bridge" in args.steps else [])]
    figures = per_record([*bases, *(step for step in args.steps if step not in bases)])
    print("| step | instructions per record | over the bare record (logger_bridge: over logger) |")
    print("|---|---|---|")
    for step, value in figures.items():
        base = figures["logger" if step == "logger_bridge" else "record"]
        print(f"| {step} | {value:,} | {value - base:+,} |")


if __name__ == "__main__":
    main()
