"""SDK log records as the bytes of an OTLP ``ExportLogsServiceRequest``, without protobuf messages.

Field for field what the official ``encode_logs`` (``opentelemetry-exporter-otlp-proto-common``) builds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from dcm_otel._sdk.span_fields import span_fields

if TYPE_CHECKING:
    from dcm_otel._sdk.logs_api import SeverityNumber
    from dcm_otel._sdk.logs_sdk import ReadableLogRecord, ReadWriteLogRecord

from dcm_otel.export.otlp_wire import (
    FIXED32,
    FIXED64,
    AttributeEncoder,
    Groups,
    any_value,
    delimited,
    number,
    request,
    varint,
)

_MAX_LEVELS = 64  # severity texts remembered: Python's levels and a few custom ones
_MAX_BODIES = 1024  # string bodies remembered, each of at most _CACHED_BODY_LENGTH characters (~1 MiB)
_CACHED_BODY_LENGTH = 256


class LogFields(NamedTuple):
    """What the encoder writes of a log record: an SDK record's fields (:meth:`LogEncoder.record`), or the
    log bridge's straight from a ``logging.LogRecord`` (:mod:`dcm_otel._sdk.log_fast_path`)."""

    timestamp: int | None
    observed_timestamp: int | None
    severity_number: SeverityNumber | None
    severity_text: str | None
    body: Any
    attributes: Mapping[str, Any] | None
    dropped_attributes: int
    trace_flags: int
    trace_id: int | None
    span_id: int | None
    event_name: str | None


class LogEncoder:
    """One per exporter; it keeps the encoded attribute pairs of earlier batches (bounded). Shared between
    threads like :class:`~dcm_otel.export.trace_encoding.TraceEncoder`."""

    def __init__(self) -> None:
        self._values = AttributeEncoder()
        self._plain = span_fields().plain
        self._levels: dict[str | None, tuple[SeverityNumber | None, bytes]] = {}  # by severity text
        self._bodies: dict[str, bytes] = {}  # string bodies: log messages, mostly the same few

    def encode(self, batch: Sequence[ReadableLogRecord]) -> bytes:
        return request(self._values, batch, self.record)

    def request(self, groups: Groups) -> bytes:
        """The request for records already encoded one by one (:meth:`record`) and grouped."""
        return groups.request(self._values)

    def record(self, readable: ReadableLogRecord | ReadWriteLogRecord) -> bytes:
        """One SDK log record, length-prefixed, without its tag."""
        record = readable.log_record
        return self._encode(
            record.timestamp,
            record.observed_timestamp,
            record.severity_number,
            record.severity_text,
            record.body,
            record.attributes,
            readable.dropped_attributes,
            record.trace_flags,
            record.trace_id,
            record.span_id,
            record.event_name,
        )

    def fields(self, record: LogFields) -> bytes:
        """One log record given by its fields, length-prefixed, without its tag."""
        return self._encode(*record)

    def _encode(  # positional: a LogFields made per record cost the SDK's path 0.5 µs
        self,
        timestamp: int | None,
        observed: int | None,
        severity: SeverityNumber | None,
        severity_text: str | None,
        body: Any,
        attributes: Mapping[str, Any] | None,
        dropped_attributes: int,
        trace_flags: int,
        trace_id: int | None,
        span_id: int | None,
        event_name: str | None,
    ) -> bytes:
        encoded = b"".join(
            (
                b"\x09" + FIXED64.pack(timestamp) if timestamp else b"",
                self._severity(severity, severity_text),
                self._body(body) if type(body) is str else delimited(b"\x2a", any_value(body)),
                self._values.attributes(b"\x32", self._plain(attributes)) if attributes else b"",
                b"\x38" + varint(dropped_attributes) if dropped_attributes else b"",
                b"\x45" + FIXED32.pack(int(trace_flags)) if trace_flags else b"",
                b"\x4a\x10" + trace_id.to_bytes(16, "big") if trace_id else b"",
                b"\x52\x08" + span_id.to_bytes(8, "big") if span_id else b"",
                b"\x59" + FIXED64.pack(observed) if observed else b"",
                self._values.text(b"\x62", event_name) if event_name else b"",
            )
        )
        return varint(len(encoded)) + encoded

    def _severity(self, severity: SeverityNumber | None, text: str | None) -> bytes:
        """The severity number and text fields, encoded once per level (looked up by the text: hashing
        the number's enum runs Python code)."""
        known = self._levels.get(text)
        if known is not None and known[0] is severity:
            return known[1]
        encoded = number(b"\x10", severity.value if severity is not None else None) + (
            self._values.text(b"\x1a", text) if text else b""
        )
        if len(self._levels) < _MAX_LEVELS:
            self._levels[text] = (severity, encoded)
        return encoded

    def _body(self, body: str) -> bytes:
        """A string body field; a message logged again (most are a constant of the code) is encoded once.
        Forgotten all at once past 1024 messages, so that a stream of one-off ones cannot grow it."""
        encoded = self._bodies.get(body)
        if encoded is None:
            encoded = delimited(b"\x2a", any_value(body))
            if len(body) <= _CACHED_BODY_LENGTH:
                if len(self._bodies) >= _MAX_BODIES:
                    self._bodies.clear()
                self._bodies[body] = encoded
        return encoded
