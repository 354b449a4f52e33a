"""Tools for developing and testing with dcm_otel, not used by the instrumentation itself.

:mod:`dcm_otel_devtools.private_docker` starts a private Docker Engine and builds a busybox image without any
registry, so that the demo, our tests and your own CI can run real containers on a machine that has
``dockerd`` and a static busybox but no registry access.
"""

from dcm_otel_devtools.private_docker import (
    IMAGE,
    STARTUP_TIMEOUT,
    STOP_TIMEOUT,
    DockerdError,
    PrivateDockerd,
    busybox_candidates,
    busybox_rootfs,
    dockerd_argv,
    dockerd_url,
    import_busybox_image,
    is_static_elf,
    log_tail,
    make_dockerd_dir,
    ping,
    remove_dockerd_dir,
    static_busybox,
    stop_dockerd,
    wait_for_dockerd,
    wait_until,
)

__all__ = [
    "IMAGE",
    "STARTUP_TIMEOUT",
    "STOP_TIMEOUT",
    "DockerdError",
    "PrivateDockerd",
    "busybox_candidates",
    "busybox_rootfs",
    "dockerd_argv",
    "dockerd_url",
    "import_busybox_image",
    "is_static_elf",
    "log_tail",
    "make_dockerd_dir",
    "ping",
    "remove_dockerd_dir",
    "static_busybox",
    "stop_dockerd",
    "wait_for_dockerd",
    "wait_until",
]
