"""The satisfaction survey in the site chat, over its websocket as the
widget speaks it: a ``survey`` frame under the question, a ``rating`` frame
back (acknowledged as a message), the comment, and bad rating frames
refused with a clear error and nothing rated."""

from __future__ import annotations

import uuid

import aiohttp
import pytest

from router.csat.config import CsatConfig
from router.models import Author, ConversationStatus, Role
from router.server.app import ROUTER, STORE
from tests.connectors.webchat_helpers import Client, Frame, barrier, hello, receive, say, tab, visitor_ref


@pytest.fixture
def asking(client: Client) -> Client:
    client.app[ROUTER].surveys.config = CsatConfig(enabled=True)
    return client


async def _resolve(client: Client, visitor_id: str) -> str:
    store = client.app[STORE]
    customer = await store.find_identity(visitor_ref(visitor_id))
    assert customer is not None
    [view] = await store.customer_conversations(customer.id)
    agent = await store.create_agent(f"ann-{uuid.uuid4().hex[:6]}", "Ann", Role.AGENT, "x")
    # the agent answers first: a survey rates an agent's help, so one nobody answered is not asked
    await client.app[ROUTER].conversations.reply(view.id, agent, "It is on its way.")
    await client.app[ROUTER].conversations.resolve(view.id, agent)
    return view.id


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: str) -> Frame:
    while True:
        frame = await receive(ws)
        if frame["type"] == kind:
            return frame


async def _asked(client: Client, ws: aiohttp.ClientWebSocketResponse) -> tuple[str, str, Frame, Frame]:
    """A new visitor asks, an agent resolves: (visitor id, conversation id, question frame, survey frame)."""
    visitor_id = (await hello(ws))["visitor_id"]
    await say(ws, "Where is my order?")
    conversation_id = await _resolve(client, visitor_id)
    await _next(ws, "message")  # the agent's answer
    question = await _next(ws, "message")
    return visitor_id, conversation_id, question, await receive(ws)


async def _rate(ws: aiohttp.ClientWebSocketResponse, survey_id: object, score: object) -> Frame:
    client_id = str(uuid.uuid4())
    await ws.send_json({"type": "rating", "survey_id": survey_id, "score": score, "client_id": client_id})
    ack = await _next(ws, "ack")
    assert ack["client_id"] == client_id
    return ack


async def test_buttons_in_the_site_chat_rate_and_the_comment_follows(asking: Client) -> None:
    async with tab(asking) as ws:
        _, conversation_id, question, survey = await _asked(asking, ws)
        assert question["author"] == "bot" and question["text"].startswith("Please rate")
        assert survey == {"type": "survey", "message_id": question["id"], "survey_id": survey["survey_id"],
                          "labels": ["1 — poor", "2 — fair", "3 — good", "4 — very good", "5 — excellent"]}

        await _rate(ws, survey["survey_id"], 5)
        prompt = await _next(ws, "message")
        assert prompt["text"].startswith("Thank you for your rating")
        await say(ws, "Quick and kind, thanks")
        thanks = await _next(ws, "message")
        assert thanks["text"] == "Thank you for your feedback!"

    stored = await asking.app[STORE].conversation_survey(conversation_id)
    assert stored is not None and stored.rating == 5 and stored.comment == "Quick and kind, thanks"
    view = await asking.app[STORE].get_conversation(conversation_id)
    assert view.status is ConversationStatus.RESOLVED


@pytest.mark.parametrize(("frame", "detail"), [
    ({"score": 9}, "score"), ({"score": 0}, "score"), ({"score": "5"}, "score"), ({"score": 4.5}, "score"),
    ({"survey_id": ""}, "survey_id"), ({"survey_id": None}, "survey_id"), ({"client_id": ""}, "client_id"),
])
async def test_a_bad_rating_frame_is_refused_and_rates_nothing(asking: Client, frame: Frame, detail: str) -> None:
    async with tab(asking) as ws:
        _, conversation_id, _, survey = await _asked(asking, ws)
        bad = {"type": "rating", "survey_id": survey["survey_id"], "score": 4, "client_id": "c-1", **frame}
        await ws.send_json(bad)
        error = await _next(ws, "error")
        assert error["code"] == "invalid_frame" and detail in error["message"]
        await barrier(ws)
    stored = await asking.app[STORE].conversation_survey(conversation_id)
    assert stored is not None and stored.rating is None


async def test_a_rating_frame_for_another_visitors_survey_rates_nothing(asking: Client) -> None:
    async with tab(asking) as first:
        victim = (await hello(first))["visitor_id"]
        await say(first, "Where is my order?")
        theirs = await _resolve(asking, victim)
        await _next(first, "message")  # the agent's answer
        await _next(first, "message")  # the question
        survey = await receive(first)
    async with tab(asking) as ws:
        attacker = (await hello(ws))["visitor_id"]
        ack = await _rate(ws, survey["survey_id"], 1)
        assert ack["id"] == ""  # acknowledged with no message: dropped
        await barrier(ws)
    # the survey is the victim's, and stays unrated; the press is neither stored nor routed
    stored = await asking.app[STORE].conversation_survey(theirs)
    assert stored is not None and stored.rating is None
    customer = await asking.app[STORE].find_identity(visitor_ref(attacker))
    if customer is not None:
        assert await asking.app[STORE].customer_conversations(customer.id) == []
        assert await asking.app[STORE].customer_messages(customer.id, 100) == []


async def test_a_rating_frame_for_an_unknown_survey_is_dropped(asking: Client) -> None:
    async with tab(asking) as ws:
        visitor = (await hello(ws))["visitor_id"]
        ack = await _rate(ws, "csat_00000000000000000000", 5)
        assert ack["id"] == ""
        await barrier(ws)
    customer = await asking.app[STORE].find_identity(visitor_ref(visitor))
    if customer is not None:
        assert await asking.app[STORE].customer_conversations(customer.id) == []


async def test_a_rating_sent_again_after_a_reconnect_rates_and_is_answered_once(asking: Client) -> None:
    """The widget keeps a press until it is acknowledged and sends it again, with
    the same client_id, on each reconnect: the server stores it once, rates
    once, answers once, and acknowledges each copy with the same message."""
    async with tab(asking) as ws:
        visitor_id, conversation_id, _, survey = await _asked(asking, ws)
        press = {"type": "rating", "survey_id": survey["survey_id"], "score": 4, "client_id": str(uuid.uuid4())}
        await ws.send_json(press)
        first = await _next(ws, "ack")  # the connection dropped before the widget read this ack
    for _ in range(2):  # two reconnects, the press sent again on each
        async with tab(asking) as ws:
            await hello(ws, visitor_id)
            await ws.send_json(press)
            again = await _next(ws, "ack")
            assert again == first
    async with tab(asking) as ws:
        answers = [f["text"] for f in (await hello(ws, visitor_id))["history"] if f["author"] == "bot"]
    # the question, then one answer to the rating: no "rated already" for the copies
    assert len(answers) == 2 and answers[1].startswith("Thank you for your rating"), answers
    stored = await asking.app[STORE].conversation_survey(conversation_id)
    assert stored is not None and stored.rating == 4
    customer = await asking.app[STORE].find_identity(visitor_ref(visitor_id))
    assert customer is not None
    said = [m.text for m in await asking.app[STORE].customer_messages(customer.id, 100) if m.author is Author.CUSTOMER]
    assert said == ["Where is my order?", "4"]
