"""Feeds the audit store from Django itself: ``user_logged_in`` and ``user_login_failed``, and every 403
response, as Django logs it on ``django.request`` (``PermissionDenied``, CSRF failures, a view returning
403), so no middleware is needed.

Each event is one INSERT on the request's own connection, inside a savepoint so that a failure (the table
not migrated yet, a database error) never reaches the request: it is logged once per process. The same
transaction deletes what is beyond ``audit_max_events`` (by id) or older than ``audit_max_age_days``, so the
table never holds more than those bounds. Passwords and other credentials are never read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from opentelemetry.instrumentation.utils import suppress_instrumentation

from dcm_otel import handover
from dcm_otel.logs.security import keyed_hash

logger = logging.getLogger("dcm_otel.audit")
_UID = "dcm_otel.audit"
_failed = False  # a failure has been logged in this process


def connect() -> None:
    """Connect the receivers (idempotent: called from the app's ``ready``)."""
    from django.contrib.auth import signals

    signals.user_logged_in.connect(login_succeeded, dispatch_uid=_UID)
    signals.user_login_failed.connect(login_failed, dispatch_uid=_UID)
    request_logger = logging.getLogger("django.request")
    if not any(isinstance(handler, RefusedRequestRecorder) for handler in request_logger.handlers):
        request_logger.addHandler(RefusedRequestRecorder())


def login_succeeded(sender: Any, request: Any = None, user: Any = None, **_: Any) -> None:
    store("login.succeeded", request, lambda: user.get_username() if user is not None else "")


def login_failed(
    sender: Any, credentials: dict[str, Any] | None = None, request: Any = None, **_: Any
) -> None:
    store("login.failed", request, lambda: str((credentials or {}).get("username", "")))


class RefusedRequestRecorder(logging.Handler):
    """Django's own log line of each 4xx/5xx response; a 403 becomes a ``permission_denied`` event."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "status_code", None) == 403:
            request = getattr(record, "request", None)
            store("permission_denied", request, lambda: _user_name(request), lambda: _route(request))


def _user_name(request: Any) -> str | None:
    """The logged-in user's name; None when anonymous (or with no auth middleware)."""
    user: Any = getattr(request, "user", None)
    return user.get_username() if getattr(user, "is_authenticated", False) else None


def _route(request: Any) -> str:
    match = getattr(request, "resolver_match", None)
    return str(getattr(match, "route", "") or "")[:255]


def store(
    kind: str,
    request: Any,
    username: Callable[[], str | None],
    route: Callable[[], str] = str,
) -> None:
    """Store one event and drop what is beyond the bounds; never raises (the user and route are read in
    here, under the same guard: a user's lazy session lookup can fail too)."""
    global _failed
    try:
        from django.db import router, transaction
        from django.db.models import Q
        from django.utils import timezone

        from .models import AuditEvent

        config = handover.config()
        if not config.audit_events:
            return
        name, address = username(), getattr(request, "META", {}).get("REMOTE_ADDR")
        database = router.db_for_write(AuditEvent) or "default"
        now = timezone.now()
        with suppress_instrumentation(), transaction.atomic(using=database):
            event = AuditEvent.objects.using(database).create(
                time=now,
                kind=kind,
                user_hash="" if name is None else keyed_hash(name),
                address_hash=keyed_hash(address) if address else "",
                route=route(),
            )
            AuditEvent.objects.using(database).filter(
                Q(pk__lte=event.pk - config.audit_max_events)
                | Q(time__lt=now - timedelta(days=config.audit_max_age_days))
            ).delete()
    except Exception:
        if not _failed:
            _failed = True
            logger.warning("dcm_otel: could not store an audit event (is `migrate` done?)", exc_info=True)
