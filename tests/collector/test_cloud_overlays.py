"""The cloud overlays, run by the built collector against a local stand-in for the cloud's intake that
records the exact requests: googlecloud.yaml (Google's Telemetry API, OTLP/HTTP with an OAuth 2 access
token read from a file, which the collector reads again when it changes), with the token file kept by
scripts/google_access_token.py from a service-account key made for the test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from tests.services._common import wait_until

from .configs import DOC, ROOT, Collector, config_args, running_collector
from .google_token import token_endpoint
from .standin import StandIn, stand_in
from .telemetry import SERVICE, Sent, send_sample
from .test_overlays import ARRIVAL_TIMEOUT, arrived, received, request_resources

PROJECT = "dcm-otel-test-project"
REFRESHER = ROOT / "scripts" / "google_access_token.py"
TOKEN_RELOADED = "refresh token"  # what the bearertokenauth extension logs when it reads the file again
SIGNALS = ("traces", "logs")


def test_googlecloud_sends_traces_and_logs_with_a_token_the_refresher_keeps_fresh(
    collector_binary: Path, tmp_path: Path
) -> None:
    """scripts/google_access_token.py signs in with a service-account key (Google's own library, against
    a stand-in token endpoint) and writes the token file; the collector sends with the token in it, and
    with the next one once the refresher replaced it."""
    token_file, key_file = tmp_path / "access-token", tmp_path / "service-account.json"
    with token_endpoint(key_file) as tokens, stand_in() as intake:
        refresh_token(key_file, token_file)
        env = {
            "GOOGLE_TELEMETRY_ENDPOINT": intake.url,
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "GOOGLE_OAUTH_TOKEN_FILE": str(token_file),
        }
        with running_collector(collector_binary, ["base", "googlecloud"], env, tmp_path) as collector:
            first = send_sample(collector.otlp_http)
            assert wait_until(
                lambda: all(arrived(intake, first, s) for s in SIGNALS), ARRIVAL_TIMEOUT, 0.2
            ), (
                intake.requests,
                collector.log_tail(),
            )
            reloads = collector.log_tail().count(TOKEN_RELOADED)
            refresh_token(key_file, token_file)
            assert wait_until(
                lambda: collector.log_tail().count(TOKEN_RELOADED) > reloads, ARRIVAL_TIMEOUT, 0.2
            )
            second = send_sample(collector.otlp_http)
            assert wait_until(lambda: all(arrived(intake, second, s) for s in SIGNALS), ARRIVAL_TIMEOUT, 0.2)
    assert (tokens.issued, tokens.refused) == (["ya29.local-1", "ya29.local-2"], [])
    assert [tokens_of(intake, sent) for sent in (first, second)] == [
        {"Bearer ya29.local-1"},
        {"Bearer ya29.local-2"},
    ]
    assert not intake.of("metrics")
    for signal in SIGNALS:
        for request in intake.of(signal):
            assert request.path == f"/v1/{signal}"
            assert request.headers["x-goog-user-project"] == PROJECT
            assert request.headers["content-type"] == "application/x-protobuf"
            assert request.headers["content-encoding"] == "gzip"
            for resource in request_resources(request):
                assert resource["gcp.project_id"] == PROJECT
                assert resource["service.name"] == SERVICE


def refresh_token(key_file: Path, token_file: Path) -> None:
    """One run of the refresher, with only the service-account key as credentials."""
    environ = {name: value for name, value in os.environ.items() if not name.startswith(("GOOGLE_", "GCE_"))}
    environ["GOOGLE_APPLICATION_CREDENTIALS"] = str(key_file)
    done = subprocess.run(
        [sys.executable, str(REFRESHER), "--once", str(token_file)],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ya29" not in done.stdout + done.stderr  # the token is never printed


def tokens_of(intake: StandIn, sent: Sent) -> set[str]:
    """The Authorization headers of the requests that carried ``sent``."""
    return {r.headers["authorization"] for s in SIGNALS for r in intake.of(s) if received(r, sent)}


def test_bearer_auth_and_googlecloud_run_together_with_the_documented_extensions_file(
    collector_binary: Path, tmp_path: Path
) -> None:
    """Each overlay names the enabled extensions (a list that a later file replaces): with the last file
    docs/collector.md gives, both run; without it, the receivers' authenticator is missing at startup."""
    snippet = re.search(r"`(service: \{extensions: \[[^`]+\]\})`", DOC.read_text())
    assert snippet, "docs/collector.md no longer gives the extensions file"
    both = tmp_path / "extensions.yaml"
    both.write_text(yaml.safe_dump(yaml.safe_load(snippet.group(1))))
    token_file = tmp_path / "access-token"
    token_file.write_text("ya29.token")
    env = {"GOOGLE_OAUTH_TOKEN_FILE": str(token_file), "GOOGLE_CLOUD_PROJECT": PROJECT}
    with stand_in() as intake:
        env |= {"GOOGLE_TELEMETRY_ENDPOINT": intake.url, "OTELCOL_INGEST_TOKEN": "ingest-token-1"}
        overlays: list[str | Path] = ["base", "bearer-auth", "googlecloud"]
        with running_collector(collector_binary, [*overlays, both], env, tmp_path) as collector:
            assert collector.healthy()
        without = Collector(collector_binary, overlays, env, tmp_path)
        done = subprocess.run(
            [str(collector_binary), *config_args(overlays)],
            capture_output=True,
            text=True,
            timeout=60,
            env=without.env,
            check=False,
        )
    assert done.returncode != 0
    assert 'failed to resolve authenticator "bearertokenauth/ingest"' in done.stderr, done.stderr
