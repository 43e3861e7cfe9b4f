"""The client address behind trusted proxies: the rightmost untrusted X-Forwarded-For hop, used by rate limits."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import msgspec
import pytest

from api.app import create_app
from api.config import ConfigError, Settings
from api.kernel.client_address import parse_networks, resolve
from tests.browser import live_server

PROXIES = parse_networks("10.0.0.0/8, 127.0.0.1, 2001:db8::/32")


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("198.51.100.7", ["203.0.113.1"], "198.51.100.7"),  # an untrusted peer's header is ignored
        ("127.0.0.1", [], "127.0.0.1"),  # a proxy that forwarded nothing is the client
        ("127.0.0.1", ["198.51.100.7"], "198.51.100.7"),
        ("127.0.0.1", ["203.0.113.1, 198.51.100.7"], "198.51.100.7"),  # a client-made hop is never reached
        ("127.0.0.1", ["198.51.100.7, 10.1.2.3"], "198.51.100.7"),  # a chain of trusted proxies is walked
        ("127.0.0.1", ["198.51.100.7", "10.1.2.3"], "198.51.100.7"),  # several header lines are one list
        ("127.0.0.1", ["10.9.9.9, 10.1.2.3"], "10.9.9.9"),  # all trusted: the farthest hop
        ("127.0.0.1", ["not-an-address, 10.1.2.3"], "10.1.2.3"),  # garbage stops the walk
        ("127.0.0.1", ["[2001:db9::5]:443"], "2001:db9::5"),
        ("127.0.0.1", ["198.51.100.7:51234"], "198.51.100.7"),
        ("::ffff:127.0.0.1", ["198.51.100.7"], "198.51.100.7"),  # IPv4-mapped peers are IPv4
        ("testclient", ["198.51.100.7"], "testclient"),
        (None, ["198.51.100.7"], "unknown"),
    ],
)
def test_rightmost_untrusted_hop(peer: str | None, forwarded: list[str], expected: str) -> None:
    assert resolve(peer, forwarded, PROXIES) == expected


def test_without_trusted_proxies_the_header_means_nothing() -> None:
    assert resolve("127.0.0.1", ["198.51.100.7"], ()) == "127.0.0.1"


def test_a_bad_proxy_entry_stops_startup_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"ZB_TRUSTED_PROXIES.*10\.0\.0\.0/33"):
        Settings.from_env({"ZB_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/33"})
    assert Settings.from_env({"ZB_TRUSTED_PROXIES": "127.0.0.1/32, 10.0.0.0/8"}).trusted_proxies


@pytest.fixture
def serve(settings: Settings) -> Iterator[object]:
    def run(trusted: str):
        return live_server(create_app(msgspec.structs.replace(settings, trusted_proxies=trusted)))

    yield run


async def _sms_sends(base: str, forwarded_for: str | None, n: int, first_phone: int) -> list[int]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        return [
            (
                await http.post("/v1/auth/sms/send", json={"phone": f"138{first_phone + i:08d}"}, headers=headers)
            ).status_code
            for i in range(n)
        ]


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(serve) -> None:
    with serve("127.0.0.1") as base:
        # 30 code sends an hour per client address.
        assert await _sms_sends(base, "198.51.100.7", 30, 0) == [202] * 30
        assert await _sms_sends(base, "198.51.100.7", 1, 100) == [429]
        # The same client cannot buy a fresh budget by writing its own hop in front of the proxy's.
        assert await _sms_sends(base, "198.51.100.8, 198.51.100.7", 1, 200) == [429]
        assert await _sms_sends(base, "198.51.100.8", 1, 300) == [202]


async def test_without_trusted_proxies_forwarded_for_buys_no_budget(serve) -> None:
    with serve("") as base:
        assert await _sms_sends(base, None, 30, 0) == [202] * 30
        assert await _sms_sends(base, "198.51.100.9", 1, 100) == [429]
