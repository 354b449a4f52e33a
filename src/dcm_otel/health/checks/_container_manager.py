"""container_manager is an optional extra: checks that read its models skip when it is not installed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.apps import apps
from django.db import connections


def installed() -> bool:
    return apps.is_installed("container_manager")


@contextmanager
def own_connections() -> Iterator[None]:
    """A check's thread opens its own ORM connections; close them when it is done, not at thread death."""
    try:
        yield
    finally:
        connections.close_all()
