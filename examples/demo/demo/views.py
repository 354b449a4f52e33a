"""The demo's pages: the job list, one job, and a form that queues a job for the job processor."""

from container_manager.models import ContainerJob, ExecutorHost
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

ACTIVE_STATUSES = ("pending", "queued", "launching", "running", "retrying")


def current_host() -> ExecutorHost | None:
    """The host run_demo.py configured last: it deactivates the demo's other hosts."""
    return ExecutorHost.objects.filter(is_active=True).order_by("-updated_at").first()


def home(request: HttpRequest) -> HttpResponse:
    jobs = list(ContainerJob.objects.select_related("docker_host")[:50])
    context = {
        "jobs": jobs,
        "host": current_host(),
        # Reload while something is in flight, so the statuses move without touching the page.
        "refresh": any(job.status in ACTIVE_STATUSES for job in jobs),
    }
    return render(request, "demo/home.html", context)


def job_detail(request: HttpRequest, pk: str) -> HttpResponse:
    job = get_object_or_404(ContainerJob.objects.select_related("docker_host"), pk=pk)
    return render(request, "demo/job_detail.html", {"job": job, "refresh": job.status in ACTIVE_STATUSES})


@require_POST
def job_new(request: HttpRequest) -> HttpResponse:
    host = current_host()
    if host is None:
        return HttpResponseBadRequest("No active executor host: start the demo with run_demo.py.")
    job = ContainerJob.objects.create_job(
        image=settings.DEMO_JOB_IMAGE,
        command=request.POST.get("command", "").strip() or "echo hello",
        name=request.POST.get("name", "").strip() or "from-the-page",
        docker_host=host,
        timeout_seconds=120,
        created_by=request.user if request.user.is_authenticated else None,
    )
    return redirect("job-detail", pk=job.pk)
