"""The demo's URLs. /metrics is not here: dcm_otel's middleware serves it."""

from django.contrib import admin
from django.urls import include, path

from demo import views

urlpatterns = [
    path("", views.home, name="home"),
    path("jobs/new/", views.job_new, name="job-new"),
    path("jobs/<uuid:pk>/", views.job_detail, name="job-detail"),
    path("admin/dcm-otel/", include("dcm_otel.dashboard.urls")),  # the live jobs dashboard
    path("admin/", admin.site.urls),
    path("", include("dcm_otel.urls")),  # /health/, /ready/ and /metrics
]
