"""Values written the way Grafana writes them for the units our dashboards use."""

from __future__ import annotations

_SI = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))
_IEC = ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB"))


def number(value: float) -> str:
    """Three significant digits at most, no exponent, no trailing zeros."""
    if value == 0:
        return "0"
    size = abs(value)
    decimals = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3
    text = f"{value:.{decimals}f}"
    if size < 0.001:
        text = f"{value:.2g}"
    return text.rstrip("0").rstrip(".") if "." in text and "e" not in text else text


def _scaled(value: float, steps: tuple[tuple[float, str], ...], base: str) -> str:
    for size, suffix in steps:
        if abs(value) >= size:
            return f"{number(value / size)} {suffix}".rstrip()
    return f"{number(value)} {base}".rstrip()


def duration(value: float) -> str:
    size = abs(value)
    if size == 0:
        return "0 s"
    if size < 1:
        return f"{number(value * 1000)} ms"
    if size < 60:
        return f"{number(value)} s"
    if size < 3600:
        return f"{number(value / 60)} min"
    if size < 86400:
        return f"{number(value / 3600)} hour"
    return f"{number(value / 86400)} day"


def format_value(value: float | None, unit: str) -> str:
    """`unit` is a Grafana unit id; unknown ones are written as plain numbers."""
    if value is None:
        return "-"
    if unit == "percentunit":
        return f"{number(value * 100)}%"
    if unit == "s":
        return duration(value)
    if unit == "bytes":
        return _scaled(value, _IEC, "B")
    if unit == "ops":
        return f"{_scaled(value, _SI, '')} ops/s"
    if unit == "reqps":
        return f"{_scaled(value, _SI, '')} req/s"
    return _scaled(value, _SI, "")
