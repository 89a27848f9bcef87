"""Telegram updates, as JSON, into ``InboundMessage``s: read as far as they can be.

Telegram adds to its objects faster than any client library follows: a
``forward_origin`` of a new ``type``, a reaction kind, a field that became
required in aiogram's models. One such part must never cost the customer's
message, nor stop the channel (in polling mode one update aiogram refuses
held every later one). So an update is validated by aiogram, and each part it
refuses is set aside (``read_update``) until the rest validates: what can be
read (chat, sender, text, caption, known attachments) is stored, the raw
update is kept with it in ``extras["telegram_update"]`` and the parts set
aside are named in ``extras["unparsed"]``.

Only a body that is not an update at all (no integer ``update_id``) is
refused: that is a caller's mistake a redelivery would not fix either.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeGuard

from pydantic import ValidationError

from router.models import Attachment, IdentityRef, InboundMessage

if TYPE_CHECKING:  # imported when an update is read: aiogram costs a second of every start
    from aiogram import Bot
    from aiogram.types import Message as TgMessage
    from aiogram.types import Update

IDENTITY_KIND = "telegram"
# The Bot API's service messages ("Service message: ..." in its Message object):
# something that happened in the chat (a pin, an auto-delete timer set, write
# access granted, a payment made), not words or content a customer sent. They
# are acknowledged and not stored: one would otherwise open a conversation for
# an agent with nothing to answer. A kind not listed here is kept, so that
# content Telegram adds later is never lost.
SERVICE_KINDS = frozenset({
    "new_chat_members", "left_chat_member", "chat_owner_left", "chat_owner_changed", "new_chat_title",
    "new_chat_photo", "delete_chat_photo", "group_chat_created", "supergroup_chat_created", "channel_chat_created",
    "message_auto_delete_timer_changed", "migrate_to_chat_id", "migrate_from_chat_id", "pinned_message",
    "successful_payment", "refunded_payment", "users_shared", "user_shared", "chat_shared", "gift", "unique_gift",
    "gift_upgrade_sent", "connected_website", "write_access_allowed", "passport_data", "proximity_alert_triggered",
    "boost_added", "chat_background_set", "checklist_tasks_done", "checklist_tasks_added",
    "direct_message_price_changed", "paid_message_price_changed", "forum_topic_created", "forum_topic_edited",
    "forum_topic_closed", "forum_topic_reopened", "general_forum_topic_hidden", "general_forum_topic_unhidden",
    "giveaway_created", "giveaway_completed", "managed_bot_created", "poll_option_added", "poll_option_deleted",
    "suggested_post_approved", "suggested_post_approval_failed", "suggested_post_declined", "suggested_post_paid",
    "suggested_post_refunded", "video_chat_scheduled", "video_chat_started", "video_chat_ended",
    "video_chat_participants_invited", "community_chat_added", "community_chat_removed", "community_chat_joined",
})
# each round sets aside at least one part; a real update has a few dozen
MAX_ROUNDS = 50


class NotAnUpdate(ValueError):
    """A body without an integer ``update_id``."""


@dataclass
class ReadUpdate:
    """An update as far as aiogram could read it, and what it could not."""

    update_id: int
    update: Update | None
    raw: dict[str, Any]
    # the parts set aside, as dotted paths ("message.forward_origin"): no values
    unparsed: list[str] = field(default_factory=list)
    # a plain private text message (``plain_text``), read without aiogram: the InboundMessage's fields
    plain: dict[str, Any] | None = None


_GONE = object()


def _path_text(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path)


def _reachable(data: Any, loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """The longest prefix of pydantic's error location that exists in the
    data (a union's tag, such as ``user`` in ``forward_origin.user.date``, is
    in the location but not in the data: it is skipped)."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if _has(node, part):
            node = node[part]
            path.append(part)
    return tuple(path)


def _has(node: Any, part: Any) -> bool:
    if isinstance(node, dict):
        return isinstance(part, str) and part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def _set_aside(data: dict[str, Any], path: tuple[str | int, ...], touched: list[list[Any]]) -> bool:
    """Remove the part at ``path`` (a list's item is marked, and the list swept after)."""
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    last = path[-1]
    if isinstance(node, dict) and last in node:
        del node[last]
        return True
    if isinstance(node, list) and isinstance(last, int) and node[last] is not _GONE:
        node[last] = _GONE
        touched.append(node)
        return True
    return False


def read_update(raw: Any, bot: Bot) -> ReadUpdate:
    """``raw`` validated as aiogram's ``Update``, setting aside every part
    that fails until the rest validates. ``NotAnUpdate`` when there is no
    integer ``update_id``."""
    if not isinstance(raw, dict) or type(raw.get("update_id")) is not int:
        raise NotAnUpdate("no integer update_id")
    update_id: int = raw["update_id"]
    if (plain := plain_text(raw)) is not None:
        return ReadUpdate(update_id, None, raw, plain=plain)
    from aiogram.types import Update  # noqa: PLC0415 - see the imports above
    try:  # the common case: aiogram reads it whole, and nothing is copied
        return ReadUpdate(update_id, Update.model_validate(raw, context={"bot": bot}), raw)
    except ValidationError:
        # parts are set aside from a copy: the JSON as Telegram sent it is what is kept
        data = copy.deepcopy(raw)
    unparsed: list[str] = []
    for _ in range(MAX_ROUNDS):
        try:
            return ReadUpdate(update_id, Update.model_validate(data, context={"bot": bot}), raw, unparsed)
        except ValidationError as exc:
            errors = exc.errors(include_input=False, include_url=False)
        # every path found before anything moves; a part inside one set aside goes with it
        paths = sorted({_reachable(data, tuple(error["loc"])) for error in errors}, key=len)
        if any(path in ((), ("update_id",)) for path in paths):
            return ReadUpdate(update_id, None, raw, [*unparsed, "update"])
        touched: list[list[Any]] = []
        before = len(unparsed)
        kept: list[tuple[str | int, ...]] = []
        for path in paths:
            if any(path[: len(k)] == k for k in kept):
                continue
            kept.append(path)
            if _set_aside(data, path, touched):
                unparsed.append(_path_text(path))
        for items in touched:
            items[:] = [item for item in items if item is not _GONE]
        if len(unparsed) == before:  # nothing more to set aside: give up rather than loop
            break
    return ReadUpdate(update_id, None, raw, [*unparsed, "update"])


# the keys of a plain private text message, each with the one type it may have, and those it must have:
# every one a field of aiogram's models, so that such an update reads the same without them
_PLAIN_MESSAGE = {"message_id": int, "from": dict, "chat": dict, "date": int, "text": str}
_PLAIN_USER = {"id": int, "is_bot": bool, "first_name": str, "last_name": str, "username": str, "language_code": str}
_PLAIN_CHAT = {"id": int, "type": str, "first_name": str, "last_name": str, "username": str}
_USER_NEEDS = frozenset({"id", "is_bot", "first_name"})
_CHAT_NEEDS = frozenset({"id", "type"})
# pydantic reads an integer time above this as milliseconds; Telegram's are seconds
_MAX_SECONDS = 2 * 10**10


def _plain(value: Any, types: dict[str, type], needs: frozenset[str]) -> TypeGuard[dict[str, Any]]:
    return (isinstance(value, dict) and needs <= value.keys()
            and all(type(v) is types.get(k) for k, v in value.items()))


def plain_text(raw: dict[str, Any]) -> dict[str, Any] | None:
    """A customer's private text message with nothing else in it (most updates), read from the
    JSON without aiogram's models (~30 µs of validation a webhook): the fields of the
    InboundMessage ``to_inbound`` makes of it. None for any other update (aiogram reads it)."""
    msg = raw.get("message")
    if raw.keys() != {"update_id", "message"} or not _plain(msg, _PLAIN_MESSAGE, frozenset(_PLAIN_MESSAGE)):
        return None
    user, chat = msg["from"], msg["chat"]
    if not (_plain(user, _PLAIN_USER, _USER_NEEDS) and _plain(chat, _PLAIN_CHAT, _CHAT_NEEDS)):
        return None
    if chat["type"] != "private" or user["is_bot"] or not msg["text"] or not 0 <= msg["date"] < _MAX_SECONDS:
        return None
    extras: dict[str, Any] = {"chat_id": chat["id"], "message_id": msg["message_id"]}
    if user.get("username"):
        extras["username"] = user["username"]
    name = f"{user['first_name']} {user['last_name']}" if user.get("last_name") else user["first_name"]
    return {"external_id": f"{chat['id']}:{msg['message_id']}",
            "sender": IdentityRef(kind=IDENTITY_KIND, value=str(user["id"])), "sender_name": name[:256],
            "text": msg["text"], "description": None, "attachments": [],
            "sent_at": datetime.fromtimestamp(msg["date"], UTC), "extras": extras, "proven_phone": None,
            "language": _language_code(user.get("language_code"))}


def _language_code(code: object) -> str | None:
    """The customer's app language (``language_code``, IETF): what "/start" or a
    sticker is answered in, having no words of its own."""
    return code[:35] if isinstance(code, str) and code else None


def moves_a_location(raw: dict[str, Any]) -> bool:
    """Whether the update is an edit of a location message: a live location
    moving. While a customer shares one, Telegram edits its message every few
    seconds (for its ``live_period``, or until they stop at 0x7FFFFFFF), and
    once more when it ends, without ``live_period``; only a live location can
    be edited. None of these is something the customer said: stored as edits
    they were new messages, each one opening the conversation again, routed
    and answered. The first message, where they shared it, is the one kept."""
    edited = raw.get("edited_message")
    return isinstance(edited, dict) and isinstance(edited.get("location"), dict)


def update_kind(update: Update) -> str:
    fields = update.model_dump(exclude_none=True, exclude={"update_id"})
    return next(iter(fields), "empty")


# -- a Telegram message -> InboundMessage ---------------------------------------------


def _file_extras(file_id: str, file_unique_id: str, **more: Any) -> dict[str, Any]:
    extras = {"file_id": file_id, "file_unique_id": file_unique_id}
    extras.update({k: v for k, v in more.items() if v is not None})
    return extras


def attachments_of(msg: TgMessage) -> list[Attachment]:
    found: list[Attachment] = []
    if msg.photo:
        big = msg.photo[-1]  # Telegram lists the sizes smallest first
        found.append(Attachment(kind="image", size=big.file_size, extras=_file_extras(
            big.file_id, big.file_unique_id, width=big.width, height=big.height)))
    if msg.document:
        d = msg.document
        found.append(Attachment(kind="document", name=d.file_name, mime_type=d.mime_type, size=d.file_size,
                                extras=_file_extras(d.file_id, d.file_unique_id)))
    if msg.voice:
        v = msg.voice
        found.append(Attachment(kind="audio", mime_type=v.mime_type, size=v.file_size,
                                extras=_file_extras(v.file_id, v.file_unique_id, duration=v.duration, voice=True)))
    if msg.audio:
        a = msg.audio
        found.append(Attachment(kind="audio", name=a.file_name or a.title, mime_type=a.mime_type, size=a.file_size,
                                extras=_file_extras(a.file_id, a.file_unique_id, duration=a.duration)))
    found.extend(_video_and_sticker(msg))
    if msg.location:
        loc = msg.location
        found.append(Attachment(kind="location", extras={"latitude": loc.latitude, "longitude": loc.longitude}))
    return found


def _video_and_sticker(msg: TgMessage) -> list[Attachment]:
    found: list[Attachment] = []
    for video in (msg.video, msg.video_note):
        if video is not None:
            found.append(Attachment(kind="video", mime_type=getattr(video, "mime_type", None), size=video.file_size,
                                    extras=_file_extras(video.file_id, video.file_unique_id, duration=video.duration)))
    if msg.sticker:
        s = msg.sticker
        found.append(Attachment(kind="sticker", size=s.file_size, extras=_file_extras(
            s.file_id, s.file_unique_id, emoji=s.emoji, set_name=s.set_name,
            is_animated=s.is_animated, is_video=s.is_video)))
    return found


def describe(msg: TgMessage) -> str:
    """Bracketed words for a message that has none of its own (shown to
    agents; never read as the customer's words)."""
    if msg.sticker:
        return f"[sticker {msg.sticker.emoji}]" if msg.sticker.emoji else "[sticker]"
    if msg.venue:  # a place picked on the map: its name and address say more than its coordinates
        return f"[place {msg.venue.title}, {msg.venue.address}]"
    if msg.location:
        return f"[location {msg.location.latitude:.6f}, {msg.location.longitude:.6f}]"
    if msg.contact:
        name = " ".join(p for p in (msg.contact.first_name, msg.contact.last_name) if p)
        return f"[contact {name} {msg.contact.phone_number}]"
    if msg.voice:
        return f"[voice message {msg.voice.duration // 60}:{msg.voice.duration % 60:02d}]"
    if msg.document:
        return f"[document {msg.document.file_name}]" if msg.document.file_name else "[document]"
    kinds = (("photo", "[photo]"), ("audio", "[audio]"), ("video", "[video]"), ("video_note", "[video message]"))
    known = next((label for attr, label in kinds if getattr(msg, attr)), None)
    if known is not None:
        return known
    if msg.poll:
        return f"[poll {msg.poll.question}]"
    if msg.dice:
        return f"[{msg.dice.emoji} {msg.dice.value}]"
    # a kind aiogram knows and we do not map (a story, a game), or one it does not know yet;
    # the kind's name, not its enum's (an f-string of aiogram's ContentType says "ContentType.STORY")
    unknown = sorted(msg.model_extra or {})
    return f"[{unknown[0] if unknown else _kind(msg)}]"


def _kind(msg: TgMessage) -> str:
    kind = msg.content_type
    return str(getattr(kind, "value", kind))


def proven_phone(msg: TgMessage) -> str | None:
    """The sender's own number, when the message is their own contact.
    Telegram vouches the number is the sender's own account's (only the
    request-contact button or the sender's own card gives their user_id):
    proven, as a one-time code would prove it. It comes in international form,
    often without the leading "+"."""
    contact = msg.contact
    if contact is None or msg.from_user is None or contact.user_id != msg.from_user.id:
        return None
    phone = contact.phone_number.strip()
    return phone if phone.startswith("+") else f"+{phone}"


def to_inbound(channel: str, msg: TgMessage, edited: bool) -> InboundMessage | None:
    """The customer's message, or None for one that is not a customer's."""
    user = msg.from_user
    if msg.chat.type != "private" or user is None or user.is_bot or _kind(msg) in SERVICE_KINDS:
        return None
    external_id = f"{msg.chat.id}:{msg.message_id}"
    extras: dict[str, Any] = {"chat_id": msg.chat.id, "message_id": msg.message_id}
    if user.username:
        extras["username"] = user.username
    if edited:
        edit_date = msg.edit_date or 0
        extras.update(edit_of=external_id, edited_at=edit_date)
        external_id = f"{external_id}:edit:{edit_date}"
    extras.update(_context(msg))
    proven = proven_phone(msg)
    if msg.contact is not None and proven is None:  # someone else's card: shown, never a key of the sender's
        extras["shared_contact"] = msg.contact.model_dump(exclude_none=True)
    # the customer's own words only: a contact card's number is not theirs to claim
    text = msg.text or msg.caption or ""
    topic = topic_of(msg)
    return InboundMessage(
        channel=channel,
        external_id=external_id,
        sender=IdentityRef(kind=IDENTITY_KIND, value=str(user.id)),
        sender_name=user.full_name[:256],
        text=text,
        description=None if text else describe(msg),
        attachments=attachments_of(msg),
        sent_at=msg.date,
        extras=extras,
        proven_phone=proven,
        language=_language_code(user.language_code),
        # given only when there is one: the fields set are those plain_text sets for a plain message
        **({"thread": {"message_thread_id": topic}} if topic is not None else {}),
    )


def _context(msg: TgMessage) -> dict[str, Any]:
    """The extras a message has beside its content: the place it names, the
    message it answers and the part of that the customer quoted."""
    extras: dict[str, Any] = {}
    if msg.venue is not None:  # its location is the message's own too (an attachment, as any location's)
        extras["venue"] = msg.venue.model_dump(exclude_none=True, exclude={"location"})
    if msg.reply_to_message is not None:
        extras["reply_to"] = f"{msg.chat.id}:{msg.reply_to_message.message_id}"
    if msg.quote is not None:
        # the words the customer answers (Bot API 7.0's TextQuote): "до скольки он открыт?" means
        # nothing without them. Shown above the message in the console, as VK's replies are
        extras["quote"] = msg.quote.text
        extras["quoted"] = [_reply_quote(msg.reply_to_message, msg.quote.text)]
    if (topic := topic_of(msg)) is not None:
        extras["message_thread_id"] = topic
    return extras


def topic_of(msg: TgMessage) -> int | None:
    """The topic of the private chat the message was written in (Bot API 9.x
    lets a bot's private chats have topics): its answer goes back there, as
    ``InboundMessage.thread``. A message outside topics has none."""
    return msg.message_thread_id if msg.is_topic_message and msg.message_thread_id is not None else None


def _reply_quote(replied: TgMessage | None, words: str) -> dict[str, Any]:
    """A quote of the message answered (``extras["quoted"]``'s shape); a
    message of another chat (``external_reply``) has no sender here."""
    who = replied.from_user if replied is not None else None
    return {
        "kind": "reply",
        "from_id": who.id if who is not None else None,
        "sender_name": who.full_name[:256] if who is not None else None,
        "date": int(replied.date.timestamp()) if replied is not None else None,
        "text": words,
        "attachments": [],
    }


def read_inbound(channel: str, read: ReadUpdate) -> InboundMessage | None:
    """The customer's message in an update read (in part), with the raw
    update kept when anything of it was set aside or is unknown to aiogram."""
    if read.plain is not None:
        return InboundMessage(channel=channel, **read.plain)
    inbound, unknown = _from_update(channel, read.update)
    if inbound is None and read.unparsed:
        # what was set aside held the sender or the chat: the words are still in the JSON
        inbound = _from_json(channel, read.raw)
    if inbound is not None and inbound.description == "[unknown]":
        inbound.description = _set_aside_kind(read)
    if inbound is not None and (quote := forwarded(read.raw, inbound.text)) is not None:
        # the words are someone else's: shown as a quote, as VK's forwards are, and
        # never the customer's own (the rules, the bot and claims read ``text``)
        inbound.extras["quoted"] = [*inbound.extras.get("quoted", []), quote]
        inbound.text, inbound.description = "", "[forwarded message]"
    if inbound is not None and (read.unparsed or unknown):
        inbound.extras["telegram_update"] = read.raw
        inbound.extras["unparsed"] = read.unparsed or unknown
    return inbound


def _from_update(channel: str, update: Update | None) -> tuple[InboundMessage | None, list[str]]:
    if update is None:
        return None, []
    if update.message is not None:
        msg, edited = update.message, False
    elif update.edited_message is not None:
        msg, edited = update.edited_message, True
    else:
        return None, []
    return to_inbound(channel, msg, edited), sorted(f"message.{k}" for k in msg.model_extra or {})


def _from_json(channel: str, raw: dict[str, Any]) -> InboundMessage | None:
    """The least a private message must have (chat, sender, ids), read from
    the JSON itself, with its text or caption; None when even that is missing."""
    key = "message" if isinstance(raw.get("message"), dict) else "edited_message"
    msg = raw.get(key)
    if not isinstance(msg, dict):
        return None
    chat, user = msg.get("chat"), msg.get("from")
    if not isinstance(chat, dict) or not isinstance(user, dict) or chat.get("type") != "private":
        return None
    if not SERVICE_KINDS.isdisjoint(msg):
        return None
    chat_id, user_id, message_id = chat.get("id"), user.get("id"), msg.get("message_id")
    if not all(type(v) is int for v in (chat_id, user_id, message_id)) or user.get("is_bot") is True:
        return None
    external_id = f"{chat_id}:{message_id}"
    extras: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id}
    if key == "edited_message":
        edit_date = msg.get("edit_date") if type(msg.get("edit_date")) is int else 0
        extras.update(edit_of=external_id, edited_at=edit_date)
        external_id = f"{external_id}:edit:{edit_date}"
    words = next((v for v in (msg.get("text"), msg.get("caption")) if isinstance(v, str) and v), "")
    name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if isinstance(p, str) and p)
    date = msg.get("date")
    return InboundMessage(
        channel=channel, external_id=external_id, sender=IdentityRef(kind=IDENTITY_KIND, value=str(user_id)),
        sender_name=name[:256] or None, text=words, description=None if words else "[message]",
        # a date no clock can hold (10**30, negative) is no date: a 500 on every redelivery before
        sent_at=datetime.fromtimestamp(date, UTC) if type(date) is int and 0 <= date < _MAX_SECONDS else None,
        extras=extras, language=_language_code(user.get("language_code")),
    )


def _set_aside_kind(read: ReadUpdate) -> str:
    """The words for a message whose content aiogram set aside (a poll of a
    newer shape): its kind, from the part's path, and a poll's question."""
    parts = [p.split(".") for p in read.unparsed]
    kind = next((p[1] for p in parts if len(p) > 1 and p[0] in ("message", "edited_message")), "message")
    msg: dict[str, Any] = next(
        (read.raw[k] for k in ("message", "edited_message") if isinstance(read.raw.get(k), dict)), {})
    question = msg.get(kind, {}).get("question") if kind == "poll" and isinstance(msg.get(kind), dict) else None
    return f"[poll {question}]" if isinstance(question, str) else f"[{kind}]"


def forwarded(raw: dict[str, Any], words: str) -> dict[str, Any] | None:
    """The quote a forwarded message is shown as (``extras["quoted"]``, the
    shape VK's forwards have), from the update's JSON: an origin of a type
    aiogram does not know yet is still a forward. None for a message the
    customer wrote."""
    msg = next((raw[k] for k in ("message", "edited_message") if isinstance(raw.get(k), dict)), None)
    origin = msg.get("forward_origin") if msg is not None else None
    if not isinstance(origin, dict):
        return None
    who = next((v for v in (origin.get("sender_user"), origin.get("sender_chat"), origin.get("chat"))
                if isinstance(v, dict)), {})
    name = " ".join(p for p in (who.get("first_name"), who.get("last_name")) if isinstance(p, str) and p)
    name = name or next((v for v in (who.get("title"), origin.get("sender_user_name")) if isinstance(v, str)), "")
    date = origin.get("date")
    return {
        "kind": "forward",
        "from_id": who.get("id") if type(who.get("id")) is int else None,
        "sender_name": name[:256] or None,
        "date": date if type(date) is int and 0 <= date < _MAX_SECONDS else None,
        "text": words,
        "attachments": [],  # the forwarded files are the message's own (fetched by their file_id)
    }
