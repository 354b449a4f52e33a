"""Which container or image a call concerns, read from its arguments or its result.

These identifiers are the only call data ever recorded: environment, commands, auth and TLS material
are never looked at, so they cannot leak into telemetry.
"""

from __future__ import annotations

import re
from typing import Any

from docker.utils import parse_repository_tag
from opentelemetry.util.types import AttributeValue

from .attributes import (
    CONTAINER_ID,
    CONTAINER_IMAGE_ID,
    CONTAINER_IMAGE_NAME,
    CONTAINER_IMAGE_REPO_DIGESTS,
    CONTAINER_IMAGE_TAGS,
    CONTAINER_NAME,
)

Attributes = dict[str, AttributeValue]

# The Engine accepts a container's id, an id prefix or its name wherever it takes a "container".
# Generated names contain "_", so 12+ lowercase hex digits (a short id or longer) are taken for an id.
_CONTAINER_ID = re.compile(r"[0-9a-f]{12,64}")
_IMAGE_ID_PREFIX = "sha256:"


def _resource_id(reference: object) -> str | None:
    """The id string of a reference the SDK accepts: a string, or an inspect/list result dict."""
    if isinstance(reference, dict):
        reference = reference.get("Id") or reference.get("ID")
    return reference if isinstance(reference, str) and reference else None


def container_reference(reference: object) -> Attributes:
    container = _resource_id(reference)
    if container is None:
        return {}
    return {CONTAINER_ID if _CONTAINER_ID.fullmatch(container) else CONTAINER_NAME: container}


def image_reference(reference: object, tag: object = None) -> Attributes:
    """``repo[:tag]``, ``repo@digest`` or ``sha256:<id>``, with an optional separate ``tag`` argument."""
    image = _resource_id(reference)
    if image is None:
        return {}
    if image.startswith(_IMAGE_ID_PREFIX):
        return {CONTAINER_IMAGE_ID: image}
    repository, suffix = parse_repository_tag(image)
    attributes: Attributes = {CONTAINER_IMAGE_NAME: repository}
    if "@" in image:
        attributes[CONTAINER_IMAGE_REPO_DIGESTS] = (image,)
    elif isinstance(tag, str) and tag:
        attributes[CONTAINER_IMAGE_TAGS] = (tag,)
    elif suffix:
        attributes[CONTAINER_IMAGE_TAGS] = (suffix,)
    return attributes


def created_container(result: Any) -> Attributes:
    """``containers.create`` answers with the new container's id, known nowhere else."""
    return container_reference(result) if isinstance(result, dict) else {}


def inspected_container(result: Any) -> Attributes:
    """An inspect names the container by id and name even when the caller passed only one of them."""
    if not isinstance(result, dict):
        return {}
    attributes = container_reference(result)
    name = result.get("Name")
    if isinstance(name, str) and name:
        attributes[CONTAINER_NAME] = name.lstrip("/")
    return attributes
