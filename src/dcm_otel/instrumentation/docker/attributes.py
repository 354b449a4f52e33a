"""Every name the Docker instrumentation records, in one place: this module is the telemetry contract.

Semantic-convention names are reused where they exist; the conventions define no ``docker.*`` names, so
this library's own live in its ``dcm.`` namespace (``dcm.docker.*``).
"""

from __future__ import annotations

from typing import Final

from opentelemetry.semconv._incubating.attributes.container_attributes import (
    CONTAINER_ID,
    CONTAINER_IMAGE_ID,
    CONTAINER_IMAGE_NAME,
    CONTAINER_IMAGE_REPO_DIGESTS,
    CONTAINER_IMAGE_TAGS,
    CONTAINER_NAME,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import HTTP_REQUEST_METHOD, HTTP_RESPONSE_STATUS_CODE
from opentelemetry.semconv.attributes.network_attributes import NETWORK_TRANSPORT
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT

#: Engine API operation, e.g. ``containers.create``; the span name is ``docker <operation>``.
DOCKER_OPERATION: Final = "dcm.docker.operation"
#: Engine API version the client speaks, e.g. ``1.41``.
DOCKER_API_VERSION: Final = "dcm.docker.api.version"
#: Items a stream delivered to the caller before it ended.
DOCKER_STREAM_ITEMS: Final = "dcm.docker.stream.items"
#: Bytes of raw (undecoded) stream items delivered; absent for streams of decoded JSON objects.
DOCKER_STREAM_BYTES: Final = "dcm.docker.stream.bytes"
#: How a stream ended: ``exhausted``, ``closed``, ``abandoned`` (garbage-collected) or ``error``.
DOCKER_STREAM_END: Final = "dcm.docker.stream.end"

#: Histogram (seconds) of operation durations; a streaming operation lasts until its stream ends.
OPERATION_DURATION: Final = "dcm.docker.client.operation.duration"

__all__ = [
    "CONTAINER_ID",
    "CONTAINER_IMAGE_ID",
    "CONTAINER_IMAGE_NAME",
    "CONTAINER_IMAGE_REPO_DIGESTS",
    "CONTAINER_IMAGE_TAGS",
    "CONTAINER_NAME",
    "DOCKER_API_VERSION",
    "DOCKER_OPERATION",
    "DOCKER_STREAM_BYTES",
    "DOCKER_STREAM_END",
    "DOCKER_STREAM_ITEMS",
    "ERROR_TYPE",
    "HTTP_REQUEST_METHOD",
    "HTTP_RESPONSE_STATUS_CODE",
    "NETWORK_TRANSPORT",
    "OPERATION_DURATION",
    "SERVER_ADDRESS",
    "SERVER_PORT",
]
