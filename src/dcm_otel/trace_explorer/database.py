"""Which database holds the explorer's tables: the app's own, except when that is SQLite.

SQLite lets one connection write at a time, and a transaction that read before it writes fails at once
("database is locked") when another connection is committing: the explorer's writes, several a second from
every process, would make the application's own transactions fail. A SQLite database is on one machine
anyway, so the explorer keeps its tables in a file of its own next to it (``db-traces.sqlite3`` beside
``db.sqlite3``), which it creates itself.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from django.db import DatabaseError

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models import Model

ALIAS = "dcm_otel_traces"
_lock = threading.Lock()
_ready: set[str] = set()


def explorer_database() -> str:
    """The alias of the database the explorer reads and writes; its tables exist once this returns."""
    from django.db import connections, router

    from .models import TraceLog, TraceSpan

    default = router.db_for_write(TraceSpan) or "default"
    config = connections.settings[default]
    name = str(config["NAME"])
    if connections[default].vendor != "sqlite" or name == ":memory:" or name.startswith("file:"):
        return default  # the app's migration made the tables there
    with _lock:
        if ALIAS not in _ready:
            path = Path(name)
            connections.settings[ALIAS] = {
                **config,
                "NAME": path.with_name(f"{path.stem}-traces{path.suffix}"),
            }
            for model in (TraceSpan, TraceLog):
                _create(connections[ALIAS], model)
            _ready.add(ALIAS)
    return ALIAS


def _create(connection: BaseDatabaseWrapper, model: type[Model]) -> None:
    """The model's table, unless it exists (another process may create it at the same moment)."""
    if model._meta.db_table in connection.introspection.table_names():
        return
    try:
        with connection.schema_editor() as editor:
            editor.create_model(model)
    except DatabaseError:
        if model._meta.db_table not in connection.introspection.table_names():
            raise
