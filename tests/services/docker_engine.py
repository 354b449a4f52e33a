"""Session fixture `docker_engine`: a real Docker Engine plus a busybox image built without any registry.

Order of preference: the engine at DOCKER_HOST if it answers a ping, else a private dockerd started in a
short temp dir and stopped at session end, else skip (or fail when DCM_OTEL_REQUIRE_SERVICES=1). The
engine and the image come from dcm_otel_devtools; this module adds the skip-or-fail rule and the fixture.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.utils
import pytest

from dcm_otel_devtools import IMAGE as IMAGE  # exported by tests.services
from dcm_otel_devtools import (
    STARTUP_TIMEOUT,
    STOP_TIMEOUT,
    PrivateDockerd,
    busybox_candidates,
    import_busybox_image,
    ping,
    static_busybox,
    wait_until,
)

from ._common import INSTALL_HINT, is_root, unavailable


@dataclass
class DockerEngine:
    """A reachable Docker Engine; `stop()`/`start()` let tests see what happens when it goes away.

    `root_dir` is set only for a private engine this session started (`owned`); an engine found at
    DOCKER_HOST is never stopped.
    """

    base_url: str
    image: str = IMAGE
    pid: int | None = None
    root_dir: Path | None = None
    log_path: Path | None = None
    _client_kwargs: dict[str, Any] = field(default_factory=dict, repr=False)
    _daemon: PrivateDockerd | None = field(default=None, repr=False)

    @property
    def owned(self) -> bool:
        return self.root_dir is not None

    def client(self, timeout: int = 60) -> docker.DockerClient:
        """A new client (close it); API version is negotiated because Debian's dockerd may be older."""
        kwargs = {**self._client_kwargs, "base_url": self.base_url}
        return docker.DockerClient(version="auto", timeout=timeout, **kwargs)

    def ping(self) -> bool:
        return ping(self.base_url, self._client_kwargs, timeout=3)

    def start(self) -> None:
        """(Re)start the private engine; returns once it answers a ping. Containers it stopped stay exited."""
        daemon = self._private("start")
        try:
            daemon.start(STARTUP_TIMEOUT)
        finally:
            self.pid = daemon.pid

    def stop(self) -> None:
        """Stop the private engine (SIGTERM to the PID we started); returns once its socket refuses.

        dockerd first stops running containers: one whose PID 1 ignores SIGTERM (busybox `sleep`, `sh`)
        holds this up for its stop timeout (10 s) unless it was run with `init=True`.
        """
        self._private("stop").stop(STOP_TIMEOUT)
        self.pid = None
        if not wait_until(lambda: not self.ping(), 10.0):
            raise RuntimeError(f"Docker Engine at {self.base_url} still answers after dockerd exited")

    @contextmanager
    def stopped(self) -> Iterator[None]:
        """Engine down inside the block and back up after it, even if the block raises."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def ensure_image(self) -> None:
        """Import the busybox rootfs as `self.image` unless the engine already has it (no registry here)."""
        client = self.client()
        try:
            with suppress(docker.errors.ImageNotFound):
                client.images.get(self.image)
                return
            import_busybox_image(client, find_static_busybox(), self.image)
        finally:
            client.close()

    def _private(self, action: str) -> PrivateDockerd:
        if self._daemon is None:
            unavailable(
                f"cannot {action} the Docker Engine at {self.base_url}: this session did not start it"
            )
        return self._daemon

    def close(self) -> None:
        """Session end: stop a private engine and remove its dir (its log lives in the pytest tmp dir)."""
        if self._daemon is None:
            return
        self.pid = None
        self._daemon.close()


def find_static_busybox() -> Path:
    """The static busybox (Debian busybox-static) to build the image from; skips/fails if there is none."""
    busybox = static_busybox()
    if busybox is not None:
        return busybox
    found = busybox_candidates()
    if found:
        unavailable(f"{found[0]} is dynamically linked, unusable in a bare image: install busybox-static")
    unavailable(f"busybox-static not installed: {INSTALL_HINT}")


def connect_external() -> DockerEngine | None:
    """The engine DOCKER_HOST names (TLS settings from the env too), if it answers a ping."""
    kwargs: dict[str, Any] = dict(docker.utils.kwargs_from_env())
    base_url = kwargs.pop("base_url", None)
    if not base_url:
        return None
    engine = DockerEngine(base_url=base_url, _client_kwargs=kwargs)
    if engine.ping():
        return engine
    warnings.warn(f"DOCKER_HOST={base_url} does not answer; starting a private dockerd", stacklevel=2)
    return None


def start_private(log_dir: Path) -> DockerEngine:
    """Start dockerd as root in a short temp dir (the socket path must fit in ~107 bytes)."""
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        unavailable(f"dockerd not installed (not on PATH): {INSTALL_HINT}, or set DOCKER_HOST")
    if not is_root():
        unavailable(
            "a private dockerd needs root: run the tests as root, or set DOCKER_HOST to a running engine"
        )
    daemon = PrivateDockerd.create(log_dir / "dockerd.log", dockerd=dockerd)
    engine = DockerEngine(daemon.base_url, root_dir=daemon.root, log_path=daemon.log_path, _daemon=daemon)
    try:
        engine.start()
    except BaseException:
        engine.close()
        raise
    return engine


@contextmanager
def with_image(engine: DockerEngine) -> Iterator[DockerEngine]:
    """The engine with the `dcm-busybox:latest` image, closed (a private one stopped) at the end."""
    try:
        engine.ensure_image()
        yield engine
    finally:
        engine.close()


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    """A Docker Engine with the `dcm-busybox:latest` image; run containers with network_mode none/host."""
    engine = connect_external()
    if engine is None:
        find_static_busybox()  # skip before starting a daemon we could not use
        engine = start_private(tmp_path_factory.mktemp("dockerd"))
    with with_image(engine):
        yield engine
