"""Where a webhook may point: globally routable addresses only, checked where it is registered and
again on the address each delivery connects to (a name's DNS answer can change in between).

``ipaddress``'s ``is_global`` decides: loopback, private networks (10/8, 172.16/12, 192.168/16,
fc00::/7), link-local (169.254/16, where cloud metadata services answer), carrier-grade NAT,
documentation and reserved ranges are refused, and so is multicast. A name is resolved and every
address it resolves to must be global: a name that also leads inside the network is refused
rather than half-trusted. Development may turn the check off (``ZB_ENV=development`` and
``ZB_WEBHOOK_ALLOW_PRIVATE=true``) for receivers on the same machine.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket


class AddressNotPublic(Exception):
    """The host is, or resolves to, an address that is not globally routable."""


class HostUnresolvable(Exception):
    """The host name does not resolve."""


def is_public(address: str) -> bool:
    """True for a globally routable unicast IP address (text form, an IPv6 zone id refused)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_global and not ip.is_multicast


def literal(host: str) -> bool:
    """True when ``host`` is an IP address rather than a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def public_addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, all of them public; raises otherwise."""
    if literal(host):
        if not is_public(host):
            raise AddressNotPublic(host)
        return [host]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise HostUnresolvable(host) from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise HostUnresolvable(host)
    if not all(is_public(a) for a in addresses):
        raise AddressNotPublic(host)
    return addresses
