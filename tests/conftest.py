"""Shared fixtures. The real-service ones live in tests/services (tests is a package so that imports)."""

from tests.services import docker_engine, postgres

__all__ = ["docker_engine", "postgres"]
