"""What the resources package emits: metric names and attribute keys are public API (docs/metrics.md)."""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes.container_attributes import CONTAINER_IMAGE_NAME
from opentelemetry.semconv._incubating.attributes.cpu_attributes import CPU_MODE
from opentelemetry.semconv._incubating.attributes.disk_attributes import DISK_IO_DIRECTION
from opentelemetry.semconv._incubating.attributes.network_attributes import NETWORK_IO_DIRECTION
from opentelemetry.semconv._incubating.metrics.container_metrics import (
    CONTAINER_CPU_USAGE,
    CONTAINER_DISK_IO,
    CONTAINER_MEMORY_USAGE,
    CONTAINER_NETWORK_IO,
)

from dcm_otel.instrumentation.jobs.attributes import EXECUTOR_TYPE, HOST_NAME

HOST_UP = "dcm.host.up"
HOST_PING_DURATION = "dcm.host.ping.duration"
HOST_CONTAINERS = "dcm.host.containers"
HOST_IMAGES = "dcm.host.images"
HOST_CPU_COUNT = "dcm.host.cpu.count"
HOST_MEMORY_LIMIT = "dcm.host.memory.limit"
CONTAINER_STATE = "dcm.container.state"

__all__ = [
    "CONTAINER_CPU_USAGE",
    "CONTAINER_DISK_IO",
    "CONTAINER_IMAGE_NAME",
    "CONTAINER_MEMORY_USAGE",
    "CONTAINER_NETWORK_IO",
    "CONTAINER_STATE",
    "CPU_MODE",
    "DISK_IO_DIRECTION",
    "EXECUTOR_TYPE",
    "HOST_CONTAINERS",
    "HOST_CPU_COUNT",
    "HOST_IMAGES",
    "HOST_MEMORY_LIMIT",
    "HOST_NAME",
    "HOST_PING_DURATION",
    "HOST_UP",
    "NETWORK_IO_DIRECTION",
]
