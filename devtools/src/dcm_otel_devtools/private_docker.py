"""A private Docker Engine and a registry-free busybox image, for demos and tests on machines without a
registry; usable by your own CI too. As root, with ``dockerd`` and a static busybox (Debian:
busybox-static) installed::

    with PrivateDockerd.create(Path("dockerd.log")) as daemon:
        client = docker.DockerClient(base_url=daemon.base_url, version="auto")
        import_busybox_image(client, static_busybox() or sys.exit("no static busybox"))
        client.containers.run(IMAGE, ["echo", "hello"], network_mode="none", remove=True)

The engine runs without iptables, bridge or overlay filesystem, so it starts in a bare container or VM
and leaves the host's network alone: run its containers with ``network_mode`` ``none`` or ``host``.
Its dockerd is started and stopped by PID, never by name, since other engines may run on the machine.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import struct
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import docker
import docker.errors
import psutil

IMAGE = "dcm-busybox:latest"
#: Applets linked into the image's /bin; a job needs only a shell and a few coreutils.
# fmt: off
APPLETS = (
    "sh", "ash", "echo", "printf", "sleep", "cat", "true", "false", "env", "dd", "head", "tail", "yes", "ls",
    "ps", "kill", "wc", "date", "test", "[", "id", "hostname", "mkdir", "rm", "seq", "grep", "sed", "tr",
    "uname", "pwd", "touch", "timeout", "sync",
)
# fmt: on
BUSYBOX_PATHS = ("/bin/busybox", "/usr/bin/busybox", "/usr/local/bin/busybox")
STARTUP_TIMEOUT = 60.0
#: How long dockerd gets to stop its containers and exit before it is killed.
STOP_TIMEOUT = 30.0
PING_TIMEOUT = 3


class DockerdError(RuntimeError):
    """dockerd did not come up: it exited (`returncode`) or did not answer in time (`returncode` None)."""

    def __init__(self, message: str, pid: int, returncode: int | None, log_path: Path | None) -> None:
        if log_path is not None:
            message += f"; tail of {log_path}:\n{log_tail(log_path)}"
        super().__init__(message)
        self.pid, self.returncode, self.log_path = pid, returncode, log_path


def is_static_elf(path: Path) -> bool:
    """True for an ELF without a PT_INTERP (dynamic loader) header: it runs in an image that has no libc."""
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


def busybox_candidates() -> list[Path]:
    """The busybox executables installed in the usual places or on PATH, static or not."""
    which = shutil.which("busybox")
    return [path for path in map(Path, (*BUSYBOX_PATHS, *([which] if which else []))) if path.is_file()]


def static_busybox() -> Path | None:
    """A busybox to build the image from; a dynamically linked one cannot run in an image without libc."""
    return next((path for path in busybox_candidates() if is_static_elf(path)), None)


def busybox_rootfs(busybox: Path) -> bytes:
    """A tar of a minimal root filesystem for `docker import`: /bin/busybox, applet symlinks, /tmp, and
    passwd/group so that a container's `user=` option resolves."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add(name: str, kind: bytes, mode: int = 0o755, data: bytes = b"", link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.linkname, info.size = kind, mode, link, len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)

        for directory in ("bin", "etc", "usr", "usr/bin", "proc", "sys", "dev", "root"):
            add(directory, tarfile.DIRTYPE)
        add("tmp", tarfile.DIRTYPE, 0o1777)
        add("bin/busybox", tarfile.REGTYPE, 0o755, busybox.read_bytes())
        for applet in APPLETS:
            add(f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox")
        add("usr/bin/env", tarfile.SYMTYPE, 0o777, link="/bin/busybox")
        passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
        add("etc/passwd", tarfile.REGTYPE, 0o644, passwd)
        add("etc/group", tarfile.REGTYPE, 0o644, b"root:x:0:\nnogroup:x:65534:\n")
    return buf.getvalue()


def import_busybox_image(client: docker.DockerClient, busybox: Path, image: str = IMAGE) -> None:
    """Import the busybox rootfs as `image` (repository:tag), the way `docker import` does: no registry."""
    repository, _, tag = image.rpartition(":")
    client.api.import_image_from_data(
        busybox_rootfs(busybox), repository=repository, tag=tag, changes=['CMD ["sh"]']
    )
    client.images.get(image)  # raises ImageNotFound should the import not have taken


def ping(base_url: str, client_kwargs: Mapping[str, Any] | None = None, timeout: int = PING_TIMEOUT) -> bool:
    """Whether the engine answers; the API version is negotiated, as a distribution's dockerd may be old."""
    try:
        client = docker.DockerClient(
            base_url=base_url, version="auto", timeout=timeout, **(client_kwargs or {})
        )
    except (docker.errors.DockerException, OSError):
        return False
    try:
        return bool(client.ping())
    except (docker.errors.DockerException, OSError):
        return False
    finally:
        client.close()


def make_dockerd_dir(prefix: str = "dcm-dockerd-") -> Path:
    """A fresh private dir directly under /tmp for one dockerd, with an empty daemon.json.

    Short, since the unix socket path in it must fit in ~107 bytes; the daemon.json of its own keeps a
    system /etc/docker/daemon.json from applying.
    """
    base = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    (root / "daemon.json").write_text("{}\n")
    return root


def dockerd_url(root: Path) -> str:
    return f"unix://{root}/docker.sock"


def dockerd_argv(root: Path, dockerd: str = "dockerd") -> list[str]:
    """dockerd with all its state in `root`; no iptables, bridge or overlayfs, which bare hosts may lack."""
    return [
        dockerd,
        f"--host={dockerd_url(root)}",
        f"--data-root={root}/root",
        f"--exec-root={root}/exec",
        f"--pidfile={root}/dockerd.pid",
        "--iptables=false",
        "--ip6tables=false",
        "--bridge=none",
        "--storage-driver=vfs",
        f"--config-file={root}/daemon.json",
    ]


def wait_for_dockerd(
    proc: subprocess.Popen[bytes],
    base_url: str,
    timeout: float = STARTUP_TIMEOUT,
    log_path: Path | None = None,
) -> None:
    """Return once the dockerd `proc` answers at `base_url`; DockerdError if it exits first or stays silent
    for `timeout` seconds (it is left running then: stopping it is its starter's job)."""
    if not wait_until(lambda: proc.poll() is not None or ping(base_url), timeout, 0.2):
        message = f"dockerd (pid {proc.pid}) did not answer a ping within {timeout:.0f}s"
        raise DockerdError(message, proc.pid, None, log_path)
    if proc.poll() is not None:
        message = f"dockerd exited with status {proc.returncode} while starting"
        raise DockerdError(message, proc.pid, proc.returncode, log_path)


def stop_dockerd(proc: subprocess.Popen[bytes], root: Path, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM to the dockerd we started, SIGKILL after `timeout` seconds.

    dockerd first stops running containers: one whose PID 1 ignores SIGTERM (busybox `sleep`, `sh`) holds
    this up for its stop timeout (10 s) unless it was run with `init=True`. A SIGKILLed dockerd leaves the
    containerd it spawned, which is ended too, by the PID in its pidfile under `root`.
    """
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        with suppress(OSError, ValueError):
            pid = int((root / "exec" / "containerd" / "containerd.pid").read_text().strip())
            os.kill(pid, signal.SIGKILL)


def remove_dockerd_dir(root: Path) -> None:
    """Remove the dir of a stopped dockerd. One that stopped cleanly leaves only files; a killed one leaves
    its containers, their shims (which work in a bundle dir under `root`), the bind mount of its data root
    onto itself and those of its containers' network namespaces."""
    for shim in psutil.process_iter(["cwd"]):
        if str(shim.info["cwd"] or "").startswith(f"{root}/"):
            with suppress(psutil.Error):
                for container_process in shim.children(recursive=True):
                    container_process.kill()
                shim.kill()
    for mount_point in mounts_under(root) or [str(root / "root")]:
        subprocess.run(["umount", mount_point], stderr=subprocess.DEVNULL, check=False)
    shutil.rmtree(root, ignore_errors=True)


def mounts_under(root: Path) -> list[str]:
    """The mount points below `root` in this mount namespace, deepest first, the order to unmount them in."""
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return []
    points = {line.split()[4] for line in mountinfo.splitlines()}  # field 5: the mount point
    return sorted((p for p in points if p.startswith(f"{root}/")), reverse=True)


@dataclass
class PrivateDockerd:
    """A dockerd of our own with its state in `root` (see make_dockerd_dir).

    start() and stop() may alternate, so that a test can take the engine away and bring it back; close()
    stops it for good and removes `root`. As a context manager: started on entry, closed on exit.
    """

    root: Path
    log_path: Path
    dockerd: str = "dockerd"
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @classmethod
    def create(cls, log_path: Path, dockerd: str = "dockerd", prefix: str = "dcm-dockerd-") -> Self:
        """Not started yet; `dockerd` is the executable, by name on PATH or by path."""
        return cls(make_dockerd_dir(prefix), log_path, dockerd)

    @property
    def base_url(self) -> str:
        return dockerd_url(self.root)

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def start(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Start dockerd (appending to `log_path`) and return once it answers a ping; DockerdError if it
        does not, after stopping it. Containers a stop() ended stay exited."""
        if self.proc is not None and self.proc.poll() is None:
            return
        with self.log_path.open("ab") as log:
            # A session of its own: Ctrl-C must reach only the caller, whose cleanup then stops the daemon.
            self.proc = subprocess.Popen(
                dockerd_argv(self.root, self.dockerd),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_for_dockerd(self.proc, self.base_url, timeout, self.log_path)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop dockerd (see stop_dockerd); `root` and the images in it stay for the next start()."""
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_dockerd(proc, self.root, timeout)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            remove_dockerd_dir(self.root)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll `predicate` until it is true (returns True) or `timeout` seconds pass (returns False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def log_tail(path: Path | None, lines: int = 30) -> str:
    """The end of a daemon's log, to put in an error message when the daemon does not come up."""
    if path is None or not path.exists():
        return "(no log)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:]) or "(empty log)"
