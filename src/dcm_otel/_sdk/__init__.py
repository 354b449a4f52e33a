"""Everything dcm_otel reads of OpenTelemetry's private names, one module per trick.

The request and query paths run on every request and every query, where the SDK's generic checks cost
more than the data they let through (docs/benchmarks.md); a few other places need names the SDK keeps
private (the logs signal, the configurator base class) or an order it offers no API for. Each trick module
asks :class:`~dcm_otel._sdk.feature_check.FeatureCheck` once whether the installed SDK still has what it
reads, and takes the public path otherwise, saying so in one INFO line on the ``dcm_otel`` logger. The
SDK is pinned exactly; ``tests/test_sdk_private_names.py`` keeps private names out of every other module.
"""
