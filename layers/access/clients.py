"""Who is really calling: the peer address, or — only behind a proxy we were told to trust —
the address that proxy says it forwarded for. Trusting X-Forwarded-For from anyone would let
every client pick its own identity (and its own rate-limit bucket)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache


@lru_cache(maxsize=64)
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(t, strict=False) for t in trusted)


def _is_trusted(address: str, trusted: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in _networks(trusted))


def client_address(peer: str | None, forwarded_for: str | None,
                   trusted_proxies: list[str] | tuple[str, ...]) -> str:
    """The right-most X-Forwarded-For hop that is not a trusted proxy, when the peer is one;
    otherwise the peer itself."""
    trusted = tuple(trusted_proxies)
    address = peer or "unknown"
    if not trusted or not forwarded_for or not _is_trusted(address, trusted):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return address  # a garbled header: fall back to the proxy itself
    return address
