"""The client's address: one answer per request, shared by rate limits and the audit log.

``client_address(request)`` is the TCP peer, unless that peer is one of the trusted proxies
(``ZB_TRUSTED_PROXIES``: addresses or CIDR blocks, comma-separated). Then ``X-Forwarded-For`` is
read from the right, skipping hops that are themselves trusted proxies, and the first hop that is
not is the client: every hop left of it was written by someone we do not trust, so a client that
sends its own ``X-Forwarded-For`` only adds entries we never reach. With no trusted proxies (the
default) the header is ignored altogether.

Usage::

    from api.kernel.client_address import client_address
    await ratelimit.hit(redis, f"ip:{client_address(request)}", LIMIT)
    await audit.append(conn, ..., client_address=client_address(request), at=now)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any, cast

from litestar.connection import ASGIConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = "unknown"
_SCOPE_KEY = "zb.client_address"


def parse_networks(value: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 192.0.2.7"`` → networks; raise ``ValueError`` naming the entry that is not one."""
    networks: list[Network] = []
    for entry in value.replace(";", ",").split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"not an address or CIDR block: {entry!r}") from None
    return tuple(networks)


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address: Address, proxies: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def resolve(peer: str | None, forwarded_for: Iterable[str], proxies: Sequence[Network]) -> str:
    """The client address seen through ``proxies``, from the peer and the ``X-Forwarded-For`` values."""
    current = _address(peer) if peer else None
    if current is None:
        return peer or UNKNOWN
    if not proxies or not _trusted(current, proxies):
        return str(current)
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # A trusted proxy never writes garbage; whatever wrote it is not trusted: stop at the
            # last hop we could believe.
            break
        current = address
        if not _trusted(current, proxies):
            break
    return str(current)


def client_address(request: ASGIConnection) -> str:
    """The address of the client behind ``request`` (see the module docstring); computed once per request."""
    # A plain dict at run time; the key is ours (namespaced), so not one the scope's TypedDict knows.
    scope = cast("dict[str, Any]", request.scope)
    known: str | None = scope.get(_SCOPE_KEY)
    if known is not None:
        return known
    proxies = getattr(request.app.state, "trusted_proxies", ())
    peer = request.client.host if request.client else None
    forwarded = request.headers.getall("x-forwarded-for", []) if proxies else []
    address = resolve(peer, forwarded, proxies)
    scope[_SCOPE_KEY] = address
    return address
