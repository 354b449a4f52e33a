"""Tests of dcm_otel.instrumentation.resource_usage against the real Docker Engine and the real host."""
