"""The tracer provider's span processors as :class:`~dcm_otel._sdk.span_starter.SpanStarter`'s spans call
them: without the SDK base class's no-op methods, and without the finished span's copy when every processor
is one of dcm_otel's that only reads the span.

The provider's ``SynchronousMultiSpanProcessor`` calls ``on_start``, ``_on_ending`` and ``on_end`` of every
processor for every span, most of them ``SpanProcessor``'s empty ones, and ``_Span.end`` hands ``on_end`` a
``ReadableSpan`` copy made for the processors to keep. A :class:`Chain` is made from the provider's
processor tuple and calls only the methods a processor overrides; when all of them are registered with
:func:`reads_only` (they read the ended span and keep it, if at all, read-only), the span is a
:class:`SharedSpan`, which hands itself to ``on_end`` (an ended span refuses every change). A processor
added to the provider while a span is open makes that span go through the provider's own processor at its
end, with a copy, as the SDK would. Checked once: the multi-processor must hold its processors in a
tuple, and ``_Span.end`` must hand ``on_end`` what ``_readable_span`` returns.
"""

from __future__ import annotations

from typing import Any, TypeVar

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, SynchronousMultiSpanProcessor
from opentelemetry.trace import SpanContext

from dcm_otel._sdk.feature_check import FeatureCheck

try:
    from opentelemetry.sdk.trace import _Span
except ImportError as error:  # the probe reports it
    _import_error: Exception | None = error
    _Span = object  # type: ignore[assignment,misc]
else:
    _import_error = None

_READS_ONLY: set[type[SpanProcessor]] = set()
Processor = TypeVar("Processor", bound=type[SpanProcessor])


def reads_only(processor: Processor) -> Processor:
    """Class decorator: ``processor`` only reads the ended span, so it may be handed the span itself."""
    _READS_ONLY.add(processor)
    return processor


def _overrides(processor: SpanProcessor, name: str) -> bool:
    """Whether ``processor.name`` is anything but ``SpanProcessor``'s no-op (an instance's own included)."""
    method = getattr(processor, name, None)
    return getattr(method, "__func__", None) is not getattr(SpanProcessor, name, None)


class Chain(SpanProcessor):
    """The processors of ``multi`` as they are now (``processors``): the methods each one overrides."""

    def __init__(self, multi: Any, processors: tuple[SpanProcessor, ...]) -> None:
        self.processors = processors
        self._multi = multi
        self._starts = tuple(p.on_start for p in processors if _overrides(p, "on_start"))
        self._endings = tuple(p._on_ending for p in processors if _overrides(p, "_on_ending"))
        self._ends = tuple(p.on_end for p in processors if _overrides(p, "on_end"))
        #: Whether the span may hand itself to ``on_end``: dcm_otel's reading processors only.
        self.shares = all(type(p) in _READS_ONLY for p in processors)

    def current(self) -> bool:
        """Whether the provider still has the processors this chain was made from."""
        return self._multi._span_processors is self.processors

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for start in self._starts:
            start(span, parent_context=parent_context)

    def _on_ending(self, span: Span) -> None:
        if self._multi._span_processors is not self.processors:
            self._multi._on_ending(span)
            return
        for ending in self._endings:
            ending(span)

    def on_end(self, span: ReadableSpan) -> None:
        if self._multi._span_processors is not self.processors:
            self._multi.on_end(span)
            return
        for end in self._ends:
            end(span)


class SharedSpan(_Span):
    """A ``_Span`` whose processors are all :func:`reads_only` ones: it is itself the ended span they get."""

    def _readable_span(self) -> ReadableSpan:
        chain: Any = self._span_processor
        if chain.current():
            return self
        return super()._readable_span()


def chain_of(multi: Any, last: Chain | None) -> Chain | None:
    """The chain of ``multi``'s processors (``last`` while they are the same), or None to use ``multi``."""
    if type(multi) is not SynchronousMultiSpanProcessor:
        return None
    processors = multi._span_processors
    if last is not None and last.processors is processors:
        return last
    return Chain(multi, processors)


def span_class(chain: Chain | None) -> type[Any]:
    """The class of a span started with ``chain``'s processors."""
    return SharedSpan if chain is not None and chain.shares else _Span


def _probe() -> None:
    if _import_error is not None:
        raise _import_error
    multi = SynchronousMultiSpanProcessor()  # type: ignore[no-untyped-call]
    if not isinstance(multi._span_processors, tuple):
        raise TypeError("SynchronousMultiSpanProcessor keeps its processors elsewhere")

    @reads_only
    class Receiver(SpanProcessor):
        def __init__(self) -> None:
            self.ended: list[ReadableSpan] = []

        def on_end(self, span: ReadableSpan) -> None:
            self.ended.append(span)

    receiver = Receiver()
    try:
        multi.add_span_processor(receiver)
        chain = chain_of(multi, None)
        if chain is None or not chain.shares:
            raise TypeError("the probe's chain is not made")
        span = span_class(chain)("probe", SpanContext(1, 1, is_remote=False), span_processor=chain)
        span.start()
        span.end()
        if receiver.ended != [span]:
            raise TypeError("_Span.end does not hand on_end what _readable_span returns")
    finally:
        _READS_ONLY.discard(Receiver)


FEATURE = FeatureCheck(
    "span processor chain", "spans call the provider's span processors, with a copy at their end", _probe
)
