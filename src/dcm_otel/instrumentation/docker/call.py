"""One Engine API operation in flight: its span, its clock, and what its HTTP exchange reported.

All closing attributes are set in one ``set_attributes`` call and the duration is recorded once, by
whichever comes last: the method's return, its exception, or the end of the stream it returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from time import perf_counter

from opentelemetry.metrics import Histogram
from opentelemetry.trace import Span, StatusCode
from opentelemetry.util.types import AttributeValue

from .attributes import ERROR_TYPE, HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE


def error_type(error: BaseException) -> str:
    """Fully qualified class name: low-cardinality and, unlike the message, free of request data."""
    cls = type(error)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


class TracedCall:
    """Created when an outermost API method starts; finished exactly once."""

    __slots__ = ("_duration", "_metric_attributes", "_span", "_started", "http_method", "status_code")

    def __init__(self, span: Span, duration: Histogram, metric_attributes: dict[str, AttributeValue]) -> None:
        self._span = span
        self._duration = duration
        self._metric_attributes = metric_attributes
        self._started = perf_counter()
        #: Set by the request recorder; the last request of the operation is its own.
        self.http_method: str | None = None
        self.status_code: int | None = None

    def finish(
        self,
        error: BaseException | None = None,
        attributes: Mapping[str, AttributeValue] | None = None,
    ) -> None:
        elapsed = perf_counter() - self._started
        closing: dict[str, AttributeValue] = dict(attributes) if attributes else {}
        if self.http_method is not None:
            closing[HTTP_REQUEST_METHOD] = self.http_method
        if self.status_code is not None:
            closing[HTTP_RESPONSE_STATUS_CODE] = self.status_code
        if error is not None:
            closing[ERROR_TYPE] = self._metric_attributes[ERROR_TYPE] = error_type(error)
            self._span.set_status(StatusCode.ERROR)
        self._span.set_attributes(closing)
        self._span.end()
        self._duration.record(elapsed, self._metric_attributes)
