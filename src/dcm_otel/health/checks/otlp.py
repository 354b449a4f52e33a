"""The OTLP endpoints telemetry is exported to accept TCP connections (reachability, not a test export)."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

from dcm_otel.config import SIGNAL_ENDPOINT_ENV, Config
from dcm_otel.health.results import CheckFunction, Outcome, describe, failing, ok, skipped


def build(config: Config) -> CheckFunction:
    urls = [config.otlp_endpoint] if config.otlp_endpoint else []
    urls += [os.environ[name] for name in SIGNAL_ENDPOINT_ENV if os.environ.get(name, "").strip()]
    addresses = list(dict.fromkeys(map(address, urls)))

    def check_otlp(timeout: float) -> Outcome:
        if not addresses:
            return skipped("no OTLP endpoint configured")
        failures = []
        for host, port in addresses:
            try:
                socket.create_connection((host, port), timeout=timeout).close()
            except OSError as exc:
                failures.append(f"{host}:{port}: {describe(exc)}")
        return failing("; ".join(failures)) if failures else ok(f"{len(addresses)} endpoint(s) reachable")

    return check_otlp


def address(url: str) -> tuple[str, int]:
    """host and port of an endpoint URL, the port defaulting by scheme."""
    parts = urlsplit(url.strip())
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
