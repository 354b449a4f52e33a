"""The context keys that suppress instrumentation, for paths that set or test them on every request or
query: ``parent.get(KEY)`` and ``context.set_value(KEY, True, parent)`` cost less than the public context
managers and ``is_instrumentation_enabled()``, and a suppressed context can be made once and reused.

The API keeps the keys private. Checked once, at import: the private keys must be the ones the public
``suppress_instrumentation()`` / ``suppress_http_instrumentation()`` set and ``is_instrumentation_enabled()``
reads; otherwise the keys are the ones the public context managers are seen to set.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from opentelemetry import context
from opentelemetry.instrumentation.utils import (
    is_http_instrumentation_enabled,
    is_instrumentation_enabled,
    suppress_http_instrumentation,
    suppress_instrumentation,
)

from dcm_otel._sdk.feature_check import FeatureCheck


def _honoured(key: str, enabled: Callable[[], bool]) -> bool:
    """Whether a context with ``key`` set to True alone makes ``enabled()`` say no."""
    token = context.attach(context.set_value(key, True, context.Context()))
    try:
        return not enabled()
    finally:
        context.detach(token)


def _public_key(suppress: Callable[[], AbstractContextManager[None]], enabled: Callable[[], bool]) -> str:
    """The first key that the public context manager ``suppress`` sets and ``enabled()`` honours."""
    before = context.get_current()
    with suppress():
        after = context.get_current()
    for key in after:
        if (key not in before or after[key] is not before[key]) and _honoured(key, enabled):
            return key
    raise RuntimeError(f"{suppress.__name__}() sets no key that {enabled.__name__}() honours")


def _private_keys() -> tuple[str, str]:
    from opentelemetry.context import _SUPPRESS_HTTP_INSTRUMENTATION_KEY, _SUPPRESS_INSTRUMENTATION_KEY

    keys = _SUPPRESS_INSTRUMENTATION_KEY, _SUPPRESS_HTTP_INSTRUMENTATION_KEY
    if keys != _public_keys():
        raise RuntimeError(f"the public context managers set {_public_keys()}, not {keys}")
    return keys


def _public_keys() -> tuple[str, str]:
    return (
        _public_key(suppress_instrumentation, is_instrumentation_enabled),
        _public_key(suppress_http_instrumentation, is_http_instrumentation_enabled),
    )


FEATURE = FeatureCheck(
    "suppression keys",
    "using the keys the public suppress_instrumentation() and suppress_http_instrumentation() set",
    _private_keys,
)

# Set to True: nothing below starts telemetry; HTTP clients (requests, urllib3) start no span.
SUPPRESS_INSTRUMENTATION_KEY, SUPPRESS_HTTP_INSTRUMENTATION_KEY = (
    _private_keys() if FEATURE.available() else _public_keys()
)
