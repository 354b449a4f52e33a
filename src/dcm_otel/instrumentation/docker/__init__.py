"""OpenTelemetry instrumentation for the Docker SDK for Python (``docker``), which nothing else provides.

Each Engine API operation becomes one CLIENT span named ``docker <operation>`` (``docker
containers.create``) plus a ``dcm.docker.client.operation.duration`` measurement. High-level calls produce
one span per Engine operation they perform and none of their own: ``containers.run()`` gives
``containers.create``, ``containers.inspect``, ``containers.start``, ``containers.logs``,
``containers.wait`` (and ``containers.remove``), as siblings under the caller's span. Arguments are never
recorded beyond the container and image identifiers, so environment values, commands, registry auth
and TLS material stay out of telemetry. The names are listed in :mod:`.attributes`. The SDK spans and
points are made after the call, by a background thread (:mod:`.deferred`).
"""

from .instrumentor import DockerInstrumentor

__all__ = ["DockerInstrumentor"]
