"""Whether the global meter and logger providers are still the API's placeholders (nobody set one yet).

The API's proxy provider classes are private; ``trace.ProxyTracerProvider`` is the only public one.
Checked once, at import; without them a provider counts as a placeholder when its class is defined in
the module of the API's ``get_*_provider`` or below it (the API's proxy and no-op), not in an SDK.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import metrics

from dcm_otel._sdk import logs_api
from dcm_otel._sdk.feature_check import FeatureCheck


def _private_classes() -> tuple[type[Any], type[Any]]:
    from opentelemetry._logs._internal import ProxyLoggerProvider
    from opentelemetry.metrics._internal import _ProxyMeterProvider

    return _ProxyMeterProvider, ProxyLoggerProvider


FEATURE = FeatureCheck(
    "proxy providers",
    "providers defined by the API package itself count as not set",
    _private_classes,
)
_PROXIES = _private_classes() if FEATURE.available() else None


def _placeholder(provider: object, proxy: type[Any] | None, getter: Any) -> bool:
    if proxy is not None:
        return isinstance(provider, proxy)
    module, api = type(provider).__module__, getter.__module__
    return module == api or module.startswith(api + ".")


def meter_provider_unset(provider: metrics.MeterProvider) -> bool:
    return _placeholder(provider, _PROXIES and _PROXIES[0], metrics.get_meter_provider)


def logger_provider_unset(provider: logs_api.LoggerProvider) -> bool:
    return _placeholder(provider, _PROXIES and _PROXIES[1], logs_api.get_logger_provider)
