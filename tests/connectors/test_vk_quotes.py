"""VK forwarded and answered messages reach the agent, through the Callback
API of the whole running service. ``fwd_messages`` and ``reply_message`` are
shaped as the ``message_new`` object documents them
(https://dev.vk.com/ru/reference/objects/message): each with from_id, date,
text, attachments and, for forwards, nested fwd_messages."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from router.config import ConnectorConfig, Settings
from router.models import Message
from router.server.app import STORE
from tests.conftest import AppClient, eventually
from tests.connectors.test_vk import (  # noqa: F401  (fixtures)
    DATE,
    DOC,
    PHOTO,
    USER,
    Client,
    inbound,
    message_new,
    polling,
    post,
    vk,
    vk_api,
    vk_settings,
)
from tests.fakes.vk_api import GROUP_ID, FakeVk

MUM = 700000001
SHOP = -218000001  # a community's id is negative


def forwarded(from_id: int, text: str, **fields: Any) -> dict[str, Any]:
    return {"date": DATE - 3600, "from_id": from_id, "text": text, "attachments": [], "fwd_messages": [],
            "conversation_message_id": 0, "peer_id": 0, "id": 0, "update_time": 0, **fields}


async def test_a_message_of_forwards_only_reaches_the_agent_with_senders_and_attachments(
    vk: Client, vk_api: FakeVk, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    caplog.set_level(logging.DEBUG)
    vk_api.names[MUM] = ("Мама", "Петрова")
    inner = forwarded(SHOP, "Ваш заказ 1042 отправлен")
    body = message_new(40, "", fwd_messages=[
        forwarded(MUM, "позвони мне на +7 903 123-45-67", attachments=[PHOTO]),
        forwarded(MUM, "вот чек", attachments=[DOC], fwd_messages=[inner]),
    ])
    assert await post(vk, body) == (200, "ok")
    [stored] = await inbound(vk)
    assert stored.text == ""
    assert stored.extras["description"] == "[2 forwarded messages]"
    first, second = stored.extras["quoted"]
    assert (first["kind"], first["from_id"], first["sender_name"], first["date"]) == (
        "forward", MUM, "Мама Петрова", DATE - 3600)
    assert first["text"] == "позвони мне на +7 903 123-45-67"
    assert first["attachments"][0]["url"] == "https://sun9-1.userapi.com/w.jpg"
    assert second["attachments"][0]["name"] == "invoice-1042.pdf"
    [nested] = second["quotes"]
    assert (nested["from_id"], nested["text"]) == (SHOP, "Ваш заказ 1042 отправлен")
    # Mum's number was forwarded, not typed by the customer: no claim
    assert stored.customer_id is not None
    assert await vk.app[STORE].customer_claims(stored.customer_id) == []
    conversation = await vk.app[STORE].get_conversation(stored.conversation_id or "")
    assert conversation.last_message_text == "[2 forwarded messages]"
    assert "позвони" not in caplog.text and "Мама" not in caplog.text


async def test_a_reply_keeps_the_reference_and_the_quote(vk: Client) -> None:  # noqa: F811
    assert await post(vk, message_new(41, "где мой заказ?")) == (200, "ok")
    answered = forwarded(USER, "где мой заказ?", conversation_message_id=41, peer_id=USER, id=1041)
    assert await post(vk, message_new(42, "уже неделя прошла", reply_message=answered)) == (200, "ok")
    first, second = await inbound(vk)
    assert second.text == "уже неделя прошла"
    assert second.extras["reply_to"] == first.external_id == f"{USER}:41"
    [quote] = second.extras["quoted"]
    assert (quote["kind"], quote["text"], quote["conversation_message_id"]) == ("reply", "где мой заказ?", 41)
    assert second.conversation_id == first.conversation_id


async def test_nested_forwards_are_bounded(vk: Client) -> None:  # noqa: F811
    chain = forwarded(MUM, "level 8")
    for level in range(7, 0, -1):
        chain = forwarded(MUM, f"level {level}", fwd_messages=[chain])
    many = [forwarded(MUM, f"n{i}") for i in range(60)]
    assert await post(vk, message_new(43, "", fwd_messages=[chain, *many])) == (200, "ok")
    [stored] = await inbound(vk)
    quoted = stored.extras["quoted"]
    assert len(quoted) == 51 and quoted[-1] == {"kind": "forward", "omitted": 11}
    depth, node = 1, quoted[0]
    while "quotes" in node:
        node, depth = node["quotes"][0], depth + 1
    assert (depth, node["text"], node["omitted"]) == (5, "level 5", 1)


# shaped as the message object's attachments document them (https://dev.vk.com/ru/reference/objects/attachments-message)
WALL = {"type": "wall", "wall": {"id": 5512, "owner_id": SHOP, "from_id": SHOP, "date": DATE - 86400,
                                 "post_type": "post", "text": "Скидки на чайники!\nТолько до пятницы."}}
LINK = {"type": "link", "link": {"url": "https://shop.example/sale", "title": "Распродажа", "caption": "shop.example",
                                 "description": ""}}
VIDEO = {"type": "video", "video": {"id": 456239017, "owner_id": SHOP, "title": "Как собрать шкаф", "duration": 95,
                                    "date": DATE - 3600, "access_key": "9a8b7c"}}


async def test_a_shared_post_link_or_video_opens_its_page(vk: Client) -> None:  # noqa: F811
    """They were an opaque [attachment] whose console link answered 502: VK
    lets nobody fetch them as files; each has a page of its own."""
    for cmid, shared in enumerate((WALL, LINK, VIDEO), start=60):
        assert await post(vk, message_new(cmid, "", attachments=[shared])) == (200, "ok")
    wall, link, video = await inbound(vk)
    assert [(m.extras["description"], m.attachments[0].url) for m in (wall, link, video)] == [
        ("[wall post Скидки на чайники! Только до пятницы.]", f"https://vk.com/wall{SHOP}_5512"),
        ("[link Распродажа]", "https://shop.example/sale"),
        ("[video Как собрать шкаф]", f"https://vk.com/video{SHOP}_456239017"),
    ]
    assert [m.text for m in (wall, link, video)] == ["", "", ""]  # a post's words are not the customer's


MARKET = {"type": "market", "market": {"id": 8801, "owner_id": SHOP, "title": "Чайник «Зефир» 1.7 л",
                                       "description": "Стеклянный", "price": {"amount": "249000", "text": "2 490 ₽"},
                                       "thumb_photo": "https://sun9-1.userapi.com/thumb.jpg", "availability": 0}}
GRAFFITI = {"type": "graffiti", "graffiti": {"id": 660000003, "owner_id": USER, "width": 720, "height": 720,
                                             "url": "https://sun9-1.userapi.com/graffiti.png", "access_key": "g4ff"}}
VOICE = {"type": "audio_message", "audio_message": {
    "id": 660000002, "owner_id": USER, "duration": 42, "waveform": [0, 5, 10], "access_key": "aa11",
    "link_ogg": "https://psv4.userapi.com/v.ogg", "link_mp3": "https://psv4.userapi.com/v.mp3",
    "transcript_state": "done", "transcript": "добрый день я по поводу заказа"}}


async def test_a_product_a_graffiti_a_voice_transcript_and_a_buttons_payload_reach_the_agent(
    vk: Client,  # noqa: F811
) -> None:
    """A product and a graffiti were a bare [attachment]; VK's transcript of a voice message
    and the payload of the keyboard button pressed were dropped."""
    for cmid, shared in enumerate((MARKET, GRAFFITI, VOICE), start=70):
        assert await post(vk, message_new(cmid, "", attachments=[shared])) == (200, "ok")
    assert await post(vk, message_new(73, "Начать", payload='{"command":"start"}')) == (200, "ok")
    product, graffiti, voice, pressed = await inbound(vk)
    assert [(m.extras["description"], m.attachments[0].url) for m in (product, graffiti)] == [
        ("[product Чайник «Зефир» 1.7 л]", f"https://vk.com/product{SHOP}_8801"),
        ("[graffiti]", "https://sun9-1.userapi.com/graffiti.png"),
    ]
    assert graffiti.attachments[0].kind == "image"
    assert voice.attachments[0].extras["transcript"] == "добрый день я по поводу заказа"
    assert (pressed.text, pressed.extras["payload"]) == ("Начать", '{"command":"start"}')


def _long_chain(forwards: int) -> dict[str, Any]:
    """A message_new VK allows (100 forwards a level, 4,096 characters a text),
    each forward with one of its own: past 1 MiB with 65."""
    words = "Ж" * 4096
    return message_new(44, "", fwd_messages=[
        forwarded(MUM, words, fwd_messages=[forwarded(SHOP, words)]) for _ in range(forwards)])


async def test_a_long_chain_of_forwards_is_taken_and_a_large_body_needs_the_secret(vk: Client) -> None:  # noqa: F811
    """A legitimate message over 1 MiB was refused (413): VK retries an event
    it is not answered "ok" to, and switches off a server that keeps refusing."""
    body = _long_chain(65)
    assert len(json.dumps(body, ensure_ascii=False).encode()) > 1024**2
    assert await post(vk, {**body, "secret": "not it"}) == (403, "wrong secret")
    assert await post(vk, {k: v for k, v in body.items() if k != "secret"}) == (403, "wrong secret")
    assert await inbound(vk) == []
    assert await post(vk, json.dumps(body, ensure_ascii=False)) == (200, "ok")
    [stored] = await inbound(vk)
    assert len(stored.extras["quoted"]) == 51  # 50 shown, the rest counted
    huge = json.dumps(_long_chain(100)).encode() + b" " * (32 * 1024**2)
    assert (await post(vk, huge))[0] == 413


async def test_long_poll_moves_past_a_message_of_an_unexpected_shape(
    make_client: AppClient, vk_settings: Settings, vk_api: FakeVk  # noqa: F811
) -> None:
    """One event that could not be read held every event behind it: the ts
    never moved. Its words are kept, the odd attachment kept whole."""
    vk_settings.connectors["vk"] = ConnectorConfig(
        type="vk", api_base=vk_api.base_url, group_id=GROUP_ID, mode="longpoll", longpoll_wait=1)
    client = await make_client(vk_settings)
    odd = {"type": "photo", "photo": {"id": 1, "owner_id": USER, "sizes": ["a size of a future shape"]}}
    await polling(vk_api)
    vk_api.push_event(message_new(60, "before", secret=None))
    vk_api.push_event(message_new(61, "с фото", secret=None, attachments=[odd]))
    vk_api.push_event(message_new(62, "after", secret=None))

    async def three() -> list[Message] | None:
        found = await inbound(client)
        return found if len(found) == 3 else None

    before, middle, after = await eventually(three, "the three polled messages")
    assert [before.text, middle.text, after.text] == ["before", "с фото", "after"]
    assert middle.attachments[0].kind == "other" and middle.attachments[0].extras["vk"] == odd


@pytest.mark.parametrize("fwd", [7, "fwd", {"from_id": MUM}, [7, None]])
async def test_forwards_of_an_unexpected_shape_never_cost_the_message(vk: Client, fwd: Any) -> None:  # noqa: F811
    assert await post(vk, message_new(70, "hi", fwd_messages=fwd)) == (200, "ok")
    [stored] = await inbound(vk)
    assert stored.text == "hi"


async def test_a_document_with_an_endless_title_is_stored_with_a_cut_name(vk: Client) -> None:  # noqa: F811
    doc = {"type": "doc", "doc": {**DOC["doc"], "title": "я" * 5000}}
    assert await post(vk, message_new(71, "", attachments=[doc])) == (200, "ok")
    [stored] = await inbound(vk)
    # a name is cut to what a file system holds (router.controls.file_name), and so its description
    assert stored.attachments[0].name == "я" * 255
    assert stored.extras["description"] == f"[document {'я' * 255}]"
