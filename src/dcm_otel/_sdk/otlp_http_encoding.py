"""Whether the OTLP/HTTP span and log exporters may use dcm_otel's encoder (``otlp_encoder: "fast"``).

The exporters (:mod:`dcm_otel._sdk.otlp_http_exporters`) reuse the official ones' private HTTP client,
size limit, shutdown flag and metrics. Checked once, when the first OTLP/HTTP exporter is made (so a
process without OTLP never loads the exporter stack): those must be there, and a probe span and log
record with every kind of field set must decode from our bytes to the official encoder's messages.
Otherwise the official exporters are used as they are. Our span exporter comes with
:func:`span_processor` and the log one with :func:`log_processor`, which encode each item as it ends or
is emitted (dcm_otel.export.processors).
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING

from dcm_otel._sdk.feature_check import FeatureCheck

if TYPE_CHECKING:
    from dcm_otel._sdk.otlp_http_exporters import LogExporter, SpanExporter
    from dcm_otel.export.processors import EncodedLogRecordProcessor, EncodedSpanProcessor


def _probe() -> None:
    from dcm_otel._sdk import otlp_http_exporters

    otlp_http_exporters.check()


FEATURE = FeatureCheck("OTLP encoder", "the official OTLP encoder is used", _probe)


def exporter_class(signal: str) -> type[SpanExporter] | type[LogExporter] | None:
    """Our exporter for ``signal`` when the feature check passes; None for metrics (exported once a period,
    they keep the official encoder) or when the check fails (take the official exporter)."""
    if signal not in ("traces", "logs") or not FEATURE.available():
        return None
    from dcm_otel._sdk import otlp_http_exporters

    return otlp_http_exporters.SpanExporter if signal == "traces" else otlp_http_exporters.LogExporter


def span_processor(exporter: object) -> EncodedSpanProcessor | None:
    """The processor that encodes spans as they end, for our span exporter; None for any other."""
    exporters = _exporters()
    if exporters is None or not isinstance(exporter, exporters.SpanExporter):
        return None
    from dcm_otel.export.processors import EncodedSpanProcessor

    return EncodedSpanProcessor(exporter, exporters.batch_limits(exporters.BatchSpanProcessor))


def log_processor(exporter: object) -> EncodedLogRecordProcessor | None:
    """The processor that encodes log records as they are emitted, for our log exporter; None for any
    other."""
    exporters = _exporters()
    if exporters is None or not isinstance(exporter, exporters.LogExporter):
        return None
    from dcm_otel.export.processors import EncodedLogRecordProcessor

    return EncodedLogRecordProcessor(exporter, exporters.batch_limits(exporters.BatchLogRecordProcessor))


def _exporters() -> ModuleType | None:
    """Our exporters module if some exporter of ours was made (a process that made none has none of ours,
    and must not import the exporter stack here)."""
    return sys.modules.get("dcm_otel._sdk.otlp_http_exporters")
