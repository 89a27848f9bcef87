"""The customer's address behind a reverse proxy.

A proxy in front of the service (nginx, a load balancer) makes every request
come from the proxy's own address. It passes the client's address in a header
(``X-Forwarded-For``, or RFC 7239's ``Forwarded``), which anyone can also
send: the header is believed only when the peer is a configured trusted
proxy (``server.trusted_proxies``), and then only up to the first address
that is not a trusted proxy, read from the right (the entries to its left
were written by the client and prove nothing).

aiohttp-remotes was weighed: its strict middlewares answer 400 to every
request that does not come through the proxy, and its filtered one believes
the header whatever the peer; neither is this rule.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Literal

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
ForwardedHeader = Literal["x-forwarded-for", "forwarded"]


def _address(text: str) -> Address | None:
    """An address as a forwarding header writes it: bare, ``"[v6]:port"``,
    ``v4:port``; None for "unknown", an obfuscated name or garbage."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _hops(request: web.Request, header: ForwardedHeader) -> list[str]:
    """The header's addresses, the client's first, the nearest proxy's last."""
    if header == "forwarded":
        return [element["for"] for element in request.forwarded if "for" in element]
    return [part for value in request.headers.getall(hdrs.X_FORWARDED_FOR, ()) for part in value.split(",")]


def _trusted(address: Address, proxies: Sequence[Network]) -> bool:
    return any(address in network for network in proxies)


def client_address(request: web.Request, proxies: Sequence[Network], header: ForwardedHeader) -> str | None:
    """The address the request came from: the peer's own, unless the peer is
    a trusted proxy; then the nearest address in its header that is not one."""
    peer = request.remote
    nearest = _address(peer) if peer else None
    if nearest is None or not _trusted(nearest, proxies):
        return peer
    for hop in reversed(_hops(request, header)):
        address = _address(hop)
        if address is None:
            break  # the proxy could not say: the last address known stands for the client
        nearest = address
        if not _trusted(address, proxies):
            break
    return str(nearest)


def trusted_proxy_middleware(proxies: Sequence[Network], header: ForwardedHeader) -> Middleware:
    """Sets ``request.remote`` to the client's address for every handler (rate
    limits, login lock-outs, logs)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = client_address(request, proxies, header)
        if client is not None and client != request.remote:
            request = request.clone(remote=client)
        return await handler(request)

    return middleware
