"""Tracer, meter and logger providers with the exporters the config names, sharing one Resource.

When another party (``opentelemetry-instrument`` with another distro, or the application itself) has
already set a global provider, that provider is used as it is and nothing is added to it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import (
    AlwaysOffExemplarFilter,
    AlwaysOnExemplarFilter,
    ExemplarFilter,
    MeterProvider,
    TraceBasedExemplarFilter,
)
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from dcm_otel import logs
from dcm_otel._sdk import logs_api
from dcm_otel._sdk.logs_sdk import (
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    LoggerProvider,
    LogRecordProcessor,
    otlp_log_exporter,
)
from dcm_otel._sdk.proxy_providers import logger_provider_unset, meter_provider_unset
from dcm_otel.config import Config
from dcm_otel.config import ExemplarFilter as ExemplarFilterName
from dcm_otel.logs.sdk_log_limit import limit_export_logs
from dcm_otel.prometheus import PrometheusEndpoint, default_multiprocess_dir
from dcm_otel.telemetry_resource import build_resource
from dcm_otel.trace_explorer.store import TraceStore

logger = logging.getLogger("dcm_otel")

# Exemplars cost a reservoir offer on every measurement (about a tenth of a request's telemetry cost) and
# the Prometheus exposition drops them, so they are off unless asked for.
EXEMPLAR_FILTERS: dict[ExemplarFilterName, type[ExemplarFilter]] = {
    "always_off": AlwaysOffExemplarFilter,
    "trace_based": TraceBasedExemplarFilter,
    "always_on": AlwaysOnExemplarFilter,
}
SPAN_EXPORT_BATCH = 64
LOG_EXPORT_BATCH = 512  # the SDK's default
_SIGNAL_PATHS = {"traces": "/v1/traces", "metrics": "/v1/metrics", "logs": "/v1/logs"}


@dataclass
class Telemetry:
    """What :func:`setup_providers` made or found; ``destinations`` says where each signal goes."""

    tracer_provider: trace.TracerProvider
    meter_provider: metrics.MeterProvider
    logger_provider: logs_api.LoggerProvider
    prometheus: PrometheusEndpoint | None = None
    destinations: dict[str, str] = field(default_factory=dict)
    owned: bool = True
    #: ``shutdown_timeout`` of the config; the runtime updates it when settings apply after the providers.
    shutdown_timeout: float = Config.shutdown_timeout

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush and stop what we own, within ``timeout`` seconds (``shutdown_timeout``) in all; a provider
        someone else set is theirs to stop.

        The SDK's provider shutdowns take no deadline (``force_flush`` ignores its own) and drain the
        queues one export at a time, each with the exporter's full timeout and retries: against a dead or
        black-holed backend that kept a process 7 to 30 s from exiting, until gunicorn killed the worker.
        So the providers flush in parallel daemon threads, and what has not left by the deadline is given
        up rather than hold up the exit.
        """
        if not self.owned:
            return
        providers = (self.tracer_provider, self.meter_provider, self.logger_provider)
        stops = [stop for p in providers if (stop := getattr(p, "shutdown", None)) is not None]
        deadline = self.shutdown_timeout if timeout is None else timeout
        unfinished = _run_with_deadline(stops, deadline)
        if unfinished:
            logger.warning(
                "dcm_otel: telemetry flush at exit gave up after %.1f s with %d provider(s) still exporting; "
                "is the OTLP backend reachable?",
                deadline,
                unfinished,
            )
        if self.prometheus is not None:
            self.prometheus.shutdown()


def _run_with_deadline(calls: Sequence[Callable[[], object]], timeout: float) -> int:
    """Run ``calls`` in parallel daemon threads (an abandoned one cannot hold up the interpreter's exit);
    return how many were still running after ``timeout`` seconds."""
    threads = [threading.Thread(target=call, name="dcm_otel-shutdown", daemon=True) for call in calls]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sum(thread.is_alive() for thread in threads)


def build_sampler(config: Config) -> sampling.Sampler:
    ratio = sampling.TraceIdRatioBased(config.sampler_arg)
    return {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "traceidratio": ratio,
        "parentbased_always_on": sampling.ParentBased(sampling.ALWAYS_ON),
        "parentbased_always_off": sampling.ParentBased(sampling.ALWAYS_OFF),
        "parentbased_traceidratio": sampling.ParentBased(ratio),
    }[config.sampler]


def _otlp_kwargs(config: Config, signal: str) -> dict[str, Any]:
    """Only what the settings/env gave us, and none that a per-signal ``OTEL_EXPORTER_OTLP_<SIGNAL>_*``
    variable overrides: the exporters read those themselves (an argument would win over them)."""
    kwargs: dict[str, Any] = {"timeout": config.otlp_timeout}
    if config.otlp_headers and not _signal_env(signal, "HEADERS"):
        kwargs["headers"] = dict(config.otlp_headers)
    http = config.otlp_protocol == "http/protobuf"
    if config.otlp_endpoint:
        kwargs["endpoint"] = config.otlp_endpoint + (_SIGNAL_PATHS[signal] if http else "")
        if not http:
            kwargs["insecure"] = config.otlp_endpoint.startswith("http://")
    if http:
        from dcm_otel.otlp_http_session import exporter_session

        if (session := exporter_session()) is not None:
            kwargs["session"] = session
    kwargs.update(_tls_kwargs(config, signal, http))
    return kwargs


_TLS_SUFFIXES = ("CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY")


def _tls_kwargs(config: Config, signal: str, http: bool) -> dict[str, Any]:
    """The settings' TLS files, unless a per-signal variable names that signal's own."""
    paths = (config.otlp_certificate, config.otlp_client_certificate, config.otlp_client_key)
    if not any(paths) or any(_signal_env(signal, suffix) for suffix in _TLS_SUFFIXES):
        return {}
    if http:
        names = ("certificate_file", "client_certificate_file", "client_key_file")
        return dict(zip(names, paths, strict=True))
    return {"credentials": _grpc_credentials(dict(zip(_TLS_SUFFIXES, paths, strict=True)))}


def _signal_env(signal: str, suffix: str) -> bool:
    return bool(os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_{suffix}", "").strip())


def _grpc_credentials(files: dict[str, str | None]) -> Any:
    """The gRPC exporters take TLS files only from the environment; from settings they need credentials."""
    import grpc

    def read(suffix: str) -> bytes | None:
        path = files.get(suffix)
        return Path(path).read_bytes() if path else None

    return grpc.ssl_channel_credentials(read("CERTIFICATE"), read("CLIENT_KEY"), read("CLIENT_CERTIFICATE"))


def _otlp_exporter(config: Config, signal: str) -> Any:
    """Import lazily: the gRPC stack is heavy in memory and is only loaded when asked for."""
    if config.otlp_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc import metric_exporter as grpc_metrics
        from opentelemetry.exporter.otlp.proto.grpc import trace_exporter as grpc_traces

        classes: dict[str, Any] = {
            "traces": grpc_traces.OTLPSpanExporter,
            "metrics": grpc_metrics.OTLPMetricExporter,
            "logs": otlp_log_exporter("grpc"),
        }
    else:
        from opentelemetry.exporter.otlp.proto.http import metric_exporter as http_metrics
        from opentelemetry.exporter.otlp.proto.http import trace_exporter as http_traces

        classes = {
            "traces": http_traces.OTLPSpanExporter,
            "metrics": http_metrics.OTLPMetricExporter,
            "logs": otlp_log_exporter("http/protobuf"),
        }
        if config.otlp_encoder == "fast":
            from dcm_otel._sdk import otlp_http_encoding

            classes[signal] = otlp_http_encoding.exporter_class(signal) or classes[signal]
    return classes[signal](**_otlp_kwargs(config, signal))


def _describe_otlp(config: Config, signal: str) -> str:
    where = config.otlp_endpoint or f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT"
    return f"otlp {config.otlp_protocol} {where}"


def span_processor(exporter: SpanExporter) -> BatchSpanProcessor:
    """A batch processor that hands spans over in batches of 64 (the SDK's default is 512), unless
    ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE`` says otherwise: for the exporters that take span objects (console,
    gRPC, the official encoder); dcm_otel's OTLP/HTTP encoder has its own processor, which keeps bytes.

    A span waiting in the queue outlives a few young-generation collections and gets promoted to the
    old generation, whose full collections walk the whole heap of a Django process: with 512-span batches
    that garbage collection cost as much as making the span (docs/benchmarks.md). Smaller batches let spans
    die young, for a few more export calls.
    """
    return BatchSpanProcessor(exporter, max_export_batch_size=_batch_size("BSP", SPAN_EXPORT_BATCH))


def _batch_size(processor: str, default: int) -> int | None:
    """``default``, but never above a smaller ``OTEL_<processor>_MAX_QUEUE_SIZE`` (the SDK refuses a batch
    larger than its queue); None when ``OTEL_<processor>_MAX_EXPORT_BATCH_SIZE`` is set (the SDK reads it)."""
    if os.environ.get(f"OTEL_{processor}_MAX_EXPORT_BATCH_SIZE", "").strip():
        return None
    try:
        return min(default, int(os.environ.get(f"OTEL_{processor}_MAX_QUEUE_SIZE", default)))
    except ValueError:  # reported by the configuration check
        return default


def _push_exporters(
    config: Config, signal: str, console: Callable[[], Any], described: list[str]
) -> list[Any]:
    """The OTLP and console exporters that ``<signal>_exporter`` names, in its order; described as made."""
    exporters: list[Any] = []
    for name in getattr(config, f"{signal}_exporter"):
        if name == "otlp":
            exporters.append(_otlp_exporter(config, signal))
            described.append(_describe_otlp(config, signal))
        elif name == "console":
            exporters.append(console())
            described.append("console")
    return exporters


def _tracer_provider(config: Config, resource: Resource, described: list[str]) -> TracerProvider:
    provider = TracerProvider(resource=resource, sampler=build_sampler(config))
    for processor in logs.span_processors(config):  # masking first: before any exporter sees a span
        provider.add_span_processor(processor)
    provider.add_span_processor(TraceStore())  # on or off by the settings' config, once Django is ready
    for exporter in _push_exporters(config, "traces", ConsoleSpanExporter, described):
        provider.add_span_processor(_exporting_processor(exporter))
    return provider


def _exporting_processor(exporter: SpanExporter) -> SpanProcessor:
    """dcm_otel's encoder's own processor for its OTLP/HTTP exporter (spans encoded as they end, shipped
    in batches of ``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``, 512 by default); any other exporter behind
    :func:`span_processor`."""
    from dcm_otel._sdk import otlp_http_encoding

    return otlp_http_encoding.span_processor(exporter) or span_processor(exporter)


def _metric_readers(
    config: Config, described: list[str]
) -> tuple[list[MetricReader], PrometheusEndpoint | None]:
    readers: list[MetricReader] = []
    prometheus = None
    if "prometheus" in config.metrics_exporter:
        prometheus = PrometheusEndpoint(config.multiprocess_dir or default_multiprocess_dir())
        readers.append(prometheus.reader)
        described.append(f"prometheus {config.metrics_path}")
    interval_ms = config.metric_export_interval * 1000
    for exporter in _push_exporters(config, "metrics", ConsoleMetricExporter, described):
        readers.append(PeriodicExportingMetricReader(exporter, export_interval_millis=interval_ms))
    return readers, prometheus


def _meter_provider(
    config: Config, resource: Resource, described: list[str]
) -> tuple[MeterProvider, PrometheusEndpoint | None]:
    readers, prometheus = _metric_readers(config, described)
    provider = MeterProvider(
        resource=resource,
        metric_readers=readers,
        exemplar_filter=EXEMPLAR_FILTERS[config.metrics_exemplar_filter](),
    )
    return provider, prometheus


def _logger_provider(config: Config, resource: Resource, described: list[str]) -> LoggerProvider:
    provider = LoggerProvider(resource=resource)
    for exporter in _push_exporters(config, "logs", ConsoleLogRecordExporter, described):
        provider.add_log_record_processor(_exporting_log_processor(exporter))
    return provider


def _exporting_log_processor(exporter: Any) -> LogRecordProcessor:
    """dcm_otel's encoder's own processor for its OTLP/HTTP exporter; any other exporter behind the SDK's
    batch processor."""
    from dcm_otel._sdk import otlp_http_encoding

    batch = _batch_size("BLRP", LOG_EXPORT_BATCH)
    return otlp_http_encoding.log_processor(exporter) or BatchLogRecordProcessor(
        exporter, max_export_batch_size=batch
    )


def _summary(described: Sequence[str]) -> str:
    return " + ".join(described) or "none"


def existing_providers() -> Telemetry | None:
    """The global providers if some other party set all it needs already, else None."""
    tracer_provider = trace.get_tracer_provider()
    meter_provider = metrics.get_meter_provider()
    logger_provider = logs_api.get_logger_provider()
    if isinstance(tracer_provider, trace.ProxyTracerProvider) and meter_provider_unset(meter_provider):
        return None
    where = f"providers set before dcm_otel ({type(tracer_provider).__name__})"
    return Telemetry(
        tracer_provider,
        meter_provider,
        logger_provider,
        destinations={"traces": where, "metrics": where, "logs": where},
        owned=False,
    )


def setup_providers(config: Config) -> Telemetry:
    """Create the providers and exporters, or adopt existing global ones; set ours globally."""
    found = existing_providers()
    if found is not None:
        return found
    resource = build_resource(config)
    traces: list[str] = []
    metric_destinations: list[str] = []
    logs: list[str] = []
    tracer_provider = _tracer_provider(config, resource, traces)
    meter_provider, prometheus = _meter_provider(config, resource, metric_destinations)
    logger_provider = _logger_provider(config, resource, logs)
    limit_export_logs()
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    if logger_provider_unset(logs_api.get_logger_provider()):
        logs_api.set_logger_provider(logger_provider)
    if logs:
        _bridge_python_logging(logger_provider)
    return Telemetry(
        tracer_provider,
        meter_provider,
        logger_provider,
        prometheus=prometheus,
        destinations={
            "traces": _summary(traces),
            "metrics": _summary(metric_destinations),
            "logs": _summary(logs),
        },
        shutdown_timeout=config.shutdown_timeout,
    )


class _NotFromExporters(logging.Filter):
    """The exporters' own complaints must not be exported through themselves (a feedback loop)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("opentelemetry")


def _bridge_python_logging(logger_provider: LoggerProvider) -> None:
    """Records reach OTLP with the JSON lines' fields, masked the same way (dcm_otel.logs)."""
    from dcm_otel.logs import bridge

    bridge.install(logger_provider, _NotFromExporters())
