"""``path("admin/dcm-otel/", include("dcm_otel.dashboard.urls"))``, placed before ``admin.site.urls``."""

from __future__ import annotations

from django.urls import path

from dcm_otel.dashboard import views

app_name = "dcm_otel_dashboard"
urlpatterns = [
    path("", views.live, name="live"),
    path("data/", views.data, name="data"),
    path("history/", views.history, name="history"),
    path("assets/<str:name>", views.asset, name="asset"),
]
