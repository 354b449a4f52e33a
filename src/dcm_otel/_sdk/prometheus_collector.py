"""``opentelemetry-exporter-prometheus``'s translation of ``MetricsData`` into Prometheus metrics, which
the exporter keeps private (the same name in every release pyproject.toml allows; ``nox -s compat`` runs the
/metrics tests on the oldest and the newest)."""

from opentelemetry.exporter.prometheus import _CustomCollector as PrometheusCollector

__all__ = ["PrometheusCollector"]
