"""One row per security event. Users and addresses only as keyed hashes (``security.keyed_hash``): failed
logins often carry a mistyped password as the username, and the report must group without revealing."""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    PERMISSION_DENIED = "permission_denied"  # any 403 response

    time: models.DateTimeField[object, object] = models.DateTimeField(db_index=True)
    kind: models.CharField[str, str] = models.CharField(max_length=32)
    user_hash: models.CharField[str, str] = models.CharField(max_length=16, blank=True)  # "" anonymous
    address_hash: models.CharField[str, str] = models.CharField(max_length=16, blank=True)
    # The URL pattern that matched (never the raw path, which may hold a token); "" when none did.
    route: models.CharField[str, str] = models.CharField(max_length=255, blank=True)

    class Meta:
        app_label = "dcm_otel"
