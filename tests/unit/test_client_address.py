"""Who the client is: X-Forwarded-For is believed only from the configured trusted proxies."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from aarshjul.settings import Settings
from service.rate_limit import client_address


def _request(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 5000)})


PROXIES = Settings(trusted_proxies="10.0.0.5, 10.1.0.0/16").trusted_proxy_networks  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.9", (), "203.0.113.9"),  # no proxy
        ("203.0.113.9", ("198.51.100.1",), "203.0.113.9"),  # an untrusted peer cannot choose its address
        ("10.0.0.5", ("198.51.100.1",), "198.51.100.1"),  # the proxy vouches for its client
        ("10.0.0.5", ("6.6.6.6, 198.51.100.1",), "198.51.100.1"),  # what the client wrote itself is ignored
        ("10.0.0.5", ("198.51.100.1, 10.1.2.3",), "198.51.100.1"),  # two trusted proxies in a row
        ("10.0.0.5", ("6.6.6.6", "198.51.100.1, 10.1.2.3"), "198.51.100.1"),  # the header sent twice
        ("10.0.0.5", ("not-an-address, 10.1.2.3",), "10.1.2.3"),  # malformed: stop at the last good hop
        ("10.0.0.5", (), "10.0.0.5"),  # a proxy that says nothing is itself the client
        ("10.0.0.6", ("198.51.100.1",), "10.0.0.6"),  # one address off the list is not trusted
        ("2001:db8::1", ("198.51.100.1",), "2001:db8::1"),
    ],
)
def test_the_client_is_the_first_address_no_trusted_proxy_added(
    peer: str, forwarded: tuple[str, ...], client: str
) -> None:
    assert client_address(_request(peer, *forwarded), PROXIES) == client


def test_without_trusted_proxies_the_header_is_never_read() -> None:
    assert client_address(_request("127.0.0.1", "198.51.100.1"), ()) == "127.0.0.1"


def test_a_bad_proxy_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="not an address or network"):
        Settings(trusted_proxies="10.0.0.5, proxy.local")  # type: ignore[arg-type]
