"""``"dcm_otel"`` in INSTALLED_APPS initialises telemetry, registers the system checks and
connects the audit store's receivers."""

from __future__ import annotations

from django.apps import AppConfig


class DcmOtelConfig(AppConfig):
    name = "dcm_otel"
    verbose_name = "dcm_otel observability"
    default_auto_field = "django.db.models.BigAutoField"  # the trace explorer's tables

    def ready(self) -> None:
        from dcm_otel import runtime
        from dcm_otel.audit import recorder

        state = runtime.init()
        if state.config.audit_events:
            recorder.connect()
