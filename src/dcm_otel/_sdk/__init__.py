"""Everything dcm_otel reads of OpenTelemetry's private names, one module per trick.

The request and query paths run on every request and every query, where the SDK's generic checks cost more
than the data they let through (docs/benchmarks.md); a few other places need names the SDK keeps private
(the logs signal, the configurator base class) or an order it offers no API for. Each trick module has a
:class:`~dcm_otel._sdk.feature_check.FeatureCheck`, run once at startup (:func:`check_features`), that says
whether the installed SDK still has what it reads; otherwise the trick takes the public path, saying so in
one INFO line on the ``dcm_otel`` logger. pyproject.toml allows a range of SDKs: a shortcut whose
internals an SDK lacks (older or newer) is simply off there (docs/compatibility.md says which, per release).
``tests/test_sdk_private_names.py`` keeps private names out of every other module.
"""

from __future__ import annotations

from dcm_otel._sdk.feature_check import FeatureCheck


def feature_checks() -> tuple[FeatureCheck, ...]:
    """Every shortcut's check; imported here, not at package import, so one trick does not load the others."""
    from dcm_otel._sdk import (
        bound_histograms,
        current_span,
        preset_ids,
        processor_metrics,
        proxy_providers,
        span_chain,
        span_fields,
        span_processor_order,
        span_starter,
        suppression,
    )

    modules = (
        span_starter,
        current_span,
        bound_histograms,
        preset_ids,
        span_processor_order,
        suppression,
        proxy_providers,
        span_fields,
        span_chain,
        processor_metrics,
    )
    # otlp_http_encoding's check is not here: it runs when an OTLP/HTTP exporter is made, so that a process
    # exporting no OTLP does not load the exporter stack
    # log_fast_path's neither: it runs when the log bridge is made, and matters only beside that encoder
    return tuple(module.FEATURE for module in modules)


def check_features() -> None:
    """Run every check now, at startup, so a fallback is said when the process starts, not at its first
    request, query or Docker call."""
    for feature in feature_checks():
        feature.available()
