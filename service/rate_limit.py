"""Limits on the forms anyone may post, and who "anyone" is behind a reverse proxy.

The buckets live in the database (``aarshjul.usecases.shared.rate_limits``), so every web process
and every host sees the same counts. The client is the connection's peer, unless that peer is one
of ``AARSHJUL_TRUSTED_PROXIES``: then ``X-Forwarded-For`` is read from the right, skipping the
trusted proxies, and the first address they did not add is the client. A client cannot choose its
own address by sending the header, because the header is only believed from a trusted peer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.requests import Request

from aarshjul.runtime import Runtime
from aarshjul.usecases.shared.rate_limits import RateLimit, allow

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN_CLIENT = "unknown"


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, proxies: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in proxies)


def client_address(request: Request, proxies: Sequence[Network]) -> str:
    """The address of the client this request comes from, as far as the trusted proxies vouch."""
    peer = request.client.host if request.client else UNKNOWN_CLIENT
    current = _address(peer)
    if not _trusted(current, proxies):
        return str(current) if current is not None else peer
    forwarded = ",".join(request.headers.getlist("x-forwarded-for")).split(",")
    for hop in reversed([part.strip() for part in forwarded if part.strip()]):
        address = _address(hop)
        if address is None:
            break  # a malformed entry: nothing to its left can be vouched for
        current = address
        if not _trusted(address, proxies):
            break
    return str(current)


@dataclass(frozen=True)
class RequestLimits:
    """Both limits must allow a request: one per client address, one per email address typed."""

    per_client: RateLimit
    per_address: RateLimit

    @classmethod
    def hourly(cls, name: str, per_client: int, per_address: int) -> RequestLimits:
        return cls(RateLimit(f"{name}:client", per_client, 3600), RateLimit(f"{name}:address", per_address, 3600))

    def allow(self, runtime: Runtime, client: str, address: str) -> bool:
        return allow(runtime, [(self.per_client, client), (self.per_address, address)])
