"""Semantic-conventions conformance: what dcm_otel exports, checked against the official model (v1.44.0)."""
