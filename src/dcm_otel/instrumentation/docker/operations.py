"""The Engine API operations: which ``APIClient`` method is which operation, and what identifies its subject.

Every public ``APIClient`` method that talks to the Engine is listed; a test keeps the table complete
for the installed SDK (the helpers that only build config dicts are left out). The high-level
``DockerClient`` models only call these methods, so the table is the single point every SDK call
passes through. Operation names follow ``<resource>.<action>``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .attributes import CONTAINER_NAME
from .subjects import Attributes, container_reference, created_container, image_reference, inspected_container

ResultReader = Callable[[Any], Attributes]


@dataclass(frozen=True, slots=True)
class Operation:
    """An operation name plus the parameters (by name) that say which container or image it concerns."""

    name: str
    container: str | None = None
    image: str | None = None
    tag: str | None = None
    container_name: str | None = None
    result: ResultReader | None = None


def _on_container(name: str, result: ResultReader | None = None) -> Operation:
    return Operation(name, container="container", result=result)


def _on_image(name: str, image: str = "image", tag: str | None = None) -> Operation:
    return Operation(name, image=image, tag=tag)


OPERATIONS: Mapping[str, Operation] = {
    # containers
    "attach": _on_container("containers.attach"),
    "attach_socket": _on_container("containers.attach"),
    "commit": _on_container("containers.commit"),
    "containers": Operation("containers.list"),
    "create_container": Operation(
        "containers.create", image="image", container_name="name", result=created_container
    ),
    "create_container_from_config": Operation(
        "containers.create", container_name="name", result=created_container
    ),
    "diff": _on_container("containers.diff"),
    "export": _on_container("containers.export"),
    "get_archive": _on_container("containers.get_archive"),
    "inspect_container": _on_container("containers.inspect", result=inspected_container),
    "kill": _on_container("containers.kill"),
    "logs": _on_container("containers.logs"),
    "pause": _on_container("containers.pause"),
    "port": _on_container("containers.port"),
    "prune_containers": Operation("containers.prune"),
    "put_archive": _on_container("containers.put_archive"),
    "remove_container": _on_container("containers.remove"),
    "rename": _on_container("containers.rename"),
    "resize": _on_container("containers.resize"),
    "restart": _on_container("containers.restart"),
    "start": _on_container("containers.start"),
    "stats": _on_container("containers.stats"),
    "stop": _on_container("containers.stop"),
    "top": _on_container("containers.top"),
    "unpause": _on_container("containers.unpause"),
    "update_container": _on_container("containers.update"),
    "wait": _on_container("containers.wait"),
    # exec
    "exec_create": _on_container("exec.create"),
    "exec_inspect": Operation("exec.inspect"),
    "exec_resize": Operation("exec.resize"),
    "exec_start": Operation("exec.start"),
    # images
    "build": Operation("images.build"),
    "get_image": _on_image("images.save"),
    "history": _on_image("images.history"),
    "images": Operation("images.list"),
    "import_image": Operation("images.import"),
    "import_image_from_data": Operation("images.import"),
    "import_image_from_file": Operation("images.import"),
    "import_image_from_image": Operation("images.import"),
    "import_image_from_stream": Operation("images.import"),
    "import_image_from_url": Operation("images.import"),
    "inspect_distribution": _on_image("distribution.inspect"),
    "inspect_image": _on_image("images.inspect"),
    "load_image": Operation("images.load"),
    "prune_builds": Operation("build.prune"),
    "prune_images": Operation("images.prune"),
    "pull": _on_image("images.pull", image="repository", tag="tag"),
    "push": _on_image("images.push", image="repository", tag="tag"),
    "remove_image": _on_image("images.remove"),
    "search": Operation("images.search"),
    "tag": _on_image("images.tag"),
    # networks
    "connect_container_to_network": _on_container("networks.connect"),
    "create_network": Operation("networks.create"),
    "disconnect_container_from_network": _on_container("networks.disconnect"),
    "inspect_network": Operation("networks.inspect"),
    "networks": Operation("networks.list"),
    "prune_networks": Operation("networks.prune"),
    "remove_network": Operation("networks.remove"),
    # volumes
    "create_volume": Operation("volumes.create"),
    "inspect_volume": Operation("volumes.inspect"),
    "prune_volumes": Operation("volumes.prune"),
    "remove_volume": Operation("volumes.remove"),
    "volumes": Operation("volumes.list"),
    # system
    "df": Operation("system.df"),
    "events": Operation("system.events"),
    "info": Operation("system.info"),
    "login": Operation("system.login"),
    "ping": Operation("system.ping"),
    "version": Operation("system.version"),
    # swarm
    "get_unlock_key": Operation("swarm.unlock_key"),
    "init_swarm": Operation("swarm.init"),
    "inspect_node": Operation("nodes.inspect"),
    "inspect_swarm": Operation("swarm.inspect"),
    "join_swarm": Operation("swarm.join"),
    "leave_swarm": Operation("swarm.leave"),
    "nodes": Operation("nodes.list"),
    "remove_node": Operation("nodes.remove"),
    "unlock_swarm": Operation("swarm.unlock"),
    "update_node": Operation("nodes.update"),
    "update_swarm": Operation("swarm.update"),
    # services and tasks
    "create_service": Operation("services.create"),
    "inspect_service": Operation("services.inspect"),
    "inspect_task": Operation("tasks.inspect"),
    "remove_service": Operation("services.remove"),
    "service_logs": Operation("services.logs"),
    "services": Operation("services.list"),
    "tasks": Operation("tasks.list"),
    "update_service": Operation("services.update"),
    # configs, secrets, plugins
    "configs": Operation("configs.list"),
    "create_config": Operation("configs.create"),
    "inspect_config": Operation("configs.inspect"),
    "remove_config": Operation("configs.remove"),
    "create_secret": Operation("secrets.create"),
    "inspect_secret": Operation("secrets.inspect"),
    "remove_secret": Operation("secrets.remove"),
    "secrets": Operation("secrets.list"),
    "configure_plugin": Operation("plugins.configure"),
    "create_plugin": Operation("plugins.create"),
    "disable_plugin": Operation("plugins.disable"),
    "enable_plugin": Operation("plugins.enable"),
    "inspect_plugin": Operation("plugins.inspect"),
    "plugin_privileges": Operation("plugins.privileges"),
    "plugins": Operation("plugins.list"),
    "pull_plugin": Operation("plugins.pull"),
    "push_plugin": Operation("plugins.push"),
    "remove_plugin": Operation("plugins.remove"),
    "upgrade_plugin": Operation("plugins.upgrade"),
}


@dataclass(frozen=True, slots=True)
class _Parameter:
    position: int
    keyword: str

    def read(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        return args[self.position] if len(args) > self.position else kwargs.get(self.keyword)


def _parameter(method: Callable[..., Any], keyword: str | None) -> _Parameter | None:
    if keyword is None:
        return None
    names = list(inspect.signature(method).parameters)[1:]  # without self
    return _Parameter(names.index(keyword), keyword) if keyword in names else None


class BoundOperation:
    """An :class:`Operation` tied to the SDK method it describes, with parameter positions resolved once."""

    __slots__ = ("_container", "_container_name", "_image", "_result", "_tag", "name")

    def __init__(self, operation: Operation, method: Callable[..., Any]) -> None:
        self.name = operation.name
        self._container = _parameter(method, operation.container)
        self._image = _parameter(method, operation.image)
        self._tag = _parameter(method, operation.tag)
        self._container_name = _parameter(method, operation.container_name)
        self._result = operation.result

    def subject(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Attributes:
        """Attributes naming the container or image a call's arguments refer to (nothing else is read)."""
        attributes: Attributes = {}
        if self._image is not None:
            tag = self._tag.read(args, kwargs) if self._tag is not None else None
            attributes.update(image_reference(self._image.read(args, kwargs), tag))
        if self._container is not None:
            attributes.update(container_reference(self._container.read(args, kwargs)))
        if self._container_name is not None:
            name = self._container_name.read(args, kwargs)
            if isinstance(name, str) and name:
                attributes[CONTAINER_NAME] = name
        return attributes

    def result_attributes(self, result: Any) -> Attributes | None:
        return self._result(result) if self._result is not None else None
