"""The one HTTP client for fetches the server makes on a user's behalf (an
agent's file URL today; outbound webhooks and CRM calls tomorrow).

A URL someone else chose must not make the server reach what only the server
can reach: its own loopback, the private network, link-local addresses and the
cloud's metadata service (169.254.169.254, fd00:ec2::254). So every address is
checked where it is actually connected to, not where the URL's name seemed to
point: the resolver drops the addresses that are not public (DNS rebinding
gets nothing: the addresses checked are the ones connected to), and the socket
factory refuses them again (an IP written in the URL skips the resolver).
Redirects are followed by hand, a bounded number of times, each hop checked
the same way. The body is bounded in size and the whole fetch in time.

An admin may trust a host explicitly (``fetch.allow_hosts``: ``files.lan`` or
``10.0.0.5:8080``), which is then fetched whatever its addresses are.

Platform API clients (``api_base``) are configured by the admin and are not
user-supplied: they do not go through here.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# the well-known NAT64 prefix carries an IPv4 address in its last 32 bits
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# IETF protocol assignments: not hosts anyone serves files from, and not all flagged by ipaddress
_NOT_PUBLIC = (ipaddress.ip_network("192.0.0.0/24"),)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchRefused(Exception):
    """The URL may not be fetched (an address that is not public, a scheme
    that is not http(s), too many redirects) or did not give a file (an HTTP
    error, too large, too slow). The message is ours, safe to show an agent:
    it names the host, never the whole URL (its query may hold a credential).
    ``transient``: trying again later may work (a timeout, a 5xx)."""

    def __init__(self, reason: str, transient: bool = False) -> None:
        super().__init__(reason)
        self.transient = transient


@dataclass(frozen=True, slots=True)
class FetchLimits:
    allow_hosts: frozenset[str] = frozenset()
    max_bytes: int = 50 * 1024**2
    timeout: float = 30.0
    max_redirects: int = 5


@dataclass(frozen=True, slots=True)
class Fetched:
    body: bytes
    content_type: str | None
    # the last hop's URL, after redirects
    url: str


def _canonical(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _embedded(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a 6to4 (2002::/16) or Teredo (2001::/32) address carries."""
    found = [ip.sixtofour] if ip.sixtofour is not None else []
    return found + list(ip.teredo or ())


def is_public(address: str) -> bool:
    """Whether ``address`` (an IP) is one a user's URL may reach."""
    try:
        ip = _canonical(ipaddress.ip_address(address.split("%", 1)[0]))
    except ValueError:
        return False
    if any(ip in network for network in _NOT_PUBLIC if network.version == ip.version):
        return False
    if isinstance(ip, ipaddress.IPv6Address) and not all(is_public(str(v4)) for v4 in _embedded(ip)):
        return False  # 6to4 or Teredo carrying a private IPv4: a relay would take it there
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified
                                 or ip.is_link_local or ip.is_loopback or ip.is_private)


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchRefused(f"only http(s) URLs can be fetched, not {parts.scheme or 'this'}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchRefused(f"{parts.hostname}: the port is not a number") from None
    return parts.hostname.lower().rstrip("."), port


@dataclass
class _Hop:
    """What one fetch may connect to: public addresses, and the addresses of
    the allowlisted hosts it resolved on the way."""

    limits: FetchLimits
    trusted: set[tuple[str, int]] = field(default_factory=set)

    def allowed_host(self, host: str, port: int) -> bool:
        allow = self.limits.allow_hosts
        return host in allow or f"{host}:{port}" in allow or f"[{host}]:{port}" in allow

    def check(self, address: str, port: int) -> None:
        if (address, port) in self.trusted or self.allowed_host(address, port) or is_public(address):
            return
        raise FetchRefused(f"{address} is not a public address (set fetch.allow_hosts to trust a host)")


class _GuardedResolver(AbstractResolver):
    def __init__(self, hop: _Hop) -> None:
        self._hop = hop
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        if self._hop.allowed_host(host.lower().rstrip("."), port):
            self._hop.trusted.update((r["host"], r["port"]) for r in found)
            return found
        public = [r for r in found if is_public(r["host"])]
        if not public:
            raise FetchRefused(f"{host} resolves to no public address (set fetch.allow_hosts to trust it)")
        return public

    async def close(self) -> None:
        await self._resolver.close()


class GuardedFetcher:
    """Fetches a user's URL within ``limits``. One session per fetch: its DNS
    cache and connections never outlive the checks made for it."""

    def __init__(self, limits: FetchLimits | None = None) -> None:
        self.limits = limits or FetchLimits()

    async def fetch(self, url: str) -> Fetched:
        hop = _Hop(self.limits)

        def socket_factory(info: AddrInfoType) -> socket.socket:
            family, type_, proto, _, address = info
            hop.check(str(address[0]), int(address[1]))
            return socket.socket(family, type_, proto)

        connector = aiohttp.TCPConnector(resolver=_GuardedResolver(hop), socket_factory=socket_factory,
                                         force_close=True)
        timeout = aiohttp.ClientTimeout(total=self.limits.timeout)
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=timeout, trust_env=False) as http:
                return await self._follow(http, url)
        except TimeoutError:
            raise FetchRefused(f"{_host_of(url)} did not give the file within {self.limits.timeout:g} s",
                               transient=True) from None
        except aiohttp.ClientError as exc:
            # our words: aiohttp's own text carries the whole URL
            raise FetchRefused(f"{_host_of(url)} could not be reached ({type(exc).__name__})",
                               transient=True) from None

    async def _follow(self, http: aiohttp.ClientSession, url: str) -> Fetched:
        for _ in range(self.limits.max_redirects + 1):
            host, port = _host_port(url)
            async with http.get(url, allow_redirects=False) as resp:
                if resp.status in _REDIRECTS and "Location" in resp.headers:
                    url = urljoin(url, resp.headers["Location"])
                    log.debug("fetch: %s:%d redirects to %s", host, port, _host_of(url))
                    continue
                if resp.status >= 400:
                    raise FetchRefused(f"{host} answered HTTP {resp.status}", transient=resp.status >= 500)
                body = await self._read(resp, host)
                return Fetched(body, resp.headers.get("Content-Type"), url)
        raise FetchRefused(f"more than {self.limits.max_redirects} redirects")

    async def _read(self, resp: aiohttp.ClientResponse, host: str) -> bytes:
        limit = self.limits.max_bytes
        if resp.content_length is not None and resp.content_length > limit:
            raise FetchRefused(f"the file at {host} is larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise FetchRefused(f"the file at {host} is larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or "the host"
    except ValueError:
        return "the host"


def allow_list(hosts: Iterable[str]) -> frozenset[str]:
    """Allowlist entries as they are compared: lower case, no trailing dot."""
    return frozenset(h.strip().lower().rstrip(".") for h in hosts if h.strip())
