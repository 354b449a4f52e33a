"""A view that queues a job inside an HTTP request, so the request span can be linked to the job's run."""

from container_manager.models import ContainerJob, ExecutorHost
from django.http import HttpResponse
from django.urls import path


def enqueue(request):
    job = ContainerJob.objects.create(
        docker_host=ExecutorHost.objects.get(name=request.POST["host"]),
        name="from-request",
        docker_image=request.POST["image"],
        command=request.POST["command"],
    )
    return HttpResponse(str(job.pk))


urlpatterns = [path("enqueue/", enqueue)]
