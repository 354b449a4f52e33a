"""Views whose query the test's terminator kills mid-request: one catches the error, one lets it out."""

from django.db import connection
from django.http import HttpResponse
from django.urls import path

SLEEP = "SELECT pg_sleep(30) /* dcm-fault */"


def caught(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute(SLEEP)
    except Exception as exc:
        return HttpResponse(f"{type(exc).__module__}.{type(exc).__qualname__}")
    return HttpResponse("no error")


def uncaught(request):
    with connection.cursor() as cursor:
        cursor.execute(SLEEP)
    return HttpResponse("no error")


def ping(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok")


urlpatterns = [path("caught/", caught), path("uncaught/", uncaught), path("ping/", ping)]
