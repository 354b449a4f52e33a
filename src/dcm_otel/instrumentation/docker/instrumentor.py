"""``DockerInstrumentor``: wraps the low-level ``docker.api.client.APIClient`` methods with wrapt."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import wrapt
from docker.api.client import APIClient
from opentelemetry import metrics
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.semconv.schemas import Schemas

from dcm_otel.instrumentation import config_of
from dcm_otel.instrumentation.hooks import hook_of

from .attributes import OPERATION_DURATION
from .deferred import Materializer
from .endpoint import EndpointCache
from .operations import OPERATIONS, BoundOperation, Operation
from .wrappers import DockerHooks, OperationWrapper, RequestRecorder

_SCOPE = "dcm_otel.instrumentation.docker"
_INSTRUMENTS = ("docker >= 6.0",)
_REQUEST_METHODS = {"_get": "GET", "_post": "POST", "_put": "PUT", "_delete": "DELETE"}
# Engine calls range from a sub-millisecond ping to a pull or wait that lasts minutes.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


def _methods() -> Iterator[tuple[type, str, Operation]]:
    """Each tabled operation with the mixin class that defines it, so unwrapping restores that class."""
    for name, operation in OPERATIONS.items():
        owner = next((cls for cls in APIClient.__mro__ if name in vars(cls)), None)
        if owner is not None:  # older SDKs lack a few methods
            yield owner, name, operation


class DockerInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Spans and the ``dcm.docker.client.operation.duration`` histogram for every Docker SDK call.

    ``instrument(tracer_provider=..., meter_provider=..., docker_request_hook=..., docker_response_hook=...)``
    like the contrib instrumentors; without them the global providers and the config's hooks are used.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def _instrument(self, **kwargs: Any) -> None:
        from dcm_otel import __version__

        schema_url = Schemas.V1_26_0.value
        meter = metrics.get_meter(_SCOPE, __version__, kwargs.get("meter_provider"), schema_url=schema_url)
        duration = meter.create_histogram(
            OPERATION_DURATION,
            unit="s",
            description="Duration of Docker Engine API operations, until the end of a returned stream.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self._materializer = Materializer(
            (_SCOPE, __version__, schema_url), kwargs.get("tracer_provider"), duration
        )
        endpoints = EndpointCache()
        config = config_of(kwargs)
        hooks: DockerHooks | None = DockerHooks(
            hook_of(kwargs, config, "docker_request_hook"), hook_of(kwargs, config, "docker_response_hook")
        )
        if hooks == (None, None):
            hooks = None
        for owner, name, operation in _methods():
            bound = BoundOperation(operation, vars(owner)[name])
            wrapper = OperationWrapper(bound, self._materializer, endpoints, hooks)
            wrapt.wrap_function_wrapper(owner, name, wrapper)
        for name, http_method in _REQUEST_METHODS.items():
            wrapt.wrap_function_wrapper(APIClient, name, RequestRecorder(http_method))

    def _uninstrument(self, **kwargs: Any) -> None:
        for owner, name, _ in _methods():
            unwrap(owner, name)
        for name in _REQUEST_METHODS:
            unwrap(APIClient, name)
        self._materializer.close()
