"""A PNG of an HTML file from headless Chromium (Debian's `chromium`), with a private profile and a bounded
wait."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT = 120.0


class ScreenshotError(RuntimeError):
    """No browser was found, or it failed or timed out (the message says which)."""


def browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise ScreenshotError(
        f"no headless browser found (tried {', '.join(BROWSERS)}): apt-get install chromium"
    )


def screenshot(html: Path, png: Path, width: int, height: int, timeout: float = TIMEOUT) -> None:
    with tempfile.TemporaryDirectory(prefix="dcm-preview-") as profile:
        argv = [
            browser(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={png.resolve()}",
            html.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as error:
            raise ScreenshotError(f"{argv[0]} took more than {timeout:g} s") from error
    if done.returncode != 0 or not png.exists():
        raise ScreenshotError(f"{argv[0]} exited {done.returncode}: {done.stderr[-2000:]}")
