"""One trace, one metric point and one log record, sent over OTLP/HTTP with SDK providers of their own (the
process's global providers are left alone), as any instrumented app would send them to a collector."""

from __future__ import annotations

import time
from dataclasses import dataclass

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

SERVICE = "collector-test"
SPAN = "GET /jobs/<uuid:pk>/"
METRIC = "dcm.job.transitions"
LOG = "job launched"


@dataclass(frozen=True)
class Sent:
    trace_id: str


def send_sample(otlp_http: str) -> Sent:
    """Export the sample to the collector at `otlp_http` and flush; returns the trace id it carries."""
    resource = Resource.create({"service.name": SERVICE, "service.instance.id": "collector-test-1"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(f"{otlp_http}/v1/traces")))
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(f"{otlp_http}/v1/metrics"), export_interval_millis=3_600_000
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        SimpleLogRecordProcessor(OTLPLogExporter(f"{otlp_http}/v1/logs"))
    )
    try:
        with tracer_provider.get_tracer(__name__).start_as_current_span(SPAN) as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            meter_provider.get_meter(__name__).create_counter(METRIC).add(1, {"dcm.job.status": "running"})
            logger_provider.get_logger(__name__).emit(
                timestamp=time.time_ns(),
                severity_number=SeverityNumber.WARN,
                severity_text="WARNING",
                body=LOG,
            )
    finally:
        for provider in (tracer_provider, meter_provider, logger_provider):
            provider.shutdown()  # flushes what is pending
    return Sent(trace_id)
