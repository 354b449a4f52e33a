"""A slow request's, a DB-heavy request's and a slow job cycle's profiles, reachable from their traces in
the admin: the real middleware and processor, the real sampler thread, the trace explorer's database and
the profile files; requests through Django's test client, a cycle of the real ``process_container_jobs``
(mock executor)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.profiling import project
from tests.trace_explorer.scripts import run_script

SCRIPT = """
import json
import django

django.setup()
from container_manager.management.commands.process_container_jobs import Command
from container_manager.models import ContainerJob, ExecutorHost
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from dcm_otel import runtime
from dcm_otel.trace_explorer.database import explorer_database
from dcm_otel.trace_explorer.models import TraceSpan

call_command("migrate", verbosity=0)
staff = User.objects.create_superuser("staff", "s@example.com", "pw")
client = Client()
client.get("/slow/")
client.get("/fast/")
client.get("/queries/")
host = ExecutorHost.objects.create(name="mock-1", executor_type="mock", connection_string="mock://")
ContainerJob.objects.create(docker_host=host, name="j", command="true", docker_image="app:1")
call_command(Command(), "--legacy-mode", "--single-run", "--poll-interval=1", verbosity=0)
runtime.current().telemetry.tracer_provider.force_flush()

spans = TraceSpan.objects.using(explorer_database())
def kept(name):
    return [(row.trace_id, json.loads(row.attributes)) for row in spans.filter(name=name)]

client.force_login(staff)
def page(url):
    response = client.get(url)
    return {"status": response.status_code, "text": response.content.decode()}

out = {"slow": kept("GET /slow/"), "fast": kept("GET /fast/"), "polls": kept("dcm.processor.poll")}
out["queries"] = kept("GET /queries/")
out["pages"] = {}
for trace_id, attributes in out["slow"] + out["fast"] + out["polls"] + out["queries"]:
    out["pages"][trace_id] = page(f"/admin/dcm-otel/traces/{trace_id}/")
    profile_id = attributes.get("dcm.profile.id")
    if profile_id:
        out["pages"][profile_id] = page(f"/admin/dcm-otel/profiles/{profile_id}/")
out["missing"] = page("/admin/dcm-otel/profiles/" + "0" * 32 + "/")["status"]
out["traversal"] = page("/admin/dcm-otel/profiles/..%2F..%2Fetc%2Fpasswd/")["status"]
client.logout()
out["anonymous"] = page(f"/admin/dcm-otel/profiles/{out['slow'][0][1].get('dcm.profile.id')}/")["status"]
print(json.dumps(out))
"""


def functions(text: str) -> list[str]:
    """The call tree's functions, in the order drawn."""
    return [part.split('"', 1)[0] for part in text.split('data-function="')[1:]]


def run(tmp_path: Path) -> tuple[Any, Path]:
    profiles = tmp_path / "profiles"
    out, _ = run_script(project.write(tmp_path / "project", profiles), "profiles_script.py", SCRIPT)
    return out, profiles


def test_slow_work_has_a_profile_reachable_from_its_trace(tmp_path: Path) -> None:
    out, profiles = run(tmp_path)
    [(slow_trace, slow)] = out["slow"]
    [(fast_trace, fast)] = out["fast"]
    assert "dcm.profile.id" not in fast  # under the threshold: no profile
    assert 'class="dcm-profile-link"' not in out["pages"][fast_trace]["text"]
    assert slow["dcm.profile.trigger"] == "duration"
    profile_id = slow["dcm.profile.id"]
    link = f'href="/admin/dcm-otel/profiles/{profile_id}/"'
    assert link in out["pages"][slow_trace]["text"]  # the trace page links the span's profile

    shown = out["pages"][profile_id]
    assert shown["status"] == 200
    tree = functions(shown["text"])
    assert tree[0] == "TelemetryMiddleware.__call__"  # rooted at the request
    assert "slow_view" in tree  # the view's own frame, where the time went
    assert tree.index("crunch") > tree.index("slow_view")  # and what it called, under it
    assert f'href="/admin/dcm-otel/traces/{slow_trace}/"' in shown["text"]  # and back to the trace

    # The DB-heavy request: profiled for its query count (seen before its duration), down to its view.
    [(_, queries)] = out["queries"]
    assert queries["dcm.profile.trigger"] == "db_queries"
    assert "queries_view" in functions(out["pages"][queries["dcm.profile.id"]]["text"])

    # The slow job cycle: its poll span has the profile, rooted at the poll, with the hook's frame.
    profiled = [(t, a) for t, a in out["polls"] if "dcm.profile.id" in a]
    assert len(profiled) == 1, out["polls"]
    poll_trace, poll = profiled[0]
    assert f'href="/admin/dcm-otel/profiles/{poll["dcm.profile.id"]}/"' in out["pages"][poll_trace]["text"]
    cycle = functions(out["pages"][poll["dcm.profile.id"]]["text"])
    assert cycle[0] == "Processor._poll"
    assert "slow_job_hook" in cycle

    # The files (the admin's own pages may be slow too on a busy machine, and profiled): code locations only.
    files = {f.name.rpartition("-")[2].removesuffix(".json"): f for f in profiles.glob("*.json")}
    assert {profile_id, poll["dcm.profile.id"]} <= files.keys()
    stored = json.loads(files[profile_id].read_text())
    assert (stored["trace_id"], stored["kind"], stored["name"]) == (slow_trace, "request", "GET /slow/")
    assert stored["samples"] >= 2
    assert out["missing"] == 404
    assert out["traversal"] == 404
    assert out["anonymous"] == 302  # staff only: the admin's login
