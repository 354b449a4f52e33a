"""Where a client's Engine is and which API version it speaks, worked out once per client.

``APIClient.base_url`` reads ``http+docker://localhost`` for socket, pipe and SSH transports, so the real
address comes from the transport adapter the client mounted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from opentelemetry.util.types import AttributeValue

from .attributes import DOCKER_API_VERSION, NETWORK_TRANSPORT, SERVER_ADDRESS, SERVER_PORT


@dataclass(frozen=True, slots=True)
class Endpoint:
    """``address`` is also a metric attribute; ``span_attributes`` go on every span of the client."""

    address: str
    span_attributes: dict[str, AttributeValue]


def describe_endpoint(client: Any) -> Endpoint:
    adapter = getattr(client, "_custom_adapter", None)
    socket_path = getattr(adapter, "socket_path", None)
    pipe_path = getattr(adapter, "npipe_path", None)
    port: int | None = None
    if socket_path:
        address, transport = socket_path, "unix"
    elif pipe_path:
        address, transport = pipe_path, "pipe"
    else:
        ssh_host = getattr(adapter, "ssh_host", None)
        url = urlsplit(f"ssh://{ssh_host}" if ssh_host else str(getattr(client, "base_url", "")))
        address, transport, port = url.hostname or "", "tcp", url.port
    attributes: dict[str, AttributeValue] = {SERVER_ADDRESS: address, NETWORK_TRANSPORT: transport}
    if port is not None:
        attributes[SERVER_PORT] = port
    version = getattr(client, "_version", None)
    if version is not None:
        attributes[DOCKER_API_VERSION] = version
    return Endpoint(address, attributes)


class EndpointCache:
    """Endpoints by client, held weakly so that closed clients are forgotten."""

    def __init__(self) -> None:
        self._by_client: WeakKeyDictionary[Any, Endpoint] = WeakKeyDictionary()

    def __call__(self, client: Any) -> Endpoint:
        try:
            return self._by_client[client]
        except KeyError:
            endpoint = describe_endpoint(client)
            # The version is unknown during the client's own version negotiation: don't cache that.
            if DOCKER_API_VERSION in endpoint.span_attributes:
                self._by_client[client] = endpoint
            return endpoint
