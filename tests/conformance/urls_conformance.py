"""Views of the conformance workload: the factory project's routes plus failing SQL, a query string, a
logged exception and the dcm_otel endpoints."""

import logging

from django.db import DatabaseError, connections
from django.http import HttpResponse
from django.urls import include, path
from urls import urlpatterns as base

log = logging.getLogger("conformance")


def bad_sql(request, alias):
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT nope FROM missing_table WHERE id = %s AND name = 'conformance'", [42])
    except DatabaseError:
        return HttpResponse("failed as planned")
    return HttpResponse("unexpected", status=500)


def search(request):
    return HttpResponse(request.GET.get("q", ""))


def logged(request):
    try:
        {}["missing"]
    except KeyError:
        log.exception("lookup failed", extra={"status_code": 200})
    return HttpResponse("logged")


urlpatterns = [
    *base,
    path("bad-sql/<str:alias>/", bad_sql),
    path("search/", search),
    path("logged/", logged),
    path("", include("dcm_otel.urls")),
]
