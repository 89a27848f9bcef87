"""VK message objects (Callback API / Bots Long Poll ``message_new`` and
``message_edit``) into ``InboundMessage``s. See ``connectors.vk`` for the rules;
forwarded messages (``fwd_messages``) and the message answered
(``reply_message``) are kept in ``extras["quoted"]``, shown as quotes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from router.models import MAX_TEXT_LENGTH, Attachment, IdentityRef, InboundMessage

IDENTITY_KIND = "vk"
FIRST_CHAT_PEER = 2_000_000_000  # peer ids from here on are group chats
# forwarded messages kept with a message: per level, and levels (VK nests them)
MAX_QUOTES = 50
MAX_QUOTE_DEPTH = 5


# -- inbound: VK message object -> InboundMessage ------------------------------------------


def _largest(images: list[dict[str, Any]]) -> dict[str, Any]:
    return max(images, key=lambda i: int(i.get("width") or 0) * int(i.get("height") or 0), default={})


def vk_ref(kind: str, item: dict[str, Any]) -> str:
    ref = f"{kind}{item.get('owner_id')}_{item.get('id')}"
    return f"{ref}_{item['access_key']}" if item.get("access_key") else ref


def attachment_of(raw: dict[str, Any]) -> Attachment:
    kind = str(raw.get("type", ""))
    item = raw.get(kind) if isinstance(raw.get(kind), dict) else {}
    assert isinstance(item, dict)
    if kind == "photo":
        size = _largest(item.get("sizes") or [])
        return Attachment(kind="image", url=size.get("url"), extras={
            "vk_attachment": vk_ref("photo", item), "width": size.get("width"), "height": size.get("height")})
    if kind == "doc":
        return Attachment(kind="document", url=item.get("url"), name=item.get("title"), size=item.get("size"),
                          extras={"vk_attachment": vk_ref("doc", item), "ext": item.get("ext")})
    if kind == "audio_message":
        # VK's own transcript of the voice, when it made one: what the agent can read without listening
        return Attachment(kind="audio", url=item.get("link_ogg") or item.get("link_mp3"), mime_type="audio/ogg",
                          extras={"vk_attachment": vk_ref("doc", item), "duration": item.get("duration"),
                                  "voice": True, "link_mp3": item.get("link_mp3"),
                                  **({"transcript": item["transcript"]} if isinstance(item.get("transcript"), str)
                                     and item["transcript"].strip() else {})})
    if kind == "graffiti":  # a drawing: an image VK links to
        return Attachment(kind="image", url=_web(item.get("url")), extras={"vk_type": kind, "vk": item})
    if kind == "sticker":
        image = _largest(item.get("images") or [])
        return Attachment(kind="sticker", url=image.get("url"), extras={
            "sticker_id": item.get("sticker_id"), "product_id": item.get("product_id")})
    if kind in _PAGES:  # shared, not sent: the agent opens VK's page of it (or the link) in a browser
        return Attachment(kind="video" if kind == "video" else "other", url=_PAGES[kind](item),
                          name=_title(item), extras={"vk_type": kind, "vk": item})
    # audio, gifts, polls...: kept whole for whoever needs them
    return Attachment(kind="other", extras={"vk_type": kind, "vk": item})


def _title(item: dict[str, Any]) -> str | None:
    words = next((v for v in (item.get("title"), item.get("text")) if isinstance(v, str) and v.strip()), None)
    return " ".join(words.split())[:120] if words else None


def _web(url: Any) -> str | None:
    return url if isinstance(url, str) and url.lower().startswith(("https://", "http://")) else None


def _page(path: str) -> Callable[[dict[str, Any]], str | None]:
    def url(item: dict[str, Any]) -> str | None:
        owner, number = item.get("owner_id", item.get("from_id")), item.get("id")
        return f"https://vk.com/{path}{owner}_{number}" if type(owner) is int and type(number) is int else None
    return url


# a shared post, video or link has a page of its own, not a file VK lets us fetch
_PAGES: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "link": lambda item: _web(item.get("url")), "video": _page("video"), "wall": _page("wall"),
    "market": _page("product"),
}


def _attachment_or_raw(raw: dict[str, Any]) -> Attachment:
    """An attachment of a shape this version does not expect is kept whole:
    neither the message nor, in long poll mode, every event after it is lost for it."""
    try:
        return attachment_of(raw)
    except (AttributeError, KeyError, TypeError, ValueError):
        return Attachment(kind="other", extras={"vk_type": str(raw.get("type", "")), "vk": raw})


def location_of(message: dict[str, Any]) -> Attachment | None:
    geo = message.get("geo")
    if not isinstance(geo, dict) or not isinstance(geo.get("coordinates"), dict):
        return None
    coordinates = geo["coordinates"]
    extras = {"latitude": coordinates.get("latitude"), "longitude": coordinates.get("longitude")}
    if isinstance(geo.get("place"), dict) and geo["place"].get("title"):
        extras["place"] = geo["place"]["title"]
    return Attachment(kind="location", extras=extras)


def describe(attachments: list[Attachment], shown: list[dict[str, Any]] | None = None) -> str:
    """Bracketed words for a message that has none of its own (shown to
    agents; never read as the customer's words)."""
    labels = {"image": "photo", "document": "document", "audio": "voice message", "sticker": "sticker",
              "video": "video", "location": "location", "other": "attachment"}
    if not attachments:
        forwarded = sum(1 for q in shown or [] if q["kind"] == "forward")
        if forwarded:
            return "[forwarded message]" if forwarded == 1 else f"[{forwarded} forwarded messages]"
        return "[reply]" if shown else ""
    first = attachments[0]
    shared = {"link": "link", "wall": "wall post", "video": "video", "market": "product",
              "graffiti": "graffiti"}.get(str(first.extras.get("vk_type")))
    if shared is not None:
        return f"[{shared} {first.name}]" if first.name else f"[{shared}]"
    if first.kind == "location":
        return f"[location {first.extras['latitude']}, {first.extras['longitude']}]"
    if first.kind == "document" and first.name:
        return f"[document {first.name}]"
    return f"[{labels[first.kind]}]"


def message_key(message: dict[str, Any]) -> str:
    cmid = message.get("conversation_message_id") or message.get("id")
    return f"{message['peer_id']}:{cmid}"


def attachments_in(message: dict[str, Any]) -> list[Attachment]:
    listed = message.get("attachments")
    attachments = [_attachment_or_raw(a) for a in listed if isinstance(a, dict)] if isinstance(listed, list) else []
    if (place := location_of(message)) is not None:
        attachments.append(place)
    return attachments


def quoted_senders(message: dict[str, Any]) -> set[int]:
    """The authors of the messages ``message`` forwards or answers, to the depth shown."""
    found: set[int] = set()
    pending = [(q, 1) for q in _quotes_of(message)]
    while pending:
        quote, depth = pending.pop()
        if isinstance(quote.get("from_id"), int):
            found.add(quote["from_id"])
        if depth < MAX_QUOTE_DEPTH:
            pending.extend((q, depth + 1) for q in _quotes_of(quote))
    return found


def _quotes_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    replied = message.get("reply_message")
    forwarded = message.get("fwd_messages")
    found = [replied] if isinstance(replied, dict) else []
    found += [m for m in forwarded if isinstance(m, dict)][:MAX_QUOTES] if isinstance(forwarded, list) else []
    return found


def quotes(message: dict[str, Any], names: dict[int, str | None], depth: int = 1) -> list[dict[str, Any]]:
    """The messages ``message`` answers (``reply_message``) and forwards
    (``fwd_messages``, nested), each with its sender, date, text and
    attachments, as the console shows a quoted message. Bounded: at most
    ``MAX_QUOTES`` a level and ``MAX_QUOTE_DEPTH`` levels; how many were
    left out is said. Their words are kept here, not in the text: the
    customer forwarded them, they did not type them (no claim is made from them)."""
    shown: list[dict[str, Any]] = []
    replied = message.get("reply_message")
    fwd = message.get("fwd_messages")
    forwarded = [m for m in fwd if isinstance(m, dict)] if isinstance(fwd, list) else []
    for kind, items in (("reply", [replied] if isinstance(replied, dict) else []), ("forward", forwarded)):
        for item in items[:MAX_QUOTES]:
            shown.append(_quote(kind, item, names, depth))
        if len(items) > MAX_QUOTES:
            shown.append({"kind": kind, "omitted": len(items) - MAX_QUOTES})
    return shown


def _quote(kind: str, item: dict[str, Any], names: dict[int, str | None], depth: int) -> dict[str, Any]:
    sender = item.get("from_id")
    quote: dict[str, Any] = {
        "kind": kind,
        "from_id": sender if isinstance(sender, int) else None,
        "sender_name": names.get(sender) if isinstance(sender, int) else None,
        "date": item.get("date") if isinstance(item.get("date"), int) else None,
        "text": str(item.get("text") or "")[:MAX_TEXT_LENGTH],
        "attachments": [a.model_dump(mode="json", exclude_none=True) for a in attachments_in(item)],
    }
    if isinstance(item.get("conversation_message_id"), int):
        quote["conversation_message_id"] = item["conversation_message_id"]
    nested = _quotes_of(item)
    if nested and depth < MAX_QUOTE_DEPTH:
        quote["quotes"] = quotes(item, names, depth + 1)
    elif nested:
        quote["omitted"] = len(nested)
    return quote


def to_inbound(channel: str, message: dict[str, Any], edited: bool, name: str | None,
               names: dict[int, str | None] | None = None) -> InboundMessage:
    attachments = attachments_in(message)
    external_id = message_key(message)
    extras: dict[str, Any] = {"peer_id": message["peer_id"], "conversation_message_id":
                              message.get("conversation_message_id"), "message_id": message.get("id")}
    if edited:
        edited_at = int(message.get("update_time") or 0)
        extras.update(edit_of=external_id, edited_at=edited_at)
        external_id = f"{external_id}:edit:{edited_at}"
    replied = message.get("reply_message")
    if isinstance(replied, dict) and replied.get("conversation_message_id"):
        # as Telegram's: the external id of the message answered
        extras["reply_to"] = f"{message['peer_id']}:{replied['conversation_message_id']}"
    if shown := quotes(message, names or {}):
        extras["quoted"] = shown
    if isinstance(message.get("payload"), str):  # a keyboard button's: what the button meant, not its label
        extras["payload"] = message["payload"][:4096]
    text = str(message.get("text") or "")
    return InboundMessage(
        channel=channel,
        external_id=external_id,
        sender=IdentityRef(kind=IDENTITY_KIND, value=str(message["from_id"])),
        sender_name=name,
        text=text,
        description=None if text else describe(attachments, shown),
        attachments=attachments,
        extras=extras,
        language=_language(message),
    )


def customer_message(event: dict[str, Any]) -> tuple[dict[str, Any], bool] | None:
    """The message of a ``message_new`` / ``message_edit`` event from a user
    in a dialogue with the community, and whether it is an edit."""
    kind, obj = event.get("type"), event.get("object")
    if not isinstance(obj, dict):
        return None
    if kind == "message_new":
        message = obj.get("message", obj)  # API versions before 5.103 sent the message alone
    elif kind == "message_edit":
        message = obj
    else:
        return None
    if not isinstance(message, dict) or message.get("out") == 1:
        return None
    peer, sender = message.get("peer_id"), message.get("from_id")
    # ``type is int``: JSON's true is no id (isinstance takes it, a bool being an int: the sender "True")
    if type(peer) is not int or type(sender) is not int or not 0 < peer < FIRST_CHAT_PEER:
        return None
    client = obj.get("client_info") if message is not obj else None
    if isinstance(client, dict):  # the customer's app's language: what a sticker alone is answered in
        message = {**message, "client_info": client}
    return message, kind == "message_edit"


# ``client_info.lang_id`` as VK documents it, as a language tag
_LANG_IDS = {0: "ru", 1: "uk", 2: "be", 3: "en", 4: "es", 5: "fi", 6: "de", 7: "it"}


def _language(message: dict[str, Any]) -> str | None:
    client = message.get("client_info")
    lang_id = client.get("lang_id") if isinstance(client, dict) else None
    return _LANG_IDS.get(lang_id) if type(lang_id) is int else None


def typing_user(event: dict[str, Any]) -> int | None:
    """The user typing to the community in a ``message_typing_state`` event
    (``{"state": "typing", "from_id": user, "to_id": -community}``); None for
    anything else (the community's own admins typing to a user, a group chat)."""
    obj = event.get("object")
    if event.get("type") != "message_typing_state" or not isinstance(obj, dict) or obj.get("state") != "typing":
        return None
    user = obj.get("from_id")
    if not isinstance(user, int) or isinstance(user, bool) or not 0 < user < FIRST_CHAT_PEER:
        return None
    return user
