"""Real-service pytest fixtures: use a running service, else
start a private one for the session, else skip, or fail when DCM_OTEL_REQUIRE_SERVICES=1."""

from ._common import REQUIRE_ENV, services_required, unavailable
from .docker_engine import IMAGE, DockerEngine, docker_engine
from .postgres import DSN_ENV, Postgres, postgres

__all__ = [
    "DSN_ENV",
    "IMAGE",
    "REQUIRE_ENV",
    "DockerEngine",
    "Postgres",
    "docker_engine",
    "postgres",
    "services_required",
    "unavailable",
]
