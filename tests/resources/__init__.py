"""Tests of dcm_otel.resources against the real Docker Engine and the real host."""
