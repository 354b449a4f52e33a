"""The two wrapt wrappers: one per Engine API method (span + duration), one per HTTP verb (method, status).

Only the outermost API method of a call makes a span: methods that call other API methods (``logs``
inspects the container first, ``create_container`` calls ``create_container_from_config``) run inside
it without spans of their own. While the span is current, HTTP instrumentations (requests, urllib3)
are suppressed, so each Engine operation shows up exactly once.

The user's Docker hooks run on the caller's thread: ``docker_request_hook(span, operation, args, kwargs)``
before the Engine call, ``docker_response_hook(span, operation, result, error)`` when the method returns
(``result`` the return value, a stream unread, or None) or raises (``error`` the exception, else None). Their
``span`` is a :class:`~.hook_span.RecordedSpan`, replayed on the real span when it is made.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from opentelemetry import context, trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import NonRecordingSpan
from opentelemetry.util.types import AttributeValue

from dcm_otel._sdk.suppression import SUPPRESS_HTTP_INSTRUMENTATION_KEY
from dcm_otel.instrumentation.hooks import run_hook
from dcm_otel.settings_parsing import Hook

from .attributes import DOCKER_OPERATION, SERVER_ADDRESS
from .call import TracedCall
from .deferred import Materializer
from .endpoint import EndpointCache
from .hook_span import RecordedSpan
from .operations import BoundOperation
from .streams import STREAM_TYPES, TracedStream

_ACTIVE_CALL = context.create_key("dcm_otel.docker.call")

Wrapped = Callable[..., Any]


class DockerHooks(NamedTuple):
    """The user's ``docker_request_hook`` and ``docker_response_hook``; either may be None."""

    request: Hook | None
    response: Hook | None


class OperationWrapper:
    """Wraps one ``APIClient`` method: the data of a CLIENT span and a duration for each outermost call."""

    __slots__ = (
        "_endpoints",
        "_hooks",
        "_materializer",
        "_operation",
        "_operation_attributes",
        "_span_name",
    )

    def __init__(
        self,
        operation: BoundOperation,
        materializer: Materializer,
        endpoints: EndpointCache,
        hooks: DockerHooks | None = None,
    ) -> None:
        self._operation = operation
        self._hooks = hooks
        self._materializer = materializer
        self._endpoints = endpoints
        self._span_name = f"docker {operation.name}"
        self._operation_attributes: dict[str, AttributeValue] = {DOCKER_OPERATION: operation.name}

    def __call__(self, wrapped: Wrapped, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if context.get_value(_ACTIVE_CALL) is not None or not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        endpoint = self._endpoints(instance)
        parent = context.get_current()
        call = TracedCall(
            self._materializer,
            self._span_name,
            {
                **self._operation_attributes,
                **endpoint.span_attributes,
                **self._operation.subject(args, kwargs),
            },
            parent,
            {DOCKER_OPERATION: self._operation.name, SERVER_ADDRESS: endpoint.address},
        )
        current = parent
        if call.reservation is not None:
            current = trace.set_span_in_context(NonRecordingSpan(call.reservation), parent)
        token = context.attach(
            context.set_value(
                SUPPRESS_HTTP_INSTRUMENTATION_KEY, True, context.set_value(_ACTIVE_CALL, call, current)
            )
        )
        hooks = self._hooks
        try:
            if hooks is not None:
                call.hooked = RecordedSpan(call.reservation)
                run_hook(
                    "docker_request_hook", hooks.request, call.hooked, self._operation.name, args, kwargs
                )
            result = wrapped(*args, **kwargs)
        except BaseException as error:
            if hooks is not None:
                run_hook(
                    "docker_response_hook", hooks.response, call.hooked, self._operation.name, None, error
                )
            call.finish(error)
            raise
        else:
            if hooks is not None:
                run_hook(
                    "docker_response_hook", hooks.response, call.hooked, self._operation.name, result, None
                )
            if isinstance(result, STREAM_TYPES):
                return TracedStream(result, call)
            call.finish(attributes=self._operation.result_attributes(result))
            return result
        finally:
            context.detach(token)


class RequestRecorder:
    """Wraps ``APIClient._get``/``_post``/``_put``/``_delete``: the requests of all API methods but one.

    ``attach_socket`` posts through ``requests`` directly; its span has no HTTP method or status.
    """

    __slots__ = ("_method",)

    def __init__(self, method: str) -> None:
        self._method = method

    def __call__(
        self, wrapped: Wrapped, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> Any:
        call = context.get_value(_ACTIVE_CALL)
        if not isinstance(call, TracedCall):
            return wrapped(*args, **kwargs)
        call.http_method = self._method
        response = wrapped(*args, **kwargs)
        call.status_code = response.status_code
        return response
