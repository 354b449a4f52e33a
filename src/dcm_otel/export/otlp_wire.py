"""The Protocol Buffers wire format for what OTLP messages share: attributes, resource, scope.

Written by hand because building the official ``opentelemetry.proto`` messages and serialising them cost
30 to 50 µs per span (docs/benchmarks.md, "OTLP encoding"), while the bytes of a span are mostly the same
few attribute pairs over and over: each (key, value) pair is encoded once and kept in a bounded cache.
Each function mirrors the official encoder (``opentelemetry-exporter-otlp-proto-common``) field for
field, including what it leaves out; tests/test_otlp_encoding.py parses both and compares.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import attrgetter
from struct import Struct
from typing import Any, Protocol, TypeVar

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

logger = logging.getLogger("dcm_otel")

_ONE_BYTE = [bytes((n,)) for n in range(0x80)]
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_UINT64 = 2**64 - 1
_DOUBLE = Struct("<d")
FIXED64 = Struct("<Q")
FIXED32 = Struct("<I")
#: The cache forgets everything once it holds this many pairs or encoded bytes: a steady state (the same
#: statements, routes and hosts) refills it in a batch or two, and a stream of one-off values cannot grow it.
PAIR_CACHE_SIZE = 4096
PAIR_CACHE_BYTES = 1 << 20
#: Longer strings are encoded each time.
CACHED_STRING_LENGTH = 1024

# AnyValue's fields (string 1, bool 2, int 3, double 4, array 5, kvlist 6, bytes 7); KeyValue's key 1, value 2
_STRING, _TRUE, _FALSE, _INT, _DOUBLE_TAG = b"\x0a", b"\x10\x01", b"\x10\x00", b"\x18", b"\x21"
_ARRAY, _KVLIST, _BYTES = b"\x2a", b"\x32", b"\x3a"
_KEY, _VALUE, _ELEMENT = b"\x0a", b"\x12", b"\x0a"


def varint(number: int) -> bytes:
    """A non-negative integer as a base-128 varint."""
    if number < 0x80:
        return _ONE_BYTE[number]
    if number < 0x4000:
        return bytes((number & 0x7F | 0x80, number >> 7))
    out = bytearray()
    while number > 0x7F:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def delimited(tag: bytes, body: bytes) -> bytes:
    """A length-delimited field (string, bytes or message) with its tag."""
    return tag + varint(len(body)) + body


def text(tag: bytes, value: str | None) -> bytes:
    """A string field; proto3 leaves an empty or unset one out."""
    return delimited(tag, value.encode()) if value else b""


def number(tag: bytes, value: int | None) -> bytes:
    """A varint field (uint32, enum); left out when zero or unset."""
    return tag + varint(value) if value else b""


def any_value(value: Any) -> bytes:
    """The body of an ``AnyValue`` for ``value``, by the official encoder's type tests and in its order;
    raises on what it rejects (an unknown type, an int outside int64, a string UTF-8 cannot hold)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return _TRUE if value else _FALSE
    if isinstance(value, str):
        return delimited(_STRING, value.encode())
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"{value} is outside int64")
        return _INT + varint(value & _UINT64)
    if isinstance(value, float):
        return _DOUBLE_TAG + _DOUBLE.pack(value)
    if isinstance(value, bytes):
        return delimited(_BYTES, value)
    if isinstance(value, Sequence):
        return delimited(_ARRAY, b"".join([delimited(_ELEMENT, any_value(v)) for v in value]))
    if isinstance(value, Mapping):
        pairs = [delimited(_ELEMENT, key_value(str(k), v)) for k, v in value.items()]
        return delimited(_KVLIST, b"".join(pairs))
    raise TypeError(f"Invalid type {type(value)} of value {value}")


def key_value(key: str, value: Any) -> bytes:
    """The body of a ``KeyValue``."""
    return text(_KEY, key) + delimited(_VALUE, any_value(value))


class AttributeEncoder:
    """Encodes attribute maps as repeated ``KeyValue`` fields, each scalar pair once per cache lifetime.

    One per exporter: only its export thread uses it.
    """

    def __init__(self) -> None:
        self._pairs: dict[tuple[Any, ...], bytes] = {}
        self._bytes = 0  # encoded bytes kept; the keys hold about as much again

    def attributes(self, tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
        """``attributes`` as ``tag``-numbered ``KeyValue`` fields; a pair the official encoder would reject
        is left out and logged (once while cached), as it does."""
        if not attributes:
            return b""
        cached = self._pairs.get
        encoded = []
        for key, value in attributes.items():
            try:
                pair = cached((key, value, type(value)))  # the type: True == 1 == 1.0
            except TypeError:  # an unhashable value (a list in a log record)
                pair = None
            if pair is None:
                pair = self._encode(key, value)
            if pair:
                encoded.append(pair)
        return tag + tag.join(encoded) if encoded else b""

    def _encode(self, key: str, value: Any) -> bytes:
        """A length-prefixed ``KeyValue`` (without its field tag), or b"" when it cannot be encoded; kept if
        it is likely to come again (a string of ordinary length, an int or a bool; not a float, nor an
        array, whose equal elements may differ in type: (1, 2) == (1.0, 2.0))."""
        try:
            body = key_value(key, value)
        except Exception as error:
            logger.warning("dcm_otel: attribute %r left out of the OTLP export: %s", key, error)
            encoded = b""
        else:
            encoded = varint(len(body)) + body
        kind = type(value)
        if (kind is str and len(value) <= CACHED_STRING_LENGTH) or kind is int or kind is bool:
            self._keep((key, value, kind), encoded)
        return encoded

    def text(self, tag: bytes, value: str) -> bytes:
        """A string field with its tag (a span or event name), kept like an attribute pair (a bytes tag
        tells it from an attribute key)."""
        cache_key = (tag, value, str)
        encoded = self._pairs.get(cache_key)
        if encoded is None:
            encoded = text(tag, value)
            if len(value) <= CACHED_STRING_LENGTH:
                self._keep(cache_key, encoded)
        return encoded

    def _keep(self, cache_key: tuple[Any, ...], encoded: bytes) -> None:
        if len(self._pairs) >= PAIR_CACHE_SIZE or self._bytes >= PAIR_CACHE_BYTES:
            self._pairs.clear()
            self._bytes = 0
        self._pairs[cache_key] = encoded
        self._bytes += len(encoded)


def scope_block(values: AttributeEncoder, scope: InstrumentationScope | None) -> bytes:
    """``ScopeSpans.scope`` / ``ScopeLogs.scope`` (field 1), always present as the official encoder has it."""
    if scope is None:
        return delimited(b"\x0a", b"")
    body = text(b"\x0a", scope.name) + text(b"\x12", scope.version)
    return delimited(b"\x0a", body + values.attributes(b"\x1a", scope.attributes))


def resource_block(values: AttributeEncoder, resource: Resource) -> bytes:
    """``Resource*.resource`` (field 1): the attributes only, as the official encoder sends it."""
    return delimited(b"\x0a", values.attributes(b"\x0a", resource.attributes))


class Scoped(Protocol):
    """A span or a log record: what it is grouped by."""

    @property
    def resource(self) -> Resource: ...

    @property
    def instrumentation_scope(self) -> InstrumentationScope | None: ...


Item = TypeVar("Item", bound=Scoped)
Scopes = dict[InstrumentationScope | None, list[bytes]]
_OWNERS = attrgetter("resource", "instrumentation_scope")


class Groups:
    """Encoded items grouped by resource, then by scope, in first-seen order as the official encoder groups
    them (equal resources, and equal scopes, share a group); :meth:`request` makes the export request.

    Items are looked up by the identity of their resource and scope (the same few objects batch after
    batch), not by ``Resource.__hash__``, which serialises the attributes to JSON on every call."""

    def __init__(self) -> None:
        self._resources: list[tuple[Resource, Scopes]] = []
        self._slots: dict[tuple[int, int], list[bytes]] = {}

    def add(self, resource: Resource, scope: InstrumentationScope | None, encoded: bytes) -> None:
        """``encoded``: an item, length-prefixed, without its tag."""
        scope = scope or None
        slot = self._slots.get((id(resource), id(scope)))
        if slot is None:
            scopes = next((s for r, s in self._resources if r == resource), None)
            if scopes is None:
                scopes = {}
                self._resources.append((resource, scopes))
            slot = self._slots[id(resource), id(scope)] = scopes.setdefault(scope, [])
        slot.append(encoded)

    def request(self, values: AttributeEncoder) -> bytes:
        """The export request; at every level the repeated field is number 2, the schema URL 3. Made in one
        join of every level's pieces: the items (up to a MiB a batch) are copied once, not once per level."""
        chunks: list[bytes] = []
        for resource, scopes in self._resources:
            body = [resource_block(values, resource)]
            for scope, encoded in scopes.items():
                body += _scope_chunks(values, scope, encoded)
            body.append(text(b"\x1a", resource.schema_url))
            chunks += _delimited_chunks(b"\x0a", body)
        return b"".join(chunks)


def request(values: AttributeEncoder, items: Iterable[Item], encode: Callable[[Item], bytes]) -> bytes:
    """An export request: ``items`` grouped (:class:`Groups`), each as ``encode`` makes it."""
    groups = Groups()
    for item in items:
        groups.add(*_OWNERS(item), encode(item))
    return groups.request(values)


def _scope_chunks(
    values: AttributeEncoder, scope: InstrumentationScope | None, encoded: list[bytes]
) -> list[bytes]:
    """A ``ScopeSpans`` / ``ScopeLogs`` field (2) as pieces to join: scope, each item after its tag (2),
    schema URL."""
    items = [b"\x12"] * (2 * len(encoded))
    items[1::2] = encoded
    tail = text(b"\x1a", scope.schema_url if scope else None)
    return _delimited_chunks(b"\x12", [scope_block(values, scope), *items, tail])


def _delimited_chunks(tag: bytes, body: list[bytes]) -> list[bytes]:
    """:func:`delimited` as pieces to join: the body's pieces are not copied into one."""
    return [tag, varint(sum(map(len, body))), *body]
