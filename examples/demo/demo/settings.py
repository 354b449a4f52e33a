"""Settings of the demo: a plain Django project with container_manager on SQLite.

dcm_otel is adopted exactly as the README says, by the last line of this file; "dcm_otel" in INSTALLED_APPS
adds the trace explorer's tables (on here because DEBUG is true); nothing else here is specific to it.
"""

import os
from pathlib import Path

import dcm_otel.logs

BASE_DIR = Path(__file__).resolve().parent.parent
# The database lives here (gitignored); the tests point DEMO_VAR_DIR elsewhere to keep theirs apart.
VAR_DIR = Path(os.environ.get("DEMO_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = "dcm-otel-demo-only-not-a-secret"
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "container_manager",
    "dcm_otel",  # the trace explorer's tables (docs/trace-explorer.md)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo.urls"
WSGI_APPLICATION = "demo.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "demo" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "db.sqlite3",
        # The web server and the job processor write to the same file; wait for the lock, don't fail.
        "OPTIONS": {"timeout": 20},
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"

# Jobs queued from the home page use the image run_demo.py prepared for the engine it chose.
DEMO_JOB_IMAGE = os.environ.get("DEMO_JOB_IMAGE", "dcm-busybox:latest")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # container_manager and dcm_otel say at INFO what they do (jobs launched, where telemetry goes).
    "loggers": {
        "container_manager": {"handlers": ["console"], "level": "INFO"},
        "dcm_otel": {"handlers": ["console"], "level": "INFO"},
    },
}
LOGGING = dcm_otel.logs.structured_logging(LOGGING)  # JSON lines: docs/logging.md

# The one line a project adds to adopt dcm_otel (imported above); last, so that it sees every setting.
dcm_otel.init()
