"""Overhead benchmarks (``nox -s bench`` or ``python -m benchmarks``): the same Django app uninstrumented,
with django-prometheus, with the plain OpenTelemetry contrib stack and with dcm_otel, in one run.

Each configuration sets global providers, so every measurement runs in a fresh subprocess; rounds
interleave the configurations so that drift in the machine's speed hits all of them alike.
"""
