"""The SDK's configurator base class, which ``opentelemetry-instrument`` loads through the
``opentelemetry_configurator`` entry point; the SDK still names it privately."""

from opentelemetry.sdk._configuration import _BaseConfigurator as BaseConfigurator

__all__ = ["BaseConfigurator"]
