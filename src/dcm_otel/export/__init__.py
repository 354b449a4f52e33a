"""OTLP encoding for the span and log exporters: the protobuf wire format written directly.

``otlp_wire`` holds what OTLP messages share (attributes with a bounded cache, resource and scope blocks,
grouping by resource and scope); ``trace_encoding`` and ``log_encoding`` encode each signal; ``processors``
encode each span or log record as it ends and ``encoded_batches`` ships the bytes in large batches; the
exporters that POST them are in ``dcm_otel._sdk.otlp_http_exporters``. ``otlp_encoder: "official"`` turns
it off.
"""
