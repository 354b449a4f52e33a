"""Streams returned by the Engine API (logs, attach, events, pull/push/build progress, stats, exports).

The operation's span stays open while the caller reads: it ends when the stream is exhausted, closed,
fails or is garbage-collected, and records how much was delivered. The proxy only forwards what the
caller asks for; nothing is read on the caller's behalf, and ``close()`` from another thread still
cancels a blocked read as ``CancellableStream`` promises.
"""

from __future__ import annotations

import threading
from types import GeneratorType
from typing import TYPE_CHECKING, Any

import wrapt
from docker.types import CancellableStream
from opentelemetry.util.types import AttributeValue

from .attributes import DOCKER_STREAM_BYTES, DOCKER_STREAM_END, DOCKER_STREAM_ITEMS
from .call import TracedCall

#: What the SDK's streaming methods return (a socket from ``attach_socket`` is not a stream here).
STREAM_TYPES = (GeneratorType, CancellableStream)


def _payload_size(item: object) -> int | None:
    if isinstance(item, bytes):
        return len(item)
    if isinstance(item, tuple):  # demux=True: (stdout, stderr), either may be None
        return sum(len(part) for part in item if part)
    return None  # a decoded JSON object


if TYPE_CHECKING:
    _Proxy = wrapt.ObjectProxy[Any]
else:  # wrapt 1.x's proxy (contrib 0.61b0 needs wrapt<2) is not subscriptable
    _Proxy = wrapt.ObjectProxy


class TracedStream(_Proxy):
    """Counts what passes and finishes the call once; a proxy so ``isinstance`` checks still hold."""

    def __init__(self, stream: Any, call: TracedCall) -> None:
        super().__init__(stream)
        self._self_call = call
        self._self_items = 0
        self._self_bytes: int | None = None
        self._self_pending = threading.Lock()  # taken by whichever end comes first

    def __iter__(self) -> TracedStream:
        return self

    def __next__(self) -> Any:
        try:
            item = next(self.__wrapped__)
        except StopIteration:
            self._self_end("exhausted")
            raise
        except BaseException as error:
            self._self_end("error", error)
            raise
        self._self_items += 1
        size = _payload_size(item)
        if size is not None:
            self._self_bytes = (self._self_bytes or 0) + size
        return item

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end("closed")

    def __del__(self) -> None:
        self._self_end("abandoned")

    def _self_end(self, how: str, error: BaseException | None = None) -> None:
        if not self._self_pending.acquire(blocking=False):
            return
        attributes: dict[str, AttributeValue] = {
            DOCKER_STREAM_END: how,
            DOCKER_STREAM_ITEMS: self._self_items,
        }
        if self._self_bytes is not None:
            attributes[DOCKER_STREAM_BYTES] = self._self_bytes
        self._self_call.finish(error, attributes)
