"""Profiles as JSON files in one directory, shared by every process of the machine and bounded by count
and bytes: after each write the newest are kept while both bounds hold, the older ones deleted. A file is
named ``<time written, ns>-<profile id>.json``, so its name orders it (file times are too coarse).

A file rather than a database row: the sampler's thread writes it without a database connection of its
own, and a profile is read only by the page that shows it. Files are created private to the user (0600
in a 0700 directory); a profile holds code locations only (:mod:`.call_tree`).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

_PROFILE_ID = re.compile(r"^[0-9a-f]{32}$")  # uuid4().hex: what a file name and a page's URL may hold
SUFFIX = ".json"


def valid_id(text: object) -> bool:
    return isinstance(text, str) and _PROFILE_ID.match(text) is not None


def default_directory() -> str:
    return str(Path(tempfile.gettempdir()) / "dcm_otel-profiles")


class ProfileStore:
    def __init__(self, directory: str | None, max_count: int, max_bytes: int) -> None:
        self.directory = Path(directory or default_directory())
        self.max_count, self.max_bytes = max_count, max_bytes

    def write(self, profile: dict[str, Any]) -> None:
        """Written under a temporary name and renamed, so a reader never sees half a profile."""
        if not valid_id(profile["id"]):
            raise ValueError(f"not a profile id: {profile['id']!r}")
        path = self.directory / f"{time.time_ns():020d}-{profile['id']}{SUFFIX}"
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w") as file:
                json.dump(profile, file, separators=(",", ":"))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.trim()

    def read(self, profile_id: str) -> dict[str, Any] | None:
        """The profile, or None when the id is malformed or its file is gone (trimmed, another machine's)."""
        if not valid_id(profile_id):
            return None
        for path in self.directory.glob(f"*-{profile_id}{SUFFIX}"):
            try:
                return json.loads(path.read_text())  # type: ignore[no-any-return]
            except (FileNotFoundError, ValueError):
                return None
        return None

    def trim(self) -> None:
        """Delete the oldest profiles beyond the bounds. Another process may trim at the same moment: a file
        already gone is no error."""
        found: list[tuple[str, int, Path]] = []
        for path in self.directory.glob(f"*{SUFFIX}"):
            try:
                found.append((path.name, path.stat().st_size, path))
            except FileNotFoundError:
                continue
        count = total = 0
        for _, size, path in sorted(found, reverse=True):
            count, total = count + 1, total + size
            if count > self.max_count or total > self.max_bytes:
                path.unlink(missing_ok=True)
