"""Canned replies through the console's API on the real service: saving
them (and every way a save is refused, changing nothing), who may write and
use which, and filling one in for a conversation, where a variable the
customer has no value for is a clear error and nothing reaches the customer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent
from typing import Any

import aiohttp
import pytest

from agents_ui.sessions import ADMIN_SEED
from router.appkeys import ROUTER, STORE
from router.canned.types import CannedReply, Scope
from router.config import Settings
from router.server.app import create_app
from tests.agents_ui.conftest import (
    AGENT_PASSWORD,
    Client,
    Http,
    OpenSession,
    create_agent,
    customer_writes,
    error_of,
    login,
    signed_in,
)
from tests.conftest import ADMIN_PASSWORD
from tests.router.bot.conftest import SHIPPED

TEAMS = """
    teams:
      support: {description: first line}
      senior: {description: escalations}
      sales: {description: sales}
    agents:
      - {username: admin, teams: [senior, support]}
      - {username: ann, teams: [support]}
"""


@pytest.fixture
def bot_edit(request: pytest.FixtureRequest) -> tuple[tuple[str, str], ...]:
    """Replacements made in the shipped bot.yaml (a test's indirect parameter); none by default."""
    edits: tuple[tuple[str, str], ...] = getattr(request, "param", ())
    return edits


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch, bot_edit: tuple[tuple[str, str], ...]) -> Client:
    """The service with teams.yaml and the shipped bot's answers (read by words: no model)."""
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "teams.yaml").write_text(dedent(TEAMS), encoding="utf-8")
    shipped = SHIPPED.read_text(encoding="utf-8").replace("method: hybrid", "method: lexical")
    for old, new in bot_edit:
        assert old in shipped, old
        shipped = shipped.replace(old, new)
    (folder / "bot.yaml").write_text(shipped, encoding="utf-8")
    c = await aiohttp_client(create_app(settings, folder, base_dir=tmp_path))
    await c.app[ADMIN_SEED].wait()
    await login(c)
    return c


@pytest.fixture
async def ann(client: Client, open_session: OpenSession) -> aiohttp.ClientSession:
    """An agent of team support, beside the admin (logged in on ``client``)."""
    await create_agent(client, "ann")
    return await signed_in(client, open_session, "ann")


def body(shortcut: str = "hello", ru: str | None = "Здравствуйте, {customer.name}!",
         en: str | None = "Hello, {customer.name}!", **more: Any) -> dict[str, Any]:
    return {"shortcut": shortcut, "title": f"Greeting {shortcut}", "texts": {"ru": ru, "en": en}, **more}


async def save(http: Http, data: dict[str, Any]) -> dict[str, Any]:
    resp = await http.post("/api/canned", json=data)
    assert resp.status == 201, await resp.text()
    reply: dict[str, Any] = (await resp.json())["reply"]
    return reply


async def listed(http: Http) -> list[dict[str, Any]]:
    resp = await http.get("/api/canned")
    assert resp.status == 200, await resp.text()
    replies: list[dict[str, Any]] = (await resp.json())["replies"]
    return replies


async def messages(client: Client, conv: str) -> list[str]:
    resp = await client.get(f"/api/conversations/{conv}/messages")
    return [m["text"] for m in (await resp.json())["messages"]]


# -- saving ------------------------------------------------------------------------------------


async def test_an_agent_saves_a_personal_reply_and_sees_it_listed(ann: aiohttp.ClientSession) -> None:
    saved = await save(ann, body(shortcut=" /Hello "))
    assert saved["editable"] and saved["shadowed_by"] is None
    reply = saved["reply"]
    assert (reply["scope"], reply["shortcut"]) == ("personal", "hello")
    assert reply["texts"] == {"ru": "Здравствуйте, {customer.name}!", "en": "Hello, {customer.name}!"}
    assert [r["reply"]["id"] for r in await listed(ann)] == [reply["id"]]


@pytest.mark.parametrize(("data", "status", "code", "detail"), [
    (body(ru="x" * 4001), 400, "canned_too_long", {"field": "texts.ru", "max": 4000, "length": 4001}),
    (body(shortcut="x" * 33), 400, "canned_too_long", {"field": "shortcut", "max": 32}),
    ({**body(), "title": "t" * 101}, 400, "canned_too_long", {"field": "title", "max": 100}),
    ({**body(), "title": "   "}, 400, "canned_empty", {"field": "title"}),
    (body(ru="  ", en=None), 400, "canned_empty", {"field": "texts"}),
    (body(shortcut="hi there"), 400, "canned_bad_shortcut", {"shortcut": "hi there"}),
    (body(shortcut="/"), 400, "canned_bad_shortcut", {}),
    (body(en="Your order {order_id}"), 400, "canned_unknown_variable", {"variable": "order_id", "language": "en"}),
    (body(ru="{agent.phone}"), 400, "canned_unknown_variable", {"variable": "agent.phone", "language": "ru"}),
    (body(ru="Ваш заказ {customer.order.id}"), 400, "canned_unknown_variable", {"variable": "customer.order.id"}),
    (body(en="Hello {customer name}"), 400, "canned_bad_template", {"fragment": "{customer name}", "position": 7}),
    (body(en="Hello {customer.name"), 400, "canned_bad_template", {"position": 7}),
    (body(en="a } b"), 400, "canned_bad_template", {"fragment": "}"}),
    ({**body(), "scope": "team", "team": "support"}, 403, "canned_forbidden", {}),
    ({**body(), "team": "support"}, 400, "canned_invalid", {"field": "team"}),
    (body(en="Hello\x00there"), 400, "canned_control_character", {"field": "texts.en", "position": 6}),
    ({**body(), "title": "a\x1bb"}, 400, "canned_control_character", {"field": "title", "position": 2}),
    # C1 controls and the bidi overrides, embeddings and isolates: a title that reads other than written
    ({**body(), "title": "a\x85b"}, 400, "canned_control_character", {"field": "title", "position": 2}),
    ({**body(), "title": "a\x9bb"}, 400, "canned_control_character", {"field": "title", "position": 2}),
    ({**body(), "title": "Refund \u202egnp.exe"}, 400, "canned_control_character", {"field": "title", "position": 8}),
    ({**body(), "title": "x\u2067y"}, 400, "canned_control_character", {"field": "title", "position": 2}),
    (body(ru="Заказ \u202aготов"), 400, "canned_control_character", {"field": "texts.ru", "position": 7}),
    (body(shortcut="İ" * 33), 400, "canned_too_long", {"field": "shortcut", "max": 32, "length": 33}),
])
async def test_a_reply_the_rules_refuse_is_a_clear_error_and_nothing_is_saved(
    ann: aiohttp.ClientSession, data: dict[str, Any], status: int, code: str, detail: dict[str, Any],
) -> None:
    resp = await ann.post("/api/canned", json=data)
    assert (await error_of(resp))[:2] == (status, code)
    error = (await resp.json())["error"]
    assert detail.items() <= error.items(), error
    assert await listed(ann) == []


@pytest.mark.parametrize(("data", "field"), [
    ({**body(), "texts": {"ru": "a", "de": "b"}}, "texts.de"),
    ({**body(), "scope": "everyone"}, "scope"),
    ({**body(), "html": True}, "html"),
    ({"title": "t", "texts": {"ru": "a"}}, "shortcut"),
])
async def test_a_malformed_body_is_422_naming_the_field(ann: aiohttp.ClientSession, data: dict[str, Any],
                                                         field: str) -> None:
    status, code, message = await error_of(await ann.post("/api/canned", json=data))
    assert (status, code) == (422, "invalid") and message.startswith(field), message


async def test_a_shortcut_of_32_letters_is_taken_whatever_lower_case_makes_of_them(
    ann: aiohttp.ClientSession,
) -> None:
    """"İ" lower-cased is two characters ("i" and a combining dot): 32 of them are 32 typed."""
    saved = (await save(ann, body(shortcut="İ" * 32)))["reply"]
    assert saved["shortcut"] == "İ".lower() * 32
    assert [r["reply"]["id"] for r in await listed(ann)] == [saved["id"]]


async def test_a_shortcut_is_taken_once_per_scope(client: Client, ann: aiohttp.ClientSession) -> None:
    first = (await save(ann, body()))["reply"]
    resp = await ann.post("/api/canned", json=body(shortcut="HELLO", ru="другой"))
    status, code, message = await error_of(resp)
    assert (status, code) == (409, "canned_duplicate_shortcut") and "/hello" in message
    assert (await resp.json())["error"]["shortcut"] == "hello"
    assert [r["reply"]["id"] for r in await listed(ann)] == [first["id"]]
    # another agent's own, and a team's, may use it
    await save(client, body())
    await save(client, {**body(), "scope": "team", "team": "support"})
    # an edit onto a taken shortcut is refused too, and changes nothing
    other = (await save(ann, body(shortcut="bye")))["reply"]
    resp = await ann.put(f"/api/canned/{other['id']}", json=body(shortcut="hello"))
    assert (await error_of(resp))[:2] == (409, "canned_duplicate_shortcut")
    assert {r["reply"]["shortcut"] for r in await listed(ann)} == {"hello", "bye"}


async def test_team_replies_are_written_by_admins_and_used_by_the_team(client: Client,
                                                                       ann: aiohttp.ClientSession) -> None:
    resp = await client.post("/api/canned", json={**body(), "scope": "team", "team": "nobody"})
    assert (await error_of(resp))[:2] == (400, "canned_unknown_team")
    assert (await resp.json())["error"]["known"] == ["support", "senior", "sales"]
    support = (await save(client, {**body(), "scope": "team", "team": "support"}))["reply"]
    sales = (await save(client, {**body(shortcut="offer"), "scope": "team", "team": "sales"}))["reply"]
    mine = (await save(ann, body(shortcut="hello", ru="Привет!", en=None)))["reply"]

    seen = {r["reply"]["id"]: r for r in await listed(ann)}
    assert set(seen) == {support["id"], mine["id"]}  # not sales': ann is not in it
    assert seen[support["id"]] == {"reply": support, "editable": False, "shadowed_by": mine["id"]}
    assert seen[mine["id"]]["editable"]
    listing = await (await ann.get("/api/canned")).json()
    assert (listing["writable_teams"], listing["my_teams"]) == ([], ["support"])
    admin_listing = await (await client.get("/api/canned")).json()
    assert {r["reply"]["id"] for r in admin_listing["replies"]} == {support["id"], sales["id"]}  # not ann's own
    assert admin_listing["writable_teams"] == ["support", "senior", "sales"]

    # an agent changes no team reply, and does not even find another's own
    assert (await error_of(await ann.put(f"/api/canned/{support['id']}", json=body())))[:2] == \
        (403, "canned_forbidden")
    assert (await error_of(await ann.delete(f"/api/canned/{support['id']}", json={})))[:2] == \
        (403, "canned_forbidden")
    assert (await error_of(await client.delete(f"/api/canned/{mine['id']}", json={})))[:2] == (404, "not_found")
    # the admin does
    resp = await client.put(f"/api/canned/{support['id']}", json=body(en=None, ru="Добрый день, {customer.name}!"))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["reply"]["reply"]["texts"] == {"ru": "Добрый день, {customer.name}!"}
    assert (await client.delete(f"/api/canned/{support['id']}", json={})).status == 204
    assert {r["reply"]["id"] for r in await listed(ann)} == {mine["id"]}


# -- filling in ---------------------------------------------------------------------------------


async def expand(http: Http, conv: str, reply_id: str) -> aiohttp.ClientResponse:
    return await http.get(f"/api/conversations/{conv}/canned/{reply_id}")


async def test_a_reply_is_filled_in_the_customers_language(client: Client, ann: aiohttp.ClientSession) -> None:
    both = (await save(ann, body(ru="Здравствуйте, {customer.first_name}! Я {agent.name}.",
                                 en="Hello {customer.first_name}, I am {agent.name}. Ref {conversation.id}.")))["reply"]
    ru_only = (await save(ann, body(shortcut="ru", ru="Только по-русски, {customer.name}", en=None)))["reply"]
    russian = await customer_writes(client, "Здравствуйте, где мой заказ?", sender="v-ru", name="Анна Петрова")
    english = await customer_writes(client, "Hi, where is my order?", sender="v-en", external_id="2",
                                    name="John Smith")

    resp = await expand(ann, russian, both["id"])
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"id": both["id"], "text": "Здравствуйте, Анна! Я Ann.", "language": "ru",
                                 "wanted_language": None}
    filled = await (await expand(ann, english, both["id"])).json()
    assert filled["text"] == f"Hello John, I am Ann. Ref {english}." and filled["language"] == "en"
    # no English text: the Russian one, and the console is told the customer reads English
    filled = await (await expand(ann, english, ru_only["id"])).json()
    assert filled == {"id": ru_only["id"], "text": "Только по-русски, John Smith", "language": "ru",
                      "wanted_language": "en"}
    # the bot's answers too: in English for this customer
    offers = (await (await ann.get(f"/api/conversations/{english}/canned")).json())["replies"]
    bot = next(o for o in offers if o["id"] == "bot:delivery_time")
    assert bot["language"] == "en" and bot["text"].startswith("We deliver")
    # filling in sends nothing
    assert await messages(client, english) == ["Hi, where is my order?"]


async def test_a_missing_value_is_a_clear_error_and_nothing_is_filled_or_sent(
    client: Client, ann: aiohttp.ClientSession,
) -> None:
    late = (await save(ann, body(shortcut="late", ru="{customer.name}, заказ {customer.order_id} задерживается",
                                 en=None)))["reply"]
    conv = await customer_writes(client, "где заказ?", sender="v-1", name=None)

    resp = await expand(ann, conv, late["id"])
    status, code, message = await error_of(resp)
    assert (status, code) == (422, "canned_missing_value")
    assert "{customer.name}" in message and "{customer.order_id}" in message
    error = (await resp.json())["error"]
    assert error["variables"] == ["customer.name", "customer.order_id"]
    assert "text" not in error  # nothing half-filled comes back
    offers = (await (await ann.get(f"/api/conversations/{conv}/canned")).json())["replies"]
    assert next(o for o in offers if o["id"] == late["id"])["missing"] == ["customer.name", "customer.order_id"]
    assert await messages(client, conv) == ["где заказ?"]

    # the profile gets the values: the same reply fills in
    detail = await (await client.get(f"/api/conversations/{conv}")).json()
    customer_id = detail["conversation"]["customer_id"]
    resp = await client.put(f"/api/customers/by/id/{customer_id}",
                            json={"display_name": "Анна", "attributes": {"order_id": "A-1042", "vip": True}})
    assert resp.status in (200, 201), await resp.text()
    filled = await (await expand(ann, conv, late["id"])).json()
    assert filled["text"] == "Анна, заказ A-1042 задерживается"
    # a yes/no flag is no text to print: missing, not "True"
    flag = (await save(ann, body(shortcut="vip", ru="VIP: {customer.vip}", en=None)))["reply"]
    assert (await error_of(await expand(ann, conv, flag["id"])))[:2] == (422, "canned_missing_value")


async def test_the_composer_offers_own_team_and_bot_replies_each_shortcut_once(
    client: Client, ann: aiohttp.ClientSession,
) -> None:
    team = (await save(client, {**body(), "scope": "team", "team": "support"}))["reply"]
    team_only = (await save(client, {**body(shortcut="thanks", ru="Спасибо!", en="Thank you!"), "scope": "team",
                                     "team": "support"}))["reply"]
    other_team = (await save(client, {**body(shortcut="offer"), "scope": "team", "team": "sales"}))["reply"]
    mine = (await save(ann, body(ru="Привет, {customer.name}!", en=None)))["reply"]
    conv = await customer_writes(client, "Сколько идёт доставка?", name="Анна")  # the default team: support

    answer = await (await ann.get(f"/api/conversations/{conv}/canned")).json()
    assert answer["language"] == "ru"
    offers = {o["id"]: o for o in answer["replies"]}
    assert mine["id"] in offers and team_only["id"] in offers
    assert team["id"] not in offers  # hidden by ann's own /hello
    assert other_team["id"] not in offers  # sales' is not ann's
    assert offers[team_only["id"]] | {"text": "Спасибо!", "source": "team", "team": "support", "language": "ru",
                                      "missing": []} == offers[team_only["id"]]
    bot = offers["bot:delivery_time"]
    assert (bot["source"], bot["language"], bot["shortcut"]) == ("bot", "ru", "delivery_time")
    assert bot["text"].startswith("Доставляем по Москве")
    assert [o["shortcut"] for o in answer["replies"]] == sorted(o["shortcut"] for o in answer["replies"])

    filled = await (await expand(ann, conv, "bot:delivery_time")).json()
    assert filled["text"] == bot["text"] and filled["language"] == "ru"
    assert (await error_of(await expand(ann, conv, "bot:no_such_intent")))[:2] == (404, "not_found")
    assert (await error_of(await expand(ann, conv, other_team["id"])))[:2] == (403, "canned_forbidden")
    assert (await error_of(await expand(client, conv, mine["id"])))[:2] == (404, "not_found")  # ann's own


async def test_canned_replies_need_a_login(client: Client, open_session: OpenSession) -> None:
    http = await open_session(client)
    assert (await error_of(await http.get("/api/canned")))[:2] == (401, "unauthenticated")
    assert (await error_of(await http.post("/api/canned", json=body())))[:2] == (401, "unauthenticated")
    assert (await client.get("/api/canned")).status == 200
    assert client.app[ROUTER].bot_intents  # the shipped bot's intents are there to offer


async def test_without_teams_yaml_the_default_team_shares_replies(make_client: Callable[..., Awaitable[Client]],
                                                                  open_session: OpenSession) -> None:
    """An install without teams.yaml routes everything to routing.default_team: its
    replies are written by admins and offered in its conversations."""
    plain = await make_client()
    await login(plain)
    resp = await plain.post("/api/canned", json={**body(), "scope": "team", "team": "senior"})
    assert (await error_of(resp))[:2] == (400, "canned_unknown_team")
    team = (await save(plain, {**body(), "scope": "team", "team": "support"}))["reply"]
    await create_agent(plain, "ann")
    ann = await open_session(plain)
    await login(ann, "ann", AGENT_PASSWORD)
    conv = await customer_writes(plain, "Hello there", name="John")
    offers = (await (await ann.get(f"/api/conversations/{conv}/canned")).json())["replies"]
    assert [o["id"] for o in offers] == [team["id"]]
    assert (await (await expand(ann, conv, team["id"])).json())["text"] == "Hello, John!"


async def test_a_stored_reply_the_rules_no_longer_read_is_refused_not_a_crash(client: Client,
                                                                               ann: aiohttp.ClientSession) -> None:
    """A reply stored under another grammar (an older version, a hand-edited database)
    is offered marked with what breaks it, and picking it fills nothing in."""
    me = await (await ann.get("/api/me")).json()
    now = datetime.now(UTC)
    old = CannedReply(id="cnd_old", scope=Scope.PERSONAL, owner=me["agent"]["id"], shortcut="old", title="Old",
                      texts={"en": "Dear {customer.title} {customer name"}, created_at=now, updated_at=now)
    await client.app[STORE].create_canned(old)
    conv = await customer_writes(client, "Hello", name="John")
    offers = (await (await ann.get(f"/api/conversations/{conv}/canned")).json())["replies"]
    assert next(o for o in offers if o["id"] == "cnd_old")["missing"] == ["{customer name"]
    assert (await error_of(await expand(ann, conv, "cnd_old")))[:2] == (422, "canned_bad_template")
    assert await messages(client, conv) == ["Hello"]


async def test_the_conversations_team_wins_a_shortcut_two_of_the_agents_teams_share(client: Client) -> None:
    """The admin is in senior and support: in a support conversation, support's /hi is
    offered, not senior's (which a plain order of team names would put first)."""
    senior = (await save(client, {**body(shortcut="hi", en="Senior hello"), "scope": "team", "team": "senior"}))
    support = (await save(client, {**body(shortcut="hi", en="Support hello"), "scope": "team", "team": "support"}))
    conv = await customer_writes(client, "Hello there", name="John")  # the default team: support
    offers = (await (await client.get(f"/api/conversations/{conv}/canned")).json())["replies"]
    assert [o["id"] for o in offers if o["source"] != "bot"] == [support["reply"]["id"]]
    assert (await (await expand(client, conv, support["reply"]["id"])).json())["text"] == "Support hello"
    # the hidden one is still the admin's to use by id (a team of theirs)
    assert (await (await expand(client, conv, senior["reply"]["id"])).json())["text"] == "Senior hello"


async def test_teams_an_admin_set_in_the_console_share_their_replies(client: Client,
                                                                    open_session: OpenSession) -> None:
    """An agent created in the console with the team sales (teams.yaml does not name them)
    uses sales' replies; moved to senior in the console, senior's and no longer sales'."""
    sales = (await save(client, {**body(shortcut="offer"), "scope": "team", "team": "sales"}))["reply"]
    senior = (await save(client, {**body(shortcut="escalate"), "scope": "team", "team": "senior"}))["reply"]
    new = {"username": "bob", "display_name": "Bob", "password": AGENT_PASSWORD, "role": "agent",
           "routing": {"teams": ["sales"]}}
    resp = await client.post("/api/agents", json=new)
    assert resp.status == 201, await resp.text()
    bob_id = (await resp.json())["agent"]["id"]
    bob = await signed_in(client, open_session, "bob")

    listing = await (await bob.get("/api/canned")).json()
    assert listing["my_teams"] == ["sales"]
    assert [r["reply"]["id"] for r in listing["replies"]] == [sales["id"]]
    conv = await customer_writes(client, "Hello there", name="John")  # a support conversation
    offers = (await (await bob.get(f"/api/conversations/{conv}/canned")).json())["replies"]
    assert sales["id"] in {o["id"] for o in offers}
    assert (await (await expand(bob, conv, sales["id"])).json())["text"] == "Hello, John!"

    resp = await client.put(f"/api/agents/{bob_id}/routing", json={"teams": ["senior"]})
    assert resp.status == 200, await resp.text()
    listing = await (await bob.get("/api/canned")).json()
    assert (listing["my_teams"], [r["reply"]["id"] for r in listing["replies"]]) == (["senior"], [senior["id"]])
    assert (await error_of(await expand(bob, conv, sales["id"])))[:2] == (403, "canned_forbidden")


# the shipped answers given variables: a name without a fallback, a yes/no flag, and one with a fallback
BOT_VARIABLES = (
    ("Доставляем по Москве", "{first_name}, доставляем по Москве"),
    ("Да, заказ можно забрать", "Для {vip}: заказ можно забрать"),
    ("Доставка курьером", "{name|Здравствуйте}, доставка курьером"),
)


@pytest.mark.parametrize("bot_edit", [BOT_VARIABLES], indirect=True)
async def test_a_bot_answer_missing_a_value_is_offered_with_it_listed_and_fills_nothing(
    client: Client, ann: aiohttp.ClientSession,
) -> None:
    conv = await customer_writes(client, "Сколько идёт доставка?", name=None)
    offers = {o["id"]: o for o in (await (await ann.get(f"/api/conversations/{conv}/canned")).json())["replies"]}
    time = offers["bot:delivery_time"]
    assert time["missing"] == ["first_name"] and time["text"].startswith("{first_name}, доставляем")
    resp = await expand(ann, conv, "bot:delivery_time")
    assert (await error_of(resp))[:2] == (422, "canned_missing_value")
    assert (await resp.json())["error"]["variables"] == ["first_name"]
    # a fallback is a value: filled as the bot fills it
    cost = offers["bot:delivery_cost"]
    assert cost["missing"] == [] and cost["text"].startswith("Здравствуйте, доставка курьером")
    assert (await (await expand(ann, conv, "bot:delivery_cost")).json())["text"] == cost["text"]

    # named: the name fills in; a yes/no flag is no text to print ("True"): still missing
    detail = await (await client.get(f"/api/conversations/{conv}")).json()
    resp = await client.put(f"/api/customers/by/id/{detail['conversation']['customer_id']}",
                            json={"display_name": "Анна Петрова", "attributes": {"vip": True}})
    assert resp.status in (200, 201), await resp.text()
    filled = await (await expand(ann, conv, "bot:delivery_time")).json()
    assert filled["text"].startswith("Анна, доставляем по Москве")
    resp = await expand(ann, conv, "bot:pickup")
    assert (await error_of(resp))[:2] == (422, "canned_missing_value")
    assert (await resp.json())["error"]["variables"] == ["vip"]
    assert await messages(client, conv) == ["Сколько идёт доставка?"]
