"""``opentelemetry-exporter-prometheus``'s translation of ``MetricsData`` into Prometheus metrics, which
the exporter keeps private (it is pinned exactly in pyproject.toml, so a change shows at the upgrade)."""

from opentelemetry.exporter.prometheus import _CustomCollector as PrometheusCollector

__all__ = ["PrometheusCollector"]
