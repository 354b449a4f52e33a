"""Who may read what a plain caller must not: a caller presenting a secret token, or one connecting from an
allowed network. Shared by ``/metrics`` and the readiness details; the parsers are free of Django imports
(settings.py loads them)."""

from __future__ import annotations

import hmac
import ipaddress

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MIN_TOKEN_LENGTH = 16


def parse_token(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) < MIN_TOKEN_LENGTH:
        raise ValueError(f"None or a secret string of at least {MIN_TOKEN_LENGTH} characters")
    return raw


def parse_networks(raw: object) -> tuple[IpNetwork, ...]:
    allowed = "a list of IP addresses or networks, e.g. ['127.0.0.1', '10.0.0.0/8']"
    if isinstance(raw, str) or not isinstance(raw, list | tuple):
        raise ValueError(allowed)
    try:
        return tuple(ipaddress.ip_network(str(ip).strip(), strict=False) for ip in raw)
    except ValueError:
        raise ValueError(allowed) from None


def token_matches(presented: str | None, expected: str | None) -> bool:
    """Compared in constant time; no token configured matches nothing."""
    return bool(expected and presented) and hmac.compare_digest(
        str(presented).encode(), str(expected).encode()
    )


def from_networks(remote_addr: str, networks: tuple[IpNetwork, ...]) -> bool:
    """``REMOTE_ADDR`` in one of ``networks`` (behind a proxy, that is the proxy's address)."""
    if not networks:
        return False
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(address in network for network in networks)
