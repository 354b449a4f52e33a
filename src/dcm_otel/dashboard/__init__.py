"""A live jobs dashboard inside the Django admin: the embedded default when no Grafana exists.

``path("admin/dcm-otel/", include("dcm_otel.dashboard.urls"))`` before ``admin.site.urls`` is the whole
setup: templates and assets are read from this package, so no INSTALLED_APPS entry, collectstatic or build.
"""
