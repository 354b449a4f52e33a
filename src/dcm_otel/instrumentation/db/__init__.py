"""Instrumentation of every query Django runs, whatever the backend: a CLIENT span and
``db.client.operation.duration`` per query (:mod:`.instrumentor`), the statement summary (:mod:`.sql`) and
the per-request query profile with N+1 detection (:mod:`.query_profile`).
"""

from .instrumentor import DjangoDbInstrumentor

__all__ = ["DjangoDbInstrumentor"]
