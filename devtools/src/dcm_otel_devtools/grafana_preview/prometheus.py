"""Prometheus's HTTP API as Grafana's Prometheus datasource uses it: dashboard variables filled in, a step
chosen from the time range, range queries for graphs and instant queries for tables."""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

# Grafana asks for about one point per pixel of a panel; a preview needs far fewer.
MAX_POINTS = 240
TIMEOUT = 30.0
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


class QueryError(RuntimeError):
    """Prometheus refused a query or could not be reached (the message says which)."""


@dataclass(frozen=True)
class TimeRange:
    start: float  # Unix seconds
    end: float
    scrape_interval: float = 15.0  # Grafana's default when the datasource does not set one

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def step(self) -> float:
        return max(self.scrape_interval, math.ceil(self.seconds / MAX_POINTS))

    def builtins(self) -> dict[str, str]:
        """Grafana's built-ins; $__rate_interval is max(step + scrape interval, 4 scrape intervals)."""
        rate = max(self.step + self.scrape_interval, 4 * self.scrape_interval)
        return {
            "__interval": f"{self.step:g}s",
            "__rate_interval": f"{rate:g}s",
            "__range": f"{math.ceil(self.seconds):d}s",
        }


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: list[tuple[float, float | None]]  # None where the value is NaN or infinite

    def last(self) -> float | None:
        return next((v for _, v in reversed(self.points) if v is not None), None)


def variables(board: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """A value per dashboard variable: the override, else "All" (its allValue, else .*) for a multi-value
    variable, else its current value."""
    values: dict[str, str] = {}
    for variable in board.get("templating", {}).get("list", []):
        name = variable["name"]
        if variable.get("includeAll"):
            values[name] = variable.get("allValue") or ".*"
        else:
            values[name] = str(variable.get("current", {}).get("value", ""))
    return {**values, **(overrides or {})}


def interpolate(expr: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values.get(name, match.group(0))

    return _VARIABLE.sub(one, expr)


class Prometheus:
    def __init__(self, url: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url.rstrip("/")

    def range(self, expr: str, time_range: TimeRange) -> list[Series]:
        params = {"start": time_range.start, "end": time_range.end, "step": time_range.step}
        data = self._get("query_range", expr, params)
        return [Series(item["metric"], [(float(t), _value(v)) for t, v in item["values"]]) for item in data]

    def instant(self, expr: str, time: float) -> list[Series]:
        data = self._get("query", expr, {"time": time})
        if data and "value" not in data[0]:  # a scalar or string result
            raise QueryError(f"not a vector: {expr}")
        return [
            Series(item["metric"], [(float(item["value"][0]), _value(item["value"][1]))]) for item in data
        ]

    def _get(self, endpoint: str, expr: str, params: dict[str, float]) -> list[dict[str, Any]]:
        query = urllib.parse.urlencode({"query": expr, **params})
        try:
            url = f"{self.url}/api/v1/{endpoint}?{query}"
            with urllib.request.urlopen(url, timeout=TIMEOUT) as answer:  # noqa: S310 (http(s) checked above)
                body = json.load(answer)
        except urllib.error.HTTPError as error:  # Prometheus answers a bad query with 400 and a JSON error
            body = _json_or_none(error) or {"errorType": error.code, "error": error.reason}
        except (OSError, ValueError) as error:
            raise QueryError(f"{self.url}: {error}") from error
        if body.get("status") != "success":
            raise QueryError(f"{body.get('errorType')}: {body.get('error')}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result


def _value(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _json_or_none(answer: Any) -> Any:
    try:
        return json.load(answer)
    except ValueError:
        return None
