"""DCM_OTEL['health'] is validated with the rest of DCM_OTEL, every problem named by its sub-key."""

from __future__ import annotations

import ipaddress

import pytest

from dcm_otel.config import DEFAULT_EXCLUDED_PATHS, ConfigError, load_config
from dcm_otel.health.settings import HealthSettings


def test_defaults_bound_readiness_under_two_seconds() -> None:
    health = load_config({}, {}).health
    assert health == HealthSettings()
    assert health.checks == ("database", "docker", "queue")
    assert health.timeout < 2


def test_values_are_parsed() -> None:
    health = load_config(
        {
            "health": {
                "timeout": 1,
                "timeouts": {"docker": 0.5},
                "cache_ttl": 0,
                "docker_policy": 2,
                "details_ips": ["127.0.0.1", "10.0.0.0/8"],
                "checks": ["database", "myapp.health.redis"],
            }
        },
        {},
    ).health
    assert (health.timeout_of("docker"), health.timeout_of("database"), health.timeout_of("x", 0.2)) == (
        0.5,
        1.0,
        0.2,
    )
    assert health.details_ips == (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))
    assert (health.cache_ttl, health.docker_policy) == (0.0, 2)


def test_every_invalid_sub_key_is_named_with_its_value_and_what_is_allowed() -> None:
    bad = {
        "timeout": -1,
        "docker_policy": "most",
        "details_token": "short",
        "colour": "red",
        "ready_path": "x",
    }
    with pytest.raises(ConfigError) as error:
        load_config({"health": bad, "sampler": "often"}, {})
    messages = {p.key: str(p) for p in error.value.problems}
    assert set(messages) == {
        "DCM_OTEL['sampler']",
        "DCM_OTEL['health']['timeout']",
        "DCM_OTEL['health']['docker_policy']",
        "DCM_OTEL['health']['details_token']",
        "DCM_OTEL['health']['colour']",
        "DCM_OTEL['health']['ready_path']",
    }
    assert messages["DCM_OTEL['health']['timeout']"] == (
        "DCM_OTEL['health']['timeout']=-1 is invalid: expected a number of seconds above 0"
    )
    assert "'all', 'any' or a minimum number of hosts" in messages["DCM_OTEL['health']['docker_policy']"]


def test_health_must_be_a_dict() -> None:
    with pytest.raises(ConfigError, match=r"DCM_OTEL\['health'\]=\[\] is invalid: expected a dict"):
        load_config({"health": []}, {})


def test_moved_endpoints_are_excluded_from_traces() -> None:
    config = load_config({"health": {"live_path": "/livez", "ready_path": "/readyz"}}, {})
    assert config.excluded_paths == (*DEFAULT_EXCLUDED_PATHS, "/livez", "/readyz")
    explicit = load_config({"health": {"live_path": "/livez"}, "excluded_paths": ["/static/"]}, {})
    assert explicit.excluded_paths == ("/static/",)


def test_a_check_name_that_is_neither_built_in_nor_a_dotted_path_is_refused() -> None:
    with pytest.raises(ConfigError) as error:
        load_config({"health": {"checks": ["database", "databse"]}}, {})
    (problem,) = error.value.problems
    assert problem.key == "DCM_OTEL['health']['checks']"
    assert "unknown: databse" in str(problem)
    assert "database, docker, queue, cache, otlp" in str(problem)


def test_every_built_in_name_has_a_check() -> None:
    from dcm_otel.health.checks import BUILTINS
    from dcm_otel.health.settings import BUILTIN_CHECKS

    assert tuple(BUILTINS) == BUILTIN_CHECKS
