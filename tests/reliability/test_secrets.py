"""(Issue 12.7) Secrets an application holds (its DB password, an environment secret) or receives (an
Authorization header, a session cookie, an api_key in the query) must appear in no exported span, metric
point or log record."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.otlp_receiver import OtlpReceiver
from tests.project_factory import project_env, write_project
from tests.reliability._support import report
from tests.reliability.conftest import otlp_env
from tests.test_gunicorn import ONE_LINE, receiver

__all__ = ["receiver"]  # the fixture

SECRETS = {
    "db password": "db-pass-PLANTED-7f3a",
    "env secret": "env-secret-PLANTED-91c2",
    "authorization": "auth-token-PLANTED-5d8e",
    "cookie": "cookie-value-PLANTED-2b6f",
    "query token": "query-key-PLANTED-4e0d",
}
SETTINGS_TAIL = f'\nDATABASES["default"]["PASSWORD"] = "{SECRETS["db password"]}"\n' + ONE_LINE
SCRIPT = f"""\
import django
from django.test import Client

django.setup()
client = Client(raise_request_exception=False)
for path in ["/", "/boom/", "/missing/?api_key={SECRETS["query token"]}"]:
    response = client.get(
        path,
        HTTP_AUTHORIZATION="Bearer {SECRETS["authorization"]}",
        HTTP_COOKIE="sessionid={SECRETS["cookie"]}",
    )
    print(path, response.status_code, flush=True)
"""


def test_no_planted_secret_is_exported(tmp_path: Path, receiver: OtlpReceiver) -> None:
    project = write_project(tmp_path, settings_tail=SETTINGS_TAIL)
    (project / "secret_requests.py").write_text(SCRIPT)
    env = project_env(project, APP_API_TOKEN=SECRETS["env secret"], **otlp_env(receiver.endpoint))
    done = subprocess.run(
        [sys.executable, "secret_requests.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    with receiver.lock:
        exported = {
            path: [m.SerializeToString() for m in messages] for path, messages in receiver.received.items()
        }
    found = {
        name
        for name, secret in SECRETS.items()
        for bodies in exported.values()
        for b in bodies
        if secret.encode() in b
    }
    report(
        "planted secrets",
        exports={path: len(bodies) for path, bodies in sorted(exported.items())},
        secrets_planted=len(SECRETS),
        secrets_found=len(found),
    )
    assert set(exported) == {"/v1/traces", "/v1/metrics", "/v1/logs"}, "every signal was scanned"
    assert any(b"Internal Server Error" in b for b in exported["/v1/logs"]), "the error log was scanned"
    assert not found
