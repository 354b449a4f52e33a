#!/usr/bin/env python3
"""Keep a file holding a current OAuth 2 access token for collector/config/googlecloud.yaml, which reads it
(GOOGLE_OAUTH_TOKEN_FILE) and again whenever it changes. The collector cannot mint Google tokens itself at
its release (the googleclientauth extension is not available), so this runs beside it: a sidecar
container, a systemd unit.

    python3 scripts/google_access_token.py /var/run/google/access-token          # keeps it fresh
    python3 scripts/google_access_token.py --once /var/run/google/access-token   # one token (init container)

The credentials are found as Google's own libraries find them (Application Default Credentials):
GOOGLE_APPLICATION_CREDENTIALS (a service-account key, or a workload identity federation config), gcloud's
application-default login, or the metadata server on GCE, GKE and Cloud Run. Needs google-auth and
requests (`pip install google-auth requests`). The token is never printed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

import google.auth
from google.auth.transport.requests import Request

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
REFRESH_BEFORE = 600.0  # seconds before the token expires (they last an hour)
RETRY_AFTER = 30.0  # seconds after a failed refresh; the collector keeps the last token meanwhile


def write_token(path: Path, token: str) -> None:
    """Replace the file at once (a reader never sees half a token), readable by its owner only."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(token + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def refresh(credentials: google.auth.credentials.Credentials, path: Path) -> float:
    """Write a fresh token; return the seconds until the next refresh is due."""
    credentials.refresh(Request())  # type: ignore[no-untyped-call]
    write_token(path, credentials.token)
    expiry = credentials.expiry  # naive UTC, as google-auth keeps it
    if expiry is None:
        return RETRY_AFTER * 10
    left = (expiry - datetime.datetime.now(datetime.UTC).replace(tzinfo=None)).total_seconds()
    return max(RETRY_AFTER, left - REFRESH_BEFORE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="the token file (GOOGLE_OAUTH_TOKEN_FILE)")
    parser.add_argument("--once", action="store_true", help="write one token and exit")
    args = parser.parse_args(argv)
    credentials, _ = google.auth.default(scopes=[SCOPE])  # type: ignore[no-untyped-call]
    while True:
        try:
            wait = refresh(credentials, args.path)
        except Exception as error:  # a network or credentials error: say what, never the token
            print(f"google_access_token: refresh failed: {type(error).__name__}: {error}", file=sys.stderr)
            if args.once:
                return 1
            wait = RETRY_AFTER
        else:
            if args.once:
                return 0
        time.sleep(wait)


if __name__ == "__main__":
    sys.exit(main())
