"""Security events on logger ``dcm_otel.security``: logins (succeeded, failed, logged out), refused requests
(403) and admin actions (who did what to which object).

A failed login names its user by an HMAC of the username under ``SECRET_KEY``: failures against one
account can be correlated, but the name (often a mistyped password) is not written anywhere. Django's
signal carries the password already masked; it is not read at all.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

import wrapt

from .fields import EVENT_NAME

logger = logging.getLogger("dcm_otel.security")
_UID = "dcm_otel.logs.security"
_ADMIN_ACTIONS = {1: "add", 2: "change", 3: "delete"}  # LogEntry.action_flag


def connect() -> None:
    """Connect the receivers when Django's auth signals and admin models are imported (at once if they
    are); an app without the admin simply never gets admin events."""
    wrapt.register_post_import_hook(_connect_auth, "django.contrib.auth.signals")
    wrapt.register_post_import_hook(_connect_admin, "django.contrib.admin.models")


def _connect_auth(module: Any) -> None:
    module.user_logged_in.connect(login_succeeded, dispatch_uid=_UID)
    module.user_login_failed.connect(login_failed, dispatch_uid=_UID)
    module.user_logged_out.connect(logged_out, dispatch_uid=_UID)


def _connect_admin(module: Any) -> None:
    from django.db.models.signals import post_save

    post_save.connect(admin_action, sender=module.LogEntry, dispatch_uid=_UID)
    if hasattr(module.LogEntryManager, "log_actions"):  # Django 5.1+
        wrapt.wrap_function_wrapper(module, "LogEntryManager.log_actions", _bulk_logged_actions)


def _bulk_logged_actions(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """Admin actions on several objects at once (``delete_selected``) are saved with ``bulk_create``,
    which sends no ``post_save``: one event per object here instead. A single entry is saved normally
    and reported by the signal."""
    entries = wrapped(*args, **kwargs)
    if isinstance(entries, list) and len(entries) > 1:
        for entry in entries:
            try:
                admin_action(type(entry), entry, created=True)
            except Exception:  # an event that cannot be built must not fail the admin action
                logger.debug("no security event for a bulk admin action", exc_info=True)
    return entries


def _client(request: Any) -> dict[str, str]:
    address = getattr(request, "META", {}).get("REMOTE_ADDR")
    return {"client.address": address} if address else {}


def login_succeeded(sender: Any, request: Any = None, user: Any = None, **_: Any) -> None:
    logger.info(
        "login succeeded: user %s",
        user.pk,
        extra={EVENT_NAME: "security.login.succeeded", "user.id": str(user.pk), **_client(request)},
    )


def keyed_hash(value: str) -> str:
    """An HMAC of ``value`` under ``SECRET_KEY`` (16 hex digits): equal values give equal hashes, so events
    of one user or address group, but the value cannot be read back without the key."""
    from django.conf import settings

    return hmac.new(str(settings.SECRET_KEY).encode(), value.encode(), hashlib.sha256).hexdigest()[:16]


def login_failed(
    sender: Any, credentials: dict[str, Any] | None = None, request: Any = None, **_: Any
) -> None:
    digest = keyed_hash(str((credentials or {}).get("username", "")))
    logger.warning(
        "login failed: user hash %s",
        digest,
        extra={EVENT_NAME: "security.login.failed", "user.hash": digest, **_client(request)},
    )


def logged_out(sender: Any, request: Any = None, user: Any = None, **_: Any) -> None:
    user_id = "" if user is None else str(user.pk)
    logger.info(
        "logout: user %s",
        user_id or "anonymous",
        extra={EVENT_NAME: "security.logout", "user.id": user_id, **_client(request)},
    )


def admin_action(sender: Any, instance: Any, created: bool = False, raw: bool = False, **_: Any) -> None:
    if not created or raw:
        return
    action = _ADMIN_ACTIONS.get(instance.action_flag, str(instance.action_flag))
    content_type = instance.content_type
    kind = f"{content_type.app_label}.{content_type.model}" if content_type else ""
    logger.info(
        "admin %s %s %s by user %s",
        action,
        kind,
        instance.object_id,
        instance.user_id,
        extra={
            EVENT_NAME: "security.admin.action",
            "user.id": str(instance.user_id),
            "dcm.admin.action": action,
            "dcm.admin.object.type": kind,
            "dcm.admin.object.id": str(instance.object_id or ""),
            "dcm.admin.object.repr": instance.object_repr,
        },
    )


class RefusedRequestFilter(logging.Filter):
    """Marks Django's own log line of a refused request (``django.request`` 403, ``django.security.*``
    such as CSRF failures and disallowed hosts) as a security event, with the user and path."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if record.name.startswith("django.security."):
                record.__dict__[EVENT_NAME] = "security.request.refused"
            elif record.name == "django.request" and getattr(record, "status_code", None) == 403:
                record.__dict__[EVENT_NAME] = "security.permission_denied"
            else:
                return True
            status = getattr(record, "status_code", None)
            if status is not None:
                record.__dict__["http.response.status_code"] = status
            request = getattr(record, "request", None)
            user = getattr(request, "user", None)
            if getattr(user, "is_authenticated", False):
                record.__dict__["user.id"] = str(user.pk)  # type: ignore[union-attr]
            if request is not None:
                record.__dict__["url.path"] = request.path
        except Exception:
            return True
        return True
