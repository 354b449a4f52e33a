"""A pull ``MetricReader`` that hands its collection back to the caller instead of keeping it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, MetricReader, MetricsData

# Prometheus shows running totals: every instrument kind is collected cumulatively.
_CUMULATIVE: dict[type, AggregationTemporality] = {
    instrument: AggregationTemporality.CUMULATIVE
    for instrument in (
        Counter,
        UpDownCounter,
        Histogram,
        ObservableCounter,
        ObservableUpDownCounter,
        ObservableGauge,
    )
}


class CumulativeReader(MetricReader):
    """Add it to the ``MeterProvider``; :meth:`collect_metrics` returns what the provider has now.

    ``on_shutdown`` runs when the provider shuts the reader down, while collecting still works: that is
    when the endpoint writes its final snapshot.
    """

    def __init__(self, on_shutdown: Callable[[], None]) -> None:
        super().__init__(preferred_temporality=_CUMULATIVE)
        self._on_shutdown = on_shutdown
        self.lock = threading.Lock()
        self._received: MetricsData | None = None

    def collect_metrics(self) -> MetricsData | None:
        """None until the reader is added to a provider."""
        with self.lock:
            self._received = None
            self.collect()
            received, self._received = self._received, None
        return received

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        self._received = metrics_data

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._on_shutdown()
