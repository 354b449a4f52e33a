"""The two measured views: a trivial one, and one running five ORM queries; each writes one INFO log
line, so that the configurations exporting logs have one record per request to export."""

from __future__ import annotations

import logging

from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.urls import path

from benchmarks.paths import BUSY, QUERIES, TRIVIAL
from benchmarks.shop.models import Item

logger = logging.getLogger(__name__)


def trivial(request: HttpRequest) -> HttpResponse:
    logger.info("trivial view served")
    return HttpResponse("ok")


def five_queries(request: HttpRequest) -> HttpResponse:
    names = [item.name for item in Item.objects.all()[:10]]
    count = Item.objects.count()
    first = Item.objects.filter(pk=1).first()
    exists = Item.objects.filter(name="item-3").exists()
    total = Item.objects.filter(price__gt=10).aggregate(total=Sum("price"))["total"]
    logger.info("five queries served: %d items", count)
    return HttpResponse(f"{len(names)} {count} {first} {exists} {total}")


def busy(request: HttpRequest) -> HttpResponse:
    """CPU work of a fixed size (``?n=`` loop steps): a request past the profiler's threshold."""
    total = 0
    for step in range(int(request.GET.get("n", "1000"))):
        total += step % 7
    return HttpResponse(str(total))


urlpatterns = [
    path(TRIVIAL.strip("/") + "/", trivial),
    path(QUERIES.strip("/") + "/", five_queries),
    path(BUSY.strip("/") + "/", busy),
]
