"""One Engine API operation in flight: what its span and duration point will be made of.

Nothing of the SDK runs here: :meth:`TracedCall.finish` hands the call to the
:class:`~.deferred.Materializer`, once, by whichever comes last: the method's return, its exception, or
the end of the stream it returned. The materializer is known here by what a call asks of it
(:class:`Sink`), so this module does not import the one that imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from time import time_ns
from typing import Protocol

from opentelemetry.context import Context
from opentelemetry.trace import SpanContext
from opentelemetry.util.types import AttributeValue

from .attributes import ERROR_TYPE, HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE
from .hook_span import RecordedSpan
from .subjects import Attributes


class Sink(Protocol):
    """What a call needs of the :class:`~.deferred.Materializer`."""

    def reserve(self, parent: Context) -> SpanContext | None: ...

    def submit(self, call: TracedCall) -> None: ...


def error_type(error: BaseException) -> str:
    """Fully qualified class name: low-cardinality and, unlike the message, free of request data."""
    cls = type(error)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


class TracedCall:
    """Created when an outermost API method starts; finished exactly once, then read by the materializer."""

    __slots__ = (
        "_materializer",
        "attributes",
        "end_ns",
        "failed",
        "hooked",
        "http_method",
        "metric_attributes",
        "name",
        "parent",
        "reservation",
        "start_ns",
        "status_code",
    )

    def __init__(
        self,
        materializer: Sink,
        name: str,
        attributes: Attributes,
        parent: Context,
        metric_attributes: Attributes,
    ) -> None:
        self._materializer = materializer
        self.name = name
        self.attributes = attributes
        self.parent = parent
        self.metric_attributes = metric_attributes
        #: The context of the span this call will have, current while it runs (None: not an SDK tracer).
        self.reservation: SpanContext | None = materializer.reserve(parent)
        self.failed = False
        #: Set by the request recorder; the last request of the operation is its own.
        self.http_method: str | None = None
        self.status_code: int | None = None
        #: What the Docker hooks did to their span, replayed on the real one (None: no hook configured).
        self.hooked: RecordedSpan | None = None
        self.end_ns = 0
        self.start_ns = time_ns()

    def finish(
        self,
        error: BaseException | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> None:
        self.end_ns = time_ns()
        span_attributes = self.attributes
        if attributes:
            span_attributes.update(attributes)
        if self.http_method is not None:
            span_attributes[HTTP_REQUEST_METHOD] = self.http_method
        if self.status_code is not None:
            span_attributes[HTTP_RESPONSE_STATUS_CODE] = self.status_code
        if error is not None:
            self.failed = True
            span_attributes[ERROR_TYPE] = self.metric_attributes[ERROR_TYPE] = error_type(error)
        self._materializer.submit(self)
