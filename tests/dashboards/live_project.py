"""The test project of the live dashboard: the admin, container_manager and the dashboard's one URL line."""

SETTINGS_TAIL = """
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "container_manager",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
STATIC_URL = "static/"
DATABASES["default"]["OPTIONS"] = {"timeout": 20}
"""

URLS = """\
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/dcm-otel/", include("dcm_otel.dashboard.urls")),
    path("admin/", admin.site.urls),
]
"""

# Users (printing a session key of the non-staff one), two hosts, jobs in every state, recent failures.
SEED = """\
from datetime import timedelta

import django

django.setup()
from container_manager.models import ContainerJob, ExecutorHost
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

call_command("migrate", verbosity=0)
User.objects.create_superuser("staff", "staff@example.com", "staff-pw")
plain = User.objects.create_user("plain", "plain@example.com", "plain-pw")
now = timezone.now()
alpha = ExecutorHost.objects.create(name="alpha", connection_string="tcp://alpha:2375")
beta = ExecutorHost.objects.create(name="beta", connection_string="tcp://beta:2375", is_active=False)
plan = [("pending", 3), ("queued", 2), ("running", 2), ("completed", 5), ("failed", 3), ("timeout", 1)]
i = 0
for status, n in plan:
    for _ in range(n):
        i += 1
        done = now - timedelta(minutes=i) if status in ("completed", "failed", "timeout") else None
        ContainerJob.objects.create(
            docker_host=alpha if i % 3 else beta, name=f"{status}-{i}", command="true", docker_image="app:1",
            status=status, started_at=now - timedelta(minutes=i, seconds=30) if status != "pending" else None,
            completed_at=done, exit_code=2 if status == "failed" else None,
            last_error="exit status 2" if status == "failed" else "",
        )
# A logged-in session of the non-staff user (the admin's login form refuses non-staff users).
from django.contrib.sessions.backends.db import SessionStore

session = SessionStore()
session.update({"_auth_user_id": str(plain.pk), "_auth_user_hash": plain.get_session_auth_hash(),
                "_auth_user_backend": "django.contrib.auth.backends.ModelBackend"})
session.create()
print(session.session_key)
"""

# Finishes one running job the way the job processor does: through the ORM.
FINISH = """\
import django

django.setup()
from container_manager.models import ContainerJob
from django.utils import timezone

job = ContainerJob.objects.filter(status="running").order_by("name").first()
job.status, job.exit_code, job.completed_at = "completed", 0, timezone.now()
job.save()
print(job.pk)
"""
