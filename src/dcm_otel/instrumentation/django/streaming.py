"""Streaming responses: the request's span and duration end with the stream, not when the view returns.

The request ends at the latest when the server closes the response: Django runs a response's closers in
``close()``, which a WSGI server calls once the body is sent or the client is gone (PEP 3333), and Django's
ASGI handler likewise. The content is also watched, so that the request ends as soon as the stream is
exhausted and an exception raised while streaming is recorded on the span. A ``FileResponse``'s file is not
watched: a WSGI server may send it itself (``wsgi.file_wrapper``, sendfile), which new content would prevent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator

from django.http import StreamingHttpResponse

# Ends the request once (later calls do nothing); an exception raised by the stream is its failure.
End = Callable[[BaseException | None], None]


def end_with_stream(response: StreamingHttpResponse, end: End) -> None:
    """Defers ``end`` to the end of ``response``'s stream (or its close, whichever comes first)."""
    # Django's list of what close() runs (a FileResponse's file is in it): public since 3.0 in all but name.
    response._resource_closers.append(lambda: end(None))  # type: ignore[attr-defined]
    if getattr(response, "file_to_stream", None) is not None:
        return
    content = response.streaming_content
    if response.is_async:
        response.streaming_content = _AsyncWatched(content, end)  # type: ignore[arg-type]
    else:
        response.streaming_content = _SyncWatched(content, end)  # type: ignore[arg-type]


class _SyncWatched(Iterator[bytes]):
    __slots__ = ("_content", "_end")

    def __init__(self, content: Iterable[bytes], end: End) -> None:
        self._content = iter(content)
        self._end = end

    def __next__(self) -> bytes:
        try:
            return next(self._content)
        except StopIteration:
            self._end(None)
            raise
        except BaseException as failure:
            self._end(failure)
            raise


class _AsyncWatched(AsyncIterator[bytes]):
    __slots__ = ("_content", "_end")

    def __init__(self, content: AsyncIterable[bytes], end: End) -> None:
        self._content = aiter(content)
        self._end = end

    async def __anext__(self) -> bytes:
        try:
            return await anext(self._content)
        except (StopAsyncIteration, asyncio.CancelledError):  # the end, or the client is gone
            self._end(None)
            raise
        except BaseException as failure:
            self._end(failure)
            raise
