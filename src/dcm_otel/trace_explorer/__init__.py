"""The trace explorer: the most recent traces of every process of a deployment, kept in the app's own
database and shown in the admin (docs/trace-explorer.md).

``store.TraceStore`` is the span processor that keeps them (bounded by count and bytes, masked, written off
the request's thread); ``queries`` reads them back for ``dcm_otel.dashboard.traces``.
"""
