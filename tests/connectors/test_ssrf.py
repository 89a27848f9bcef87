"""No server-side request forgery: an agent's file URL is fetched by the
server (VK wants the bytes uploaded), and it must never make the server reach
its own loopback, the private network or the cloud's metadata service:
directly, through a redirect from an allowed host, or through a name that
resolves to such an address. Only a host an admin allowlisted is trusted.

The canary is a real server on 127.0.0.1 that counts every request it gets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from router.config import Settings
from router.fetch import FetchLimits, FetchRefused, GuardedFetcher, is_public
from router.models import Delivery
from router.server.app import STORE
from tests.conftest import AppClient, eventually
from tests.connectors.test_vk import inbound, message_new, post, vk_api, vk_settings  # noqa: F401 (fixtures)
from tests.connectors.twilio_helpers import console
from tests.fakes.local import LocalServer
from tests.fakes.vk_api import FakeVk

JPEG = b"\xff\xd8\xff\xe0 an allowed picture"


class Canary(LocalServer):
    """An internal service the server must never be made to call."""

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[str] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._hit)

    async def _hit(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        return web.Response(body=b"internal secrets", content_type="image/jpeg")


class FileHost(LocalServer):
    """A file server the admin trusts; it serves a picture, and redirects
    wherever it is told (as an open redirect on a real site would)."""

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/box.jpg", self._file)
        app.router.add_get("/go", self._go)

    async def _file(self, request: web.Request) -> web.Response:
        return web.Response(body=JPEG, content_type="image/jpeg")

    async def _go(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])


@pytest.fixture
async def canary() -> AsyncIterator[Canary]:
    server = Canary()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def file_host() -> AsyncIterator[FileHost]:
    server = FileHost()
    await server.start()
    yield server
    await server.close()


def netloc(server: LocalServer) -> str:
    return urlsplit(server.base_url).netloc


def canary_urls(canary: Canary, file_host: FileHost) -> list[str]:
    port = urlsplit(canary.base_url).port
    direct = [canary.url("/direct.jpg"), f"http://localhost:{port}/by-name.jpg", f"http://[::1]:{port}/v6.jpg"]
    redirected = [f"{file_host.url('/go')}?to={url}" for url in direct]
    return direct + redirected


async def test_an_agents_file_url_never_reaches_an_internal_address(
    make_client: AppClient, vk_settings: Settings, vk_api: FakeVk, canary: Canary, file_host: FileHost,  # noqa: F811
) -> None:
    vk_settings.fetch.allow_hosts = [netloc(file_host)]  # trusted by host and port: not the canary's port
    client = await make_client(vk_settings)
    assert await post(client, message_new(1, "пришлите фото")) == (200, "ok")
    [stored] = await inbound(client)
    assert stored.conversation_id is not None
    http = await console(client)
    try:
        for url in canary_urls(canary, file_host):
            async with http.post(f"/api/conversations/{stored.conversation_id}/messages",
                                 json={"text": "вот", "attachments": [{"url": url, "kind": "image"}]}) as resp:
                assert resp.status == 201, await resp.text()
                sent_id = (await resp.json())["message"]["id"]

            async def settled(message_id: str = sent_id) -> Any:
                for m in await client.app[STORE].list_messages(stored.conversation_id or "", 100):
                    if m.id == message_id and m.delivery in (Delivery.SENT, Delivery.FAILED):
                        return m
                return None

            failed = await eventually(settled, f"the reply with {url} to settle")
            assert failed.delivery is Delivery.FAILED, url
            assert "public address" in (failed.delivery_error or ""), failed.delivery_error
        assert canary.hits == []
        assert vk_api.uploads == [] and vk_api.sent("messages.send") == []

        # the allowlisted host's own file goes through
        async with http.post(f"/api/conversations/{stored.conversation_id}/messages",
                             json={"text": "вот", "attachments": [{"url": file_host.url("/box.jpg"),
                                                                   "kind": "image"}]}) as resp:
            assert resp.status == 201

        async def uploaded() -> bool:
            return bool(vk_api.sent("messages.send"))

        await eventually(uploaded, "the allowed picture to be sent")
        assert [data for _, _, data in vk_api.uploads] == [JPEG]
    finally:
        await http.close()
    assert canary.hits == []


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fd00:ec2::254", "fe80::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1", "64:ff9b::a9fe:a9fe", "192.0.0.8", "198.18.0.1",
    "2001:db8::1", "not an address",
])
def test_addresses_that_are_not_public(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "77.88.55.242"])
def test_public_addresses(address: str) -> None:
    assert is_public(address)


async def test_the_fetcher_bounds_redirects_size_and_schemes(canary: Canary, file_host: FileHost) -> None:
    trusted = frozenset({netloc(file_host)})
    fetcher = GuardedFetcher(FetchLimits(allow_hosts=trusted, max_redirects=2, max_bytes=len(JPEG)))
    assert (await fetcher.fetch(file_host.url("/box.jpg"))).body == JPEG
    loop = file_host.url("/go") + "?to=" + file_host.url("/go") + "?to=" + file_host.url("/go")
    for url, says in [
        (loop + "?to=" + file_host.url("/box.jpg"), "more than 2 redirects"),
        ("file:///etc/passwd", "only http(s) URLs"),
        ("ftp://example.com/x", "only http(s) URLs"),
        ("http://169.254.169.254/latest/meta-data/", "not a public address"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "not a public address"),
        (canary.url("/x"), "not a public address"),
    ]:
        with pytest.raises(FetchRefused, match=says.replace("(", r"\(").replace(")", r"\)")):
            await fetcher.fetch(url)
    small = GuardedFetcher(FetchLimits(allow_hosts=trusted, max_bytes=len(JPEG) - 1))
    with pytest.raises(FetchRefused, match="larger than"):
        await small.fetch(file_host.url("/box.jpg"))
    assert canary.hits == []


async def test_an_allowlisted_name_is_trusted_whatever_it_resolves_to(canary: Canary) -> None:
    port = urlsplit(canary.base_url).port
    fetcher = GuardedFetcher(FetchLimits(allow_hosts=frozenset({f"localhost:{port}"})))
    assert (await fetcher.fetch(f"http://localhost:{port}/allowed")).body == b"internal secrets"
    # the same name on another port is not
    with pytest.raises(FetchRefused):
        await GuardedFetcher(FetchLimits(allow_hosts=frozenset({"localhost:1"}))).fetch(
            f"http://localhost:{port}/refused")
    assert canary.hits == ["/allowed"]


async def test_refusals_name_the_host_never_the_url(canary: Canary) -> None:
    """A URL's query may carry a credential: our errors name the host only."""
    with pytest.raises(FetchRefused) as info:
        await GuardedFetcher().fetch(canary.url("/f?token=s3cr3t-in-a-query"))
    assert "s3cr3t" not in str(info.value)
    with pytest.raises(FetchRefused) as unreachable:
        await GuardedFetcher(FetchLimits(allow_hosts=frozenset({"127.0.0.1"}))).fetch(
            "http://127.0.0.1:1/f?token=s3cr3t-in-a-query")
    assert "s3cr3t" not in str(unreachable.value) and unreachable.value.transient
