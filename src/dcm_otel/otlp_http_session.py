"""The HTTP session of the OTLP/HTTP exporters (the official ones and dcm_otel's encoder, which sends through
theirs): the CA the exporter was given is the one that verifies the collector.

requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` replace a session's own ``verify`` on every request
(only a per-request ``verify`` wins over them), and the exporters set theirs on the session: where either
variable is set (many container images and CI machines set them to the system bundle),
``OTEL_EXPORTER_OTLP_CERTIFICATE`` was ignored and a collector with a private CA failed verification.
"""

from __future__ import annotations

import os
from typing import Any

import requests

# The exporters' own hook for a session (an entry point named by these variables): theirs is left alone.
_CREDENTIAL_PROVIDER = ("OTEL_PYTHON_EXPORTER_OTLP_HTTP_", "CREDENTIAL_PROVIDER")


class ExporterSession(requests.Session):
    """A session whose ``verify``, once the exporter set a CA file, is not replaced by the environment's
    bundle; proxies and everything else still come from the environment as before."""

    def merge_environment_settings(  # the arguments' types are private to requests' stubs
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and isinstance(self.verify, str):
            settings["verify"] = self.verify
        return settings


def exporter_session() -> ExporterSession | None:
    """A session for one exporter, or None where a credential provider gives the exporters theirs."""
    if any(
        name.startswith(_CREDENTIAL_PROVIDER[0]) and name.endswith(_CREDENTIAL_PROVIDER[1])
        for name in os.environ
    ):
        return None
    return ExporterSession()
