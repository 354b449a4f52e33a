"""The four configurations, applied in a fresh process before ``django.setup()``.

A  uninstrumented.
B  django-prometheus: its middleware pair and its DB backend (set in :mod:`benchmarks.settings`).
C  what plain ``opentelemetry-instrument`` gives: the contrib Django instrumentation and the sqlite3
   instrumentor (dbapi wrappers), an SDK with a BatchSpanProcessor and a periodic metric reader.
D  dcm_otel as a user turns it on, with everything of issue 3 (DB spans, per-request query profile,
   N+1 detection, sqlcommenter).

Spans and metrics of C and D go through the real SDK pipeline; only the exporters discard, so export
work is not counted.
"""

from __future__ import annotations

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


def _contrib() -> None:
    import sqlite3

    from opentelemetry import metrics, trace
    from opentelemetry.instrumentation import dbapi
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(DiscardingSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    reader = PeriodicExportingMetricReader(DiscardingMetricExporter(), export_interval_millis=60_000)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    DjangoInstrumentor().instrument()
    # What SQLite3Instrumentor does (its 0.66b2 release is not published; dbapi 0.66b2 is).
    for module in (sqlite3, sqlite3.dbapi2):
        # dbapi annotates ``connect_module`` as a callable; it is the module holding ``connect``.
        dbapi.wrap_connect("opentelemetry.instrumentation.sqlite3", module, "connect", "sqlite", {})  # type: ignore[arg-type]


def _dcm_otel() -> None:
    import dcm_otel
    from dcm_otel.providers import span_processor

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
