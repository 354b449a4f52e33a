"""The profiler's keys: defaults, their environment variables, and a wrong value refused at startup naming
the key, the value and what is allowed (each key's wrong values: tests/test_config.py)."""

from __future__ import annotations

from pathlib import Path

from dcm_otel.config import load_config
from tests.project_factory import write_project
from tests.test_init import ONE_LINE, manage


def test_off_by_default() -> None:
    config = load_config({}, {})
    assert config.profiling is False
    assert (config.profile_threshold, config.profile_db_queries, config.profile_interval) == (1.0, 100, 0.005)
    assert (config.profile_dir, config.profile_max_count, config.profile_max_bytes) == (None, 100, 20_000_000)


ENV = {
    "PROFILING": "true",
    "PROFILE_THRESHOLD": "0.25",
    "PROFILE_DB_QUERIES": "40",
    "PROFILE_INTERVAL": "0.01",
    "PROFILE_DIR": "/var/tmp/profiles",
    "PROFILE_MAX_COUNT": "7",
    "PROFILE_MAX_BYTES": "500000",
}


def test_environment_variables() -> None:
    config = load_config({}, {f"DCM_OTEL_{name}": value for name, value in ENV.items()})
    assert config.profiling is True
    assert (config.profile_threshold, config.profile_db_queries, config.profile_interval) == (0.25, 40, 0.01)
    assert (config.profile_dir, config.profile_max_count, config.profile_max_bytes) == (
        "/var/tmp/profiles", 7, 500_000
    )  # fmt: skip


def test_a_wrong_value_stops_the_app_at_startup(tmp_path: Path) -> None:
    tail = "\nDCM_OTEL = {'profiling': True, 'profile_interval': 2}\n" + ONE_LINE
    result = manage(write_project(tmp_path, settings_tail=tail), "migrate")
    assert result.returncode != 0
    assert "ImproperlyConfigured: dcm_otel: DCM_OTEL['profile_interval']=2 is invalid" in result.stderr
