"""``path("admin/dcm-otel/", include("dcm_otel.dashboard.urls"))``, placed before ``admin.site.urls``."""

from __future__ import annotations

from django.urls import path

from dcm_otel.dashboard import profiles, traces, views

app_name = "dcm_otel_dashboard"
urlpatterns = [
    path("", views.live, name="live"),
    path("data/", views.data, name="data"),
    path("history/", views.history, name="history"),
    path("assets/<str:name>", views.asset, name="asset"),
    path("traces/", traces.trace_list, name="traces"),
    path("traces/<str:trace_id>/", traces.trace_detail, name="trace"),
    path("traces/job/<str:job_id>/", traces.job_trace, name="job_trace"),
    path("profiles/<str:profile_id>/", profiles.profile_detail, name="profile"),
]
