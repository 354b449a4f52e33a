"""Instrumentors in the opentelemetry-python-contrib pattern, one package or module per library."""
