"""A small Django project that runs jobs with django-container-manager and is observed by dcm_otel."""
