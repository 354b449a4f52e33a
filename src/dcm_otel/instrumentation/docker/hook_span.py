"""The span a Docker hook is given.

A Docker call's SDK span is made after the call, off the caller's thread (:mod:`.deferred`), yet the hooks
run on the caller's thread, during the call, where the arguments and the result are at hand. So a hook
gets a :class:`RecordedSpan`: it takes what the hook does to a span (attributes, events, status, name,
exceptions) and :meth:`RecordedSpan.replay` does the same to the real span when it is made, before it
ends. Its context is the one the real span will have.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN_CONTEXT, SpanContext, Status, StatusCode
from opentelemetry.util import types

logger = logging.getLogger("dcm_otel")
#: Calls kept per span; a hook doing more (in a loop, say) has the rest dropped, so memory stays bounded.
MAX_CALLS = 128


class RecordedSpan(trace.Span):
    """Records span operations for :meth:`replay`; never ended by a hook (the instrumentation ends it)."""

    __slots__ = ("_calls", "_context")

    def __init__(self, context: SpanContext | None) -> None:
        self._context = context or INVALID_SPAN_CONTEXT
        self._calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def _record(self, method: str, *args: Any, **kwargs: Any) -> None:
        if len(self._calls) < MAX_CALLS:
            self._calls.append((method, args, kwargs))

    def replay(self, span: trace.Span) -> None:
        """Do to ``span`` what the hooks did to this one; a call the SDK refuses is skipped alone."""
        for method, args, kwargs in self._calls:
            try:
                getattr(span, method)(*args, **kwargs)
            except Exception:
                logger.debug("dcm_otel: a Docker hook's %s could not be replayed", method, exc_info=True)

    def end(self, end_time: int | None = None) -> None:
        return None

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return True

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        self._record("set_attributes", dict(attributes))

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        self._record("set_attribute", key, value)

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        self._record("add_event", name, dict(attributes or {}), timestamp)

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        self._record("add_link", context, dict(attributes or {}))

    def update_name(self, name: str) -> None:
        self._record("update_name", name)

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        self._record("set_status", status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        self._record("record_exception", exception, dict(attributes or {}), timestamp, escaped)
