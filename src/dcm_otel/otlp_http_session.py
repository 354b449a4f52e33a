"""The HTTP session of the OTLP/HTTP exporters (the official ones and dcm_otel's encoder, which sends through
theirs): the CA the exporter was given is the one that verifies the collector.

requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` replace a session's own ``verify`` on every request
(only a per-request ``verify`` wins over them), and the exporters set theirs on the session: where either
variable is set (many container images and CI machines set them to the system bundle),
``OTEL_EXPORTER_OTLP_CERTIFICATE`` was ignored and a collector with a private CA failed verification.

requests also reads the environment again on every request (proxy variables several times over, the CA
bundle variables, ``~/.netrc``): ~40% of an export's instructions. An exporter posts to one URL with the
same arguments, so the settings are worked out once per set of arguments and kept (a few entries): a proxy
variable changed after the first export is not seen until the process restarts.
"""

from __future__ import annotations

import os
from typing import Any

import requests

# The exporters' own hook for a session (an entry point named by these variables): theirs is left alone.
_CREDENTIAL_PROVIDER = ("OTEL_PYTHON_EXPORTER_OTLP_HTTP_", "CREDENTIAL_PROVIDER")


_MAX_SETTINGS = 16  # one exporter, one URL: a handful of argument sets at most


class ExporterSession(requests.Session):
    """A session whose ``verify``, once the exporter set a CA file, is not replaced by the environment's
    bundle; proxies and everything else still come from the environment, read once per set of arguments."""

    def __init__(self) -> None:
        super().__init__()
        self._settings: dict[tuple[Any, ...], dict[str, Any]] = {}

    def merge_environment_settings(  # the arguments' types are private to requests' stubs
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        key = (url, tuple(sorted((proxies or {}).items())), stream, verify, cert, self.verify, self.cert)
        settings: dict[str, Any] | None = self._settings.get(key)
        if settings is None:
            settings = dict(super().merge_environment_settings(url, proxies, stream, verify, cert))
            if verify is None and isinstance(self.verify, str):
                settings["verify"] = self.verify
            if len(self._settings) < _MAX_SETTINGS:
                self._settings[key] = settings
        return {**settings, "proxies": dict(settings["proxies"])}  # requests may change what it is given


def exporter_session() -> ExporterSession | None:
    """A session for one exporter, or None where a credential provider gives the exporters theirs."""
    if any(
        name.startswith(_CREDENTIAL_PROVIDER[0]) and name.endswith(_CREDENTIAL_PROVIDER[1])
        for name in os.environ
    ):
        return None
    return ExporterSession()
