"""bot.yaml reloads while the service runs, as rules.yaml does: a good edit is
loaded and checked whole off the event loop (the hybrid matcher embeds its
examples there), then swapped in at once; a bad one is refused with its
file:line, the running bot stays and the console says why."""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from router.appkeys import BOT_RELOADER, BUS, ROUTER, STORE
from router.bot import FaqBot
from router.bot.base import Bot, BotReply, BotTurn, ReplyKind, fixed_vocabulary
from router.bot.config import Messages
from router.bot.desk import BotDesk
from router.bus import Event, Subscription
from router.config import Settings
from router.models import Author
from router.routing.rules import RulesRouting
from tests.conftest import ADMIN_PASSWORD
from tests.router.bot.conftest import SHIPPED, say
from tests.router.routing.rules.conftest import edit

Client = TestClient[web.Request, web.Application]

OLD = "Доставка курьером — 290 ₽"
NEW = "Доставка курьером — 390 ₽"


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Client:
    from router.server.app import create_app  # noqa: PLC0415

    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    settings.connectors = {}
    folder = tmp_path / "config"
    shutil.copytree(SHIPPED.parent, folder)  # the shipped rules send a short site-chat question to the bot
    c = await aiohttp_client(create_app(settings, folder, base_dir=tmp_path))
    await c.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    return c


async def next_of(events: Subscription, kind: str) -> Event:
    """The next event of ``kind`` (the outbox's own come and go meanwhile)."""
    async with asyncio.timeout(60):
        while (event := await events.queue.get()) is None or event.type != kind:
            pass
    return event


async def answer_to(client: Client, visitor: str, text: str) -> str:
    router = client.app[ROUTER]
    accepted = await router.on_message(say(1, text, visitor))
    assert router.bot_desk is not None
    await router.bot_desk.drain()
    messages = await client.app[STORE].list_messages(str(accepted.conversation_id), 10)
    assert messages[-1].author is Author.BOT, [m.text for m in messages]
    return messages[-1].text


async def test_an_edited_answer_reaches_the_next_question_without_a_restart(
    client: Client, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "config" / "bot.yaml"
    assert (await answer_to(client, "v1", "сколько стоит доставка?")).startswith(OLD)
    reloader = client.app[BOT_RELOADER]
    shipped = path.read_text(encoding="utf-8")
    async with client.app[BUS].subscribe() as events:
        edit(path, shipped.replace("290 ₽, в пункт", "390 ₽, в пункт")
             .replace("human_request: []", "human_request: [хочу к начальнику]"))
        with caplog.at_level(logging.INFO, logger="router"):
            assert await reloader.reload() is True
        assert (await next_of(events, "bot.reloaded")).data == {"intents": 8}
    assert f"bot reloaded from {path}" in caplog.text
    assert (await answer_to(client, "v2", "сколько стоит доставка?")).startswith(NEW)
    # bot.yaml's phrases of asking for a person: the rules' facts read the new ones too
    routing = client.app[ROUTER].routing
    assert isinstance(routing, RulesRouting)
    assert routing.human_request.find("хочу к начальнику отдела") is not None
    assert await reloader.reload() is False  # nothing changed since


async def test_a_broken_edit_is_refused_with_its_line_and_the_running_bot_answers(
    client: Client, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "config" / "bot.yaml"
    reloader = client.app[BOT_RELOADER]
    shipped = path.read_text(encoding="utf-8")
    lines = shipped.splitlines(keepends=True)
    broken = "".join(lines[:165]) + "  - {name: broken\n" + "".join(lines[165:])
    async with client.app[BUS].subscribe() as events:
        edit(path, broken)
        with caplog.at_level(logging.INFO, logger="router"):
            assert await reloader.reload() is False
        await next_of(events, "bot.refused")
    problems = reloader.status.problems
    assert problems and all(p.startswith(f"{path}:") for p in problems), problems
    assert any(r.levelno == logging.ERROR and f"{path}:" in r.getMessage() for r in caplog.records)
    assert (await answer_to(client, "v3", "сколько стоит доставка?")).startswith(OLD)
    status = await (await client.get("/api/rules/status")).json()
    assert status["bot"]["problems"] == problems and status["bot"]["refused_at"] is not None

    # a check that fails after the YAML parses, at its line
    edit(path, shipped.replace("hybrid:    {threshold: 0.50", "hybrid:    {threshold: 1.50"))
    assert await reloader.reload() is False
    assert reloader.status.problems[0].startswith(f"{path}:28: "), reloader.status.problems

    edit(path, shipped)  # fixed: the error goes away
    await reloader.reload()
    status = await (await client.get("/api/rules/status")).json()
    assert status["bot"]["problems"] == []


async def test_the_running_service_sees_the_edit_by_itself(client: Client, tmp_path: Path) -> None:
    """No call in the test: the one watcher of the hot config files picks it up."""
    path = tmp_path / "config" / "bot.yaml"
    reloader = client.app[BOT_RELOADER]
    async with client.app[BUS].subscribe() as events:
        edit(path, path.read_text(encoding="utf-8").replace("290 ₽, в пункт", "390 ₽, в пункт"))
        await next_of(events, "bot.reloaded")
    assert reloader.status.loaded_at > reloader.started_at
    assert (await answer_to(client, "v4", "сколько стоит доставка?")).startswith(NEW)


async def test_the_new_matcher_is_built_off_the_event_loop(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[threading.Thread] = []
    load = FaqBot.load

    def recorded(self: FaqBot) -> None:
        threads.append(threading.current_thread())
        load(self)

    monkeypatch.setattr(FaqBot, "load", recorded)
    path = tmp_path / "config" / "bot.yaml"
    edit(path, path.read_text(encoding="utf-8").replace("290 ₽, в пункт", "390 ₽, в пункт"))
    assert await client.app[BOT_RELOADER].reload() is True
    assert threads and threading.main_thread() not in threads


class Held(Bot):
    """A bot whose answer waits until the test lets it go; says when it is closed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.go = asyncio.Event()
        self.asked = asyncio.Event()
        self.closed = False
        self.vocabulary = fixed_vocabulary([])

    async def respond(self, turn: BotTurn) -> BotReply:
        self.asked.set()
        await self.go.wait()
        return BotReply(kind=ReplyKind.ANSWER, texts=[self.text], intent="x", confidence=1.0)

    async def __aexit__(self, *exc: object) -> None:
        self.closed = True


@pytest.fixture
async def desk_router(client: Client) -> AsyncIterator[BotDesk]:
    desk = client.app[ROUTER].bot_desk
    assert desk is not None
    yield desk


async def test_a_turn_in_flight_keeps_the_bot_it_started_with(client: Client, desk_router: BotDesk) -> None:
    desk = desk_router
    old, new = Held("old answer"), Held("new answer")
    desk.replace(old, Messages())
    router = client.app[ROUTER]
    accepted = await router.on_message(say(1, "сколько стоит доставка?", "v5"))
    await old.asked.wait()
    desk.replace(new, Messages())  # a reload while the turn waits for the old bot
    assert not old.closed  # its turn still needs it
    old.go.set()
    new.go.set()
    await desk.drain()
    messages = await client.app[STORE].list_messages(str(accepted.conversation_id), 10)
    assert messages[-1].text == "old answer"
    await desk.retired()
    assert old.closed and not new.closed
    assert (await answer_to(client, "v6", "сколько стоит доставка?")) == "new answer"
