"""Session fixture `docker_engine`: a real Docker Engine plus a busybox image built without any registry.

Order of preference: the engine at DOCKER_HOST if it answers a ping, else a private dockerd started in a
short temp dir and stopped at session end, else skip (or fail when DCM_OTEL_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import struct
import subprocess
import tarfile
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

from ._common import INSTALL_HINT, is_root, log_tail, short_tempdir, unavailable, wait_until

IMAGE = "dcm-busybox:latest"
#: Applets linked into the image's /bin; a job needs only a shell and a few coreutils.
# fmt: off
APPLETS = (
    "sh", "ash", "echo", "printf", "sleep", "cat", "true", "false", "env", "dd", "head", "tail", "yes", "ls",
    "ps", "kill", "wc", "date", "test", "[", "id", "hostname", "mkdir", "rm", "seq", "grep", "sed", "tr",
    "uname", "pwd", "touch", "timeout", "sync",
)
# fmt: on
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox", "/usr/local/bin/busybox")


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
    _argv: list[str] = field(default_factory=list, repr=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def owned(self) -> bool:
        return self.root_dir is not None

    def client(self, timeout: int = 60) -> docker.DockerClient:
        """A new client (close it); API version is negotiated because Debian's dockerd may be older."""
        kwargs = {**self._client_kwargs, "base_url": self.base_url}
        return docker.DockerClient(version="auto", timeout=timeout, **kwargs)

    def ping(self) -> bool:
        try:
            client = self.client(timeout=3)
        except (docker.errors.DockerException, OSError):
            return False
        try:
            return bool(client.ping())
        except (docker.errors.DockerException, OSError):
            return False
        finally:
            client.close()

    def start(self) -> None:
        """(Re)start the private engine; returns once it answers a ping. Containers it stopped stay exited."""
        self._require_owned("start")
        if self._proc is not None and self._proc.poll() is None:
            return
        assert self.log_path is not None
        with self.log_path.open("ab") as log:
            # A new session: Ctrl-C must reach pytest only, whose teardown then stops the daemon.
            self._proc = subprocess.Popen(
                self._argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self._proc.pid
        proc = self._proc
        if not wait_until(lambda: proc.poll() is not None or self.ping(), STARTUP_TIMEOUT, 0.2):
            self._terminate()
            raise RuntimeError(
                f"dockerd (pid {proc.pid}) did not answer a ping within {STARTUP_TIMEOUT:.0f}s;"
                f" tail of {self.log_path}:\n{log_tail(self.log_path)}"
            )
        if proc.poll() is not None:
            self._proc, self.pid = None, None
            raise RuntimeError(
                f"dockerd exited with status {proc.returncode} while starting;"
                f" tail of {self.log_path}:\n{log_tail(self.log_path)}"
            )

    def stop(self) -> None:
        """Stop the private engine (SIGTERM to the PID we started); returns once its socket refuses.

        dockerd first stops running containers: one whose PID 1 ignores SIGTERM (busybox `sleep`, `sh`)
        holds this up for its stop timeout (10 s) unless it was run with `init=True`.
        """
        self._require_owned("stop")
        self._terminate()
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
            repository, _, tag = self.image.rpartition(":")
            client.api.import_image_from_data(
                busybox_rootfs_tar(find_static_busybox()),
                repository=repository,
                tag=tag,
                changes=['CMD ["sh"]'],
            )
            client.images.get(self.image)
        finally:
            client.close()

    def _require_owned(self, action: str) -> None:
        if not self.owned:
            unavailable(
                f"cannot {action} the Docker Engine at {self.base_url}: this session did not start it"
            )

    def _terminate(self) -> None:
        proc, self._proc, self.pid = self._proc, None, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self._kill_orphan_containerd()

    def _kill_orphan_containerd(self) -> None:
        """A SIGKILLed dockerd leaves the containerd it spawned; that one is ours to end too."""
        assert self.root_dir is not None
        pidfile = self.root_dir / "exec" / "containerd" / "containerd.pid"
        with suppress(OSError, ValueError):
            signal_pid(int(pidfile.read_text().strip()), signal.SIGKILL)

    def close(self) -> None:
        """Session end: stop a private engine and remove its dir (its log lives in the pytest tmp dir)."""
        if self.root_dir is None:
            return
        self._terminate()
        shutil.rmtree(self.root_dir, ignore_errors=True)


def signal_pid(pid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, sig)


def is_static_elf(path: Path) -> bool:
    """True for an ELF without a PT_INTERP header: it runs in an image that has no libc."""
    with path.open("rb") as f:
        head = f.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF":
            return False
        order = "<" if head[5] == 1 else ">"
        if head[4] == 2:  # 64-bit
            (phoff,) = struct.unpack_from(order + "Q", head, 0x20)
            phentsize, phnum = struct.unpack_from(order + "HH", head, 0x36)
        else:
            (phoff,) = struct.unpack_from(order + "I", head, 0x1C)
            phentsize, phnum = struct.unpack_from(order + "HH", head, 0x2A)
        f.seek(phoff)
        for _ in range(phnum):
            (p_type,) = struct.unpack_from(order + "I", f.read(phentsize))
            if p_type == 3:  # PT_INTERP
                return False
    return True


def find_static_busybox() -> Path:
    """The static busybox (Debian busybox-static) to build the image from; skips/fails if there is none."""
    which = shutil.which("busybox")
    candidates = [Path(p) for p in (*BUSYBOX_CANDIDATES, *([which] if which else []))]
    found = [p for p in candidates if p.is_file()]
    for path in found:
        if is_static_elf(path):
            return path
    if found:
        unavailable(f"{found[0]} is dynamically linked, unusable in a bare image: install busybox-static")
    unavailable(f"busybox-static not installed: {INSTALL_HINT}")


def busybox_rootfs_tar(busybox: Path) -> bytes:
    """A minimal rootfs: /bin/busybox, applet symlinks, /tmp, and passwd/group for `user=` options."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add(name: str, kind: bytes, mode: int = 0o755, data: bytes = b"", link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.linkname, info.size = kind, mode, link, len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)

        for d in ("bin", "etc", "usr", "usr/bin", "proc", "sys", "dev", "root"):
            add(d, tarfile.DIRTYPE)
        add("tmp", tarfile.DIRTYPE, 0o1777)
        add("bin/busybox", tarfile.REGTYPE, 0o755, busybox.read_bytes())
        for applet in APPLETS:
            add(f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox")
        add("usr/bin/env", tarfile.SYMTYPE, 0o777, link="/bin/busybox")
        passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
        add("etc/passwd", tarfile.REGTYPE, 0o644, passwd)
        add("etc/group", tarfile.REGTYPE, 0o644, b"root:x:0:\nnogroup:x:65534:\n")
    return buf.getvalue()


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
    root = short_tempdir("dcm-dockerd-")
    (root / "daemon.json").write_text("{}\n")  # isolate from a system /etc/docker/daemon.json
    argv = [dockerd, f"--host=unix://{root}/docker.sock", f"--data-root={root}/root"]
    argv += [f"--exec-root={root}/exec", f"--pidfile={root}/dockerd.pid", f"--config-file={root}/daemon.json"]
    argv += ["--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs"]
    engine = DockerEngine(
        base_url=f"unix://{root}/docker.sock",
        root_dir=root,
        log_path=log_dir / "dockerd.log",
        _argv=argv,
    )
    try:
        engine.start()
    except BaseException:
        engine.close()
        raise
    return engine


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    """A Docker Engine with the `dcm-busybox:latest` image; run containers with network_mode none/host."""
    engine = connect_external()
    if engine is None:
        find_static_busybox()  # skip before starting a daemon we could not use
        engine = start_private(tmp_path_factory.mktemp("dockerd"))
    try:
        engine.ensure_image()
        yield engine
    finally:
        engine.close()
