"""The four configurations, applied in a fresh process before ``django.setup()``.

A  uninstrumented.
B  django-prometheus: its middleware pair and its DB backend (set in :mod:`benchmarks.settings`).
C  what plain ``opentelemetry-instrument`` gives: the contrib Django instrumentation and the sqlite3
   instrumentor (dbapi wrappers), an SDK with a BatchSpanProcessor and a periodic metric reader.
D  dcm_otel as a user turns it on, with everything of issue 3 (DB spans, per-request query profile,
   N+1 detection, sqlcommenter).

Two ways to end C's and D's pipelines, chosen by ``BENCH_OTLP_ENDPOINT`` in the environment:

- set (the receiver of :mod:`benchmarks.receiver`): traces, metrics and logs leave over OTLP/HTTP. C is
  configured by the SDK's own configurator from ``OTEL_*`` variables, as ``opentelemetry-instrument``
  does (batch span and log processors, a periodic metric reader, the SDK's logging handler on the root
  logger); D by its settings (every signal ``otlp`` to ``otlp_endpoint``, dcm_otel's default exporters).
- unset: spans and metrics go through the real SDK pipeline into exporters that discard, and logs are
  not exported (the method of this benchmark before export was measured).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Sequence

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

NAMES = {
    "A": "uninstrumented",
    "B": "django-prometheus",
    "C": "opentelemetry contrib",
    "D": "dcm_otel",
}
DCM_OTEL = {"db_sqlcommenter": True}
OTLP_ENDPOINT = "BENCH_OTLP_ENDPOINT"
#: JSON object of dcm_otel settings over D's exporting ones (the breakdown's variants, benchmarks.breakdown).
DCM_OTEL_OVERRIDES = "BENCH_DCM_OTEL"


class DiscardingSpanExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class DiscardingMetricExporter(MetricExporter):
    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: object
    ) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: object) -> None:
        return None


def _contrib_discarding() -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(DiscardingSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    reader = PeriodicExportingMetricReader(DiscardingMetricExporter(), export_interval_millis=60_000)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))


def _contrib_exporting(endpoint: str) -> None:
    from opentelemetry.sdk._configuration import _initialize_components

    os.environ.update(
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_LOGS_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED="true",
    )
    with warnings.catch_warnings():  # the SDK's logging handler is deprecated, and still what it installs
        warnings.simplefilter("ignore", DeprecationWarning)
        _initialize_components()


def _contrib() -> None:
    import sqlite3

    from opentelemetry.instrumentation import dbapi
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    endpoint = os.environ.get(OTLP_ENDPOINT)
    if endpoint:
        _contrib_exporting(endpoint)
    else:
        _contrib_discarding()
    DjangoInstrumentor().instrument()
    # What SQLite3Instrumentor does (its 0.66b2 release is not published; dbapi 0.66b2 is).
    for module in (sqlite3, sqlite3.dbapi2):
        # dbapi annotates ``connect_module`` as a callable; it is the module holding ``connect``.
        dbapi.wrap_connect("opentelemetry.instrumentation.sqlite3", module, "connect", "sqlite", {})  # type: ignore[arg-type]


def _dcm_otel() -> None:
    import dcm_otel
    from dcm_otel.providers import span_processor

    endpoint = os.environ.get(OTLP_ENDPOINT)
    if endpoint:
        exporting = {f"{signal}_exporter": "otlp" for signal in ("traces", "metrics", "logs")}
        overrides = json.loads(os.environ.get(DCM_OTEL_OVERRIDES, "{}"))
        dcm_otel.init({**DCM_OTEL, **exporting, "otlp_endpoint": endpoint, **overrides})
        return
    state = dcm_otel.init(DCM_OTEL)
    assert state.telemetry is not None
    # The processor dcm_otel puts in front of its OTLP exporter, with the exporter swapped.
    state.telemetry.tracer_provider.add_span_processor(  # type: ignore[attr-defined]
        span_processor(DiscardingSpanExporter())
    )


APPLY: dict[str, Callable[[], None]] = {
    "A": lambda: None,
    "B": lambda: None,
    "C": _contrib,
    "D": _dcm_otel,
}


def apply(name: str) -> None:
    APPLY[name]()


def flush() -> None:
    """Push out what the global providers hold (a no-op for A and B), so its export is part of the round."""
    from opentelemetry import metrics, trace
    from opentelemetry._logs import get_logger_provider

    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider(), get_logger_provider()):
        force_flush = getattr(provider, "force_flush", None)
        if force_flush is not None:
            force_flush()
