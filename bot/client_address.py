"""The address of the client behind a request, trusting `X-Forwarded-For` only from our proxies.

Behind the documented reverse proxy every request comes from 127.0.0.1, so throttling by the
socket address would lump every client together. RAPPORT_TRUSTED_PROXIES lists the proxies
(addresses or networks) whose `X-Forwarded-For` is believed: the client is the right-most
address in that header that is not itself a trusted proxy. Anything else (no trusted proxy,
a forged or garbled header) falls back to the socket address.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Optional, Union

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """"127.0.0.1, 10.0.0.0/8" → networks; raises ValueError naming a bad entry."""
    networks = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError as error:
            raise ValueError(f"not an address or network: {value!r}") from error
    return tuple(networks)


def _address(text: str) -> Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address, proxies: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_address(remote: Optional[str], forwarded_for: Optional[str],
                   trusted_proxies: tuple[Network, ...]) -> str:
    """The client's address as text ("unknown" when there is none)."""
    peer = _address(remote or "")
    if peer is None:
        return (remote or "unknown")[:64]
    if not forwarded_for or not _trusted(peer, trusted_proxies):
        return str(peer)
    for hop in reversed(forwarded_for.split(",")[-20:]):
        address = _address(hop)
        if address is None:
            return str(peer)  # garbled: trust nothing beyond our own proxy
        if not _trusted(address, trusted_proxies):
            return str(address)
    return str(peer)
