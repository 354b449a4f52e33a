"""``dcm_otel.meter()``: the application's own metrics, under the same rules as dcm_otel's.

The meter comes from the global meter provider, the one :func:`dcm_otel.init` sets up (or adopts), so its
instruments go wherever dcm_otel's go: the ``/metrics`` view (summed over a pre-forking server's workers,
:mod:`dcm_otel.prometheus`) and OTLP. A meter taken before ``init()`` (at import) is the API's proxy and
binds to that provider once it exists, in each worker after a fork too.

Each instrument's name and unit are checked when it is created, so a name that would clash with
dcm_otel's own or render badly in Prometheus fails where it is written, not on a dashboard later:

- a lowercase dotted name, a namespace first: segments of ``a-z``, digits and ``_``, each starting with a
  letter, at least two, at most 255 characters (``myapp.orders.placed``);
- not in the ``dcm.`` namespace, which is dcm_otel's own (docs/metrics.md);
- no unit or Prometheus suffix at the end (``_total``, ``_count``, ``_sum``, ``_bucket``, ``_seconds``,
  ...): the exposition appends the unit and the type's suffix itself;
- a UCUM unit, as the semantic conventions write them: ``s``, ``ms``, ``By``, ``KiBy``, ``1``, ``%``, an
  annotation such as ``{order}``, or a ratio of those (``By/s``, ``{request}/s``).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any, cast

import wrapt
from opentelemetry import metrics

#: The namespace of dcm_otel's own metrics (docs/metrics.md).
RESERVED_NAMESPACE = "dcm."
_NAME = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")
MAX_NAME_LENGTH = 255  # the OpenTelemetry API's limit
_SUFFIX = re.compile(r"[._](?:total|count|sum|bucket|created|info|seconds|milliseconds|bytes)$")
_PREFIXES = "(?:Ki|Mi|Gi|Ti|k|M|G|T|P|m|u|n)?"
_ATOMS = "(?:s|min|h|d|By|bit|Hz|Cel|K|W|J|V|A|m|g|l|L)"
_TERM = rf"(?:1|%|\{{[!-z|~]+\}}|{_PREFIXES}{_ATOMS}(?:\{{[!-z|~]+\}})?)"
_UNIT = re.compile(rf"{_TERM}(?:/{_TERM})?")


def check_name(name: object) -> None:
    """Raise ``ValueError`` naming the instrument and the rule it breaks."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise ValueError(
            f"metric name {name!r}: expected a lowercase dotted name with a namespace first, segments of "
            f"a-z, 0-9 and _ starting with a letter, at most {MAX_NAME_LENGTH} characters "
            "(e.g. 'myapp.orders.placed')"
        )
    if name.startswith(RESERVED_NAMESPACE):
        raise ValueError(
            f"metric name {name!r}: the {RESERVED_NAMESPACE!r} namespace is dcm_otel's own; "
            "use your application's (e.g. 'myapp.orders.placed')"
        )
    if _SUFFIX.search(name):
        raise ValueError(
            f"metric name {name!r}: ends with a unit or Prometheus suffix; the unit goes in unit= and "
            "the exposition adds _total, _seconds, _bucket, ... itself"
        )


def check_unit(name: str, unit: object) -> None:
    if not isinstance(unit, str) or not _UNIT.fullmatch(unit):
        raise ValueError(
            f"metric {name!r} unit {unit!r}: expected a UCUM unit as the semantic conventions write it: "
            "s, ms, By, KiBy, 1, %, an annotation such as {order}, or a ratio such as By/s"
        )


def _checked(create: Callable[..., Any]) -> Callable[..., Any]:
    """``create_*`` of the meter, checking the instrument's name and unit (wherever they are passed)."""
    signature = inspect.signature(create)

    def create_checked(*args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind(*args, **kwargs).arguments
        name = arguments.get("name")
        check_name(name)
        check_unit(str(name), arguments.get("unit", ""))
        return create(*args, **kwargs)

    return create_checked


class _CheckedMeter(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """The provider's meter, its ``create_*`` methods checking what they create."""

    def __getattr__(self, attribute: str) -> Any:
        found = getattr(self.__wrapped__, attribute)
        return _checked(found) if attribute.startswith("create_") else found


def meter(name: str, version: str = "") -> metrics.Meter:
    """A meter of dcm_otel's provider for the application's own instruments (module docstring).

    ``name`` is the instrumentation scope (your app or module, e.g. ``"myapp"``); it becomes the
    ``otel_scope_name`` label in Prometheus. An instrument whose name or unit breaks the rules raises
    ``ValueError`` when created, naming it and the rule.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"meter name {name!r}: expected a non-empty string, e.g. 'myapp'")
    provided = metrics.get_meter(name, version)
    return cast(metrics.Meter, _CheckedMeter(provided))
