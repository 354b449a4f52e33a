"""The SDK's own processor metrics (``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED``) for dcm_otel's encoding
processors: ``otel.sdk.processor.{span,log}.processed``, ``.queue.size`` and ``.queue.capacity``, made by
the SDK's helper, so that names, units and attributes are exactly those of the batch processors they
replace (a user counting spans with them sees no difference). The helper is private (SDK 1.45+): without
it, no processor metrics, said once at startup; the encoding processors need SDK 1.45 anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

from opentelemetry.metrics import get_meter_provider

from dcm_otel._sdk.feature_check import FeatureCheck


class ProcessorMetrics(Protocol):
    def register_queue_size(self, get_queue_size: Callable[[], int]) -> None: ...

    def drop_items(self, count: int, error_type: str = "queue_full") -> None: ...

    def finish_items(self, count: int) -> None: ...


class _NoMetrics:
    def register_queue_size(self, get_queue_size: Callable[[], int]) -> None:
        return None

    def drop_items(self, count: int, error_type: str = "queue_full") -> None:
        return None

    def finish_items(self, count: int) -> None:
        return None


def _probe() -> None:
    from opentelemetry.sdk._shared_internal._processor_metrics import create_processor_metrics
    from opentelemetry.sdk.environment_variables._internal import parse_boolean_environment_variable
    from opentelemetry.semconv._incubating.attributes.otel_attributes import OtelComponentTypeValues

    _ = (create_processor_metrics, parse_boolean_environment_variable)
    _ = (OtelComponentTypeValues.BATCHING_SPAN_PROCESSOR, OtelComponentTypeValues.BATCHING_LOG_PROCESSOR)


FEATURE = FeatureCheck(
    "processor metrics", "the encoding processors record no otel.sdk.processor.* metrics", _probe
)


def processor_metrics(signal: Literal["traces", "logs"], capacity: int) -> ProcessorMetrics:
    """The batch processor's metrics for ``signal``, recorded only when the SDK's variable enables them."""
    if not FEATURE.available():
        return _NoMetrics()
    from opentelemetry.sdk._shared_internal._processor_metrics import create_processor_metrics
    from opentelemetry.sdk.environment_variables import OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED
    from opentelemetry.sdk.environment_variables._internal import parse_boolean_environment_variable
    from opentelemetry.semconv._incubating.attributes.otel_attributes import OtelComponentTypeValues

    component = (
        OtelComponentTypeValues.BATCHING_SPAN_PROCESSOR
        if signal == "traces"
        else OtelComponentTypeValues.BATCHING_LOG_PROCESSOR
    )
    return create_processor_metrics(
        signal,
        component,
        get_meter_provider(),
        capacity=capacity,
        enabled=parse_boolean_environment_variable(OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED),
    )
