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
                number(b"\x10", severity.value if severity is not None else None),
                self._values.text(b"\x1a", severity_text) if severity_text else b"",
                delimited(b"\x2a", any_value(body)),
                self._values.attributes(b"\x32", self._plain(attributes)),
                number(b"\x38", dropped_attributes),
                b"\x45" + FIXED32.pack(int(trace_flags)) if trace_flags else b"",
                b"\x4a\x10" + trace_id.to_bytes(16, "big") if trace_id else b"",
                b"\x52\x08" + span_id.to_bytes(8, "big") if span_id else b"",
                b"\x59" + FIXED64.pack(observed) if observed else b"",
                self._values.text(b"\x62", event_name) if event_name else b"",
            )
        )
        return varint(len(encoded)) + encoded
