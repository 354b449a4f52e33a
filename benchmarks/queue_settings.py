"""Settings of the queue-gauge benchmark: container_manager's models on the private PostgreSQL whose port
:mod:`benchmarks.queue` passes in ``BENCH_PG_PORT``."""

from __future__ import annotations

import os

SECRET_KEY = "benchmark-only-not-secret"  # noqa: S105
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "container_manager"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "postgres",
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": os.environ.get("BENCH_PG_PORT", "5432"),
    }
}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
