"""The SSRF guard of webhooks: a subscription's URL must not make the server
reach what only the server can reach (its loopback, the private network,
link-local and unique-local addresses, 0.0.0.0, multicast, the cloud's
metadata service at 169.254.169.254), unless an admin allowed it for that
subscription (``allow_private``) or for every one (``webhooks.allow_private``).

Checked twice: when the URL is saved (every address its name resolves to
must be public), and at every delivery where the connection is made (the
resolver drops the addresses that are not public and the socket factory
refuses them again, so a name that resolves elsewhere since, DNS rebinding,
gets nothing). Redirects are never followed: a 3xx is a failed delivery.
The address rules are ``router.fetch.is_public``'s, shared with the fetches
of agents' file URLs."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from router.fetch import is_public

RESOLVE_TIMEOUT = 10.0  # seconds the check of a saved URL waits for its name's addresses


class UrlRefused(Exception):
    """The URL may not be subscribed or delivered to. ``code`` names the
    reason for the console (``errors.<code>``); the message names the host,
    never the whole URL (its query may hold a credential)."""

    def __init__(self, code: str, message: str, host: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.host = host


def host_port(url: str) -> tuple[str, int]:
    """The URL's host and port; ``UrlRefused`` (``webhook_url_invalid``)
    unless it is an absolute http(s) URL whose host a connection can be made
    to: a name every label of which IDNA-encodes (1 to 63 characters, not
    empty), or an IP (an IPv6 one in brackets), and a port from 1 to 65535.
    Total: whatever the text, the answer is a host and port or this refusal."""
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port
    except ValueError:  # an unclosed or invalid bracket, a port not a number or out of range
        raise _invalid("the URL's host or port is malformed") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise _invalid("the URL must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise _invalid("the URL must not carry a user or password")
    if port == 0:
        raise _invalid("the URL's port must be from 1 to 65535")
    host = hostname.lower().rstrip(".")
    if "[" in parts.netloc:
        if not _literal(host) or ":" not in host:
            raise _invalid("the URL's bracketed host is not an IPv6 address")
    elif not _literal(host):
        _check_name(host)
    return host, port or (443 if parts.scheme == "https" else 80)


def _invalid(message: str) -> UrlRefused:
    return UrlRefused("webhook_url_invalid", message)


def _check_name(host: str) -> None:
    """A host name the resolver and the socket layer can encode (they raise
    UnicodeError otherwise, far from here): IDNA, labels of 1 to 63 octets."""
    try:
        encoded = host.encode("idna")
    except UnicodeError:
        raise _invalid("the URL's host name is not a valid domain name") from None
    labels = encoded.split(b".")
    if len(encoded) > 253 or any(not 0 < len(label) <= 63 for label in labels):
        raise _invalid("the URL's host name is not a valid domain name")
    if any(c in host for c in " /\\%@"):
        raise _invalid("the URL's host name is not a valid domain name")


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _refused(host: str, address: str) -> UrlRefused:
    return UrlRefused("webhook_url_private",
                      f"{host} points to {address}, which is not a public address (allow private addresses"
                      " for this subscription to reach it)", host)


async def check_url(url: str, allow_private: bool, resolver: AbstractResolver) -> None:
    """Refuse ``url`` unless every address it points to now is public, or
    ``allow_private``. A name that does not resolve is refused too (a typo
    would otherwise fail every delivery later)."""
    host, port = host_port(url)
    if allow_private:
        return
    if _literal(host):
        if not is_public(host):
            raise _refused(host, host)
        return
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            found = await resolver.resolve(host, port, socket.AF_UNSPEC)
    except (OSError, TimeoutError, UnicodeError, ValueError):  # a resolver's refusals of a name
        raise UrlRefused("webhook_url_unresolvable", f"{host} does not resolve to any address", host) from None
    for result in found:
        if not is_public(result["host"]):
            raise _refused(host, result["host"])


class GuardedResolver(AbstractResolver):
    """Resolves through ``inner`` and keeps only the public addresses."""

    def __init__(self, inner: AbstractResolver) -> None:
        self._inner = inner

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        public = [r for r in await self._inner.resolve(host, port, family) if is_public(r["host"])]
        if not public:
            raise OSError(f"{host} resolves to no public address")
        return public

    async def close(self) -> None:
        await self._inner.close()


def _guarded_socket(info: AddrInfoType) -> socket.socket:
    family, type_, proto, _, address = info
    if not is_public(str(address[0])):
        # an IP written in the URL skips the resolver: refused where it is connected to
        raise OSError(f"{address[0]} is not a public address")
    return socket.socket(family, type_, proto)


def connector(guarded: bool, resolver: AbstractResolver | None = None, limit: int = 100) -> aiohttp.TCPConnector:
    """The sender's connection pool: with ``guarded``, one that connects to
    public addresses only. DNS answers are not cached, so each new
    connection is checked against what the name resolves to then."""
    inner = resolver or DefaultResolver()
    if not guarded:
        return aiohttp.TCPConnector(resolver=inner, limit=limit, use_dns_cache=False)
    return aiohttp.TCPConnector(resolver=GuardedResolver(inner), socket_factory=_guarded_socket, limit=limit,
                                use_dns_cache=False)
