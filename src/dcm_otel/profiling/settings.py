"""The parsers of the ``profile_*`` keys that no other key shares; free of Django and the SDK."""

from __future__ import annotations

import os

MIN_INTERVAL, MAX_INTERVAL = 0.001, 1.0


def sampling_interval(raw: object) -> float:
    """The sampling period: below a millisecond the sampler would compete with the work it samples."""
    allowed = f"a number of seconds from {MIN_INTERVAL} to {MAX_INTERVAL:g}"
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(allowed) from None
    if isinstance(raw, bool) or not MIN_INTERVAL <= value <= MAX_INTERVAL:
        raise ValueError(allowed)
    return value


def absolute_path(raw: object) -> str:
    """A directory every process of the machine writes to: a relative one would depend on each one's cwd."""
    if not isinstance(raw, str) or not os.path.isabs(raw.strip()):
        raise ValueError("an absolute directory path, e.g. /var/tmp/dcm_otel-profiles")
    return raw.strip()
