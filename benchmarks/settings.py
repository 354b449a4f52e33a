"""Settings of the benchmark app; configuration B (django-prometheus) changes them, the others leave them
as a plain project has them (their instrumentation is applied by :mod:`benchmarks.configs`)."""

from __future__ import annotations

import os

CONFIG = os.environ.get("BENCH_CONFIG", "A")
SECRET_KEY = "benchmark-only-not-secret"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.contenttypes", "benchmarks.shop"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "benchmarks.urls"
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ.get("BENCH_DB", ":memory:")}
}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# The views' INFO lines are made in every configuration; only C and D, when exporting, have a handler
# (on the root logger) for them.
LOGGING = {"version": 1, "disable_existing_loggers": False, "loggers": {"benchmarks": {"level": "INFO"}}}

if CONFIG == "B":
    INSTALLED_APPS.append("django_prometheus")
    MIDDLEWARE = [
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        *MIDDLEWARE,
        "django_prometheus.middleware.PrometheusAfterMiddleware",
    ]
    DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.sqlite3"
