"""Prometheus text from OpenTelemetry ``MetricsData`` by ``opentelemetry-exporter-prometheus``'s own
translation (names, units, ``_total``, ``target_info``, label sanitising): the output equals the exporter's.

The exporter keeps that translation private (:mod:`dcm_otel._sdk.prometheus_collector`). It is fed one
``MetricsData`` per scrape through a private ``CollectorRegistry``: nothing is registered globally and no
port is opened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opentelemetry.sdk.metrics.export import MetricsData
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from dcm_otel._sdk.prometheus_collector import PrometheusCollector

# Attributes that tell one process from another; the merged output speaks for the whole server
# (process.command and process.owner too: setproctitle or a privilege drop can tell workers apart).
PER_PROCESS_RESOURCE_ATTRIBUTES = frozenset(
    (
        "service.instance.id", "process.pid", "process.parent_pid", "process.creation.time",
        "process.command", "process.owner",
    )
)  # fmt: skip

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Encoder = Callable[[CollectorRegistry], bytes]


def negotiate(accept: str | None) -> tuple[Encoder, str]:
    """The text format 0.0.4 unless the scraper asks for OpenMetrics (prometheus_client's negotiation)."""
    try:
        return choose_encoder(accept or "")
    except Exception:  # a malformed Accept header must not break the scrape
        return generate_latest, TEXT_CONTENT_TYPE


def encode(metrics_data: MetricsData, encoder: Encoder) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_OneCollection(metrics_data))
    return encoder(registry)


class _OneCollection(Collector):
    """Hands one ``MetricsData`` to the exporter's translation when the registry collects."""

    def __init__(self, metrics_data: MetricsData) -> None:
        self._metrics_data = metrics_data

    def collect(self) -> Iterable[Metric]:
        translation = PrometheusCollector()
        translation.add_metrics_data(self._metrics_data)
        return translation.collect()


def server_resource(metrics_data: MetricsData | None) -> Resource:
    """The process's resource without what differs between the workers of one server."""
    if metrics_data is None or not metrics_data.resource_metrics:
        return Resource.get_empty()
    resource = metrics_data.resource_metrics[0].resource
    attributes = {
        key: value for key, value in resource.attributes.items() if key not in PER_PROCESS_RESOURCE_ATTRIBUTES
    }
    return Resource(attributes, resource.schema_url)
