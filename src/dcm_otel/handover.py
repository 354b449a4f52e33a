"""What :func:`dcm_otel.init` hands to the parts Django and ``logging`` build themselves (the ``/metrics``
view, the JSON formatter, the redaction filter, the readiness service): the config it settled on and the
Prometheus endpoint its providers made.

They are not constructed by us, so they cannot take these as arguments; the runtime writes here and they
only read, so none of them imports the runtime. Before (or without) ``init()``: ``Config()`` and no endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dcm_otel.config import Config

if TYPE_CHECKING:
    from dcm_otel.prometheus import PrometheusEndpoint

_config: Config | None = None
_prometheus: PrometheusEndpoint | None = None


def hand_over(config: Config, prometheus: PrometheusEndpoint | None) -> None:
    global _config, _prometheus
    _config, _prometheus = config, prometheus


def handed_over() -> Config | None:
    """The config ``init()`` handed over, or None before it."""
    return _config


def config() -> Config:
    """The config ``init()`` handed over, else the defaults."""
    return _config if _config is not None else _DEFAULT


def prometheus() -> PrometheusEndpoint | None:
    """The endpoint of the Prometheus reader, when the providers are ours and it is configured."""
    return _prometheus


_DEFAULT = Config()
