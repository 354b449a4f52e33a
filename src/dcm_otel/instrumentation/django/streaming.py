"""Streaming responses: the request's span and duration end with the stream, not when the view returns.

The request ends at the latest when the server closes the response: Django runs a response's closers in
``close()``, which a WSGI server calls once the body is sent or the client is gone (PEP 3333), and Django's
ASGI handler likewise. The content is also watched, so that the request ends as soon as the stream is
exhausted and an exception raised while streaming is recorded on the span; while it makes each chunk, the
request's span is current again, so that what the stream does (a queryset read lazily, a log record) is
part of the request's trace. A ``FileResponse``'s file is not watched: a WSGI server may send it itself
(``wsgi.file_wrapper``, sendfile), which new content would prevent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from django.http import StreamingHttpResponse
from opentelemetry import context

# Ends the request once (later calls do nothing); an exception raised by the stream is its failure.
End = Callable[[BaseException | None], None]


def end_with_stream(response: StreamingHttpResponse, end: End, request_context: context.Context) -> None:
    """Defers ``end`` to the end of ``response``'s stream (or its close, whichever comes first); the
    stream runs in ``request_context``."""
    # Django's list of what close() runs (a FileResponse's file is in it): public since 3.0 in all but name.
    response._resource_closers.append(lambda: end(None))  # type: ignore[attr-defined]
    if getattr(response, "file_to_stream", None) is not None:
        return
    content = response.streaming_content
    if response.is_async:
        response.streaming_content = _AsyncWatched(aiter(content), end, request_context)  # type: ignore[arg-type]
    else:
        response.streaming_content = _SyncWatched(iter(content), end, request_context)  # type: ignore[arg-type]


class _Watched:
    """The response's content, each chunk made in the request's context, ``end`` called when it ends."""

    __slots__ = ("_content", "_context", "_end")

    def __init__(self, content: Any, end: End, request_context: context.Context) -> None:
        self._content = content
        self._end = end
        self._context = request_context


class _SyncWatched(_Watched, Iterator[bytes]):
    __slots__ = ()
    _content: Iterator[bytes]

    def __next__(self) -> bytes:
        token = context.attach(self._context)
        try:
            return next(self._content)
        except StopIteration:
            self._end(None)
            raise
        except BaseException as failure:
            self._end(failure)
            raise
        finally:
            context.detach(token)


class _AsyncWatched(_Watched, AsyncIterator[bytes]):
    __slots__ = ()
    _content: AsyncIterator[bytes]

    async def __anext__(self) -> bytes:
        token = context.attach(self._context)
        try:
            return await anext(self._content)
        except (StopAsyncIteration, asyncio.CancelledError):  # the end, or the client is gone
            self._end(None)
            raise
        except BaseException as failure:
            self._end(failure)
            raise
        finally:
            context.detach(token)
