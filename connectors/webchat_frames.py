"""The site chat's wire format: the client frames the widget sends (parsed
strictly, bad ones mapped to the contract's error codes) and the frames the
server pushes (DESIGN.md, ``WS /chat/ws``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from connectors.webhook import encodable
from router.models import DESCRIPTION_EXTRA, MAX_TEXT_LENGTH, Author, Message, OutboundMessage, RatingAnswer

MAX_FIELD_LENGTH = 256
MAX_CLIENT_ID_LENGTH = 128


# -- frames --------------------------------------------------------------------


class FrameError(Exception):
    """A bad client frame: answered with an error frame, the socket stays open."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _not_blank(text: str) -> str:
    stripped = text.strip()
    if not stripped:
        raise ValueError("must not be empty")
    return stripped


def _without_nul(text: str) -> str:
    """A NUL dropped, the rest kept: no keyboard types one, so it is a script's or a paste's,
    and the customer's words are worth more than a refusal of them. Stored, it was a NUL on
    SQLite and U+FFFD on PostgreSQL, and a note refuses it (router.notes)."""
    return text.replace("\x00", "")


def _blank_to_none(value: str | None) -> str | None:
    return (value.strip() or None) if value is not None else None


OptionalField = Annotated[str | None, Field(max_length=MAX_FIELD_LENGTH), AfterValidator(_blank_to_none)]


class _Frame(BaseModel):
    # strict: a number is not a text; unknown keys are ignored so an older
    # server keeps working with a newer widget
    model_config = ConfigDict(strict=True, extra="ignore")


class HelloFrame(_Frame):
    type: Literal["hello"]
    # not length-limited here: anything that is not a valid token starts a
    # new visitor rather than being an error
    visitor_id: str | None = None
    name: OptionalField = None
    email: OptionalField = None
    phone: OptionalField = None
    # the widget's language (its data-lang, else the page's, else the browser's): what a
    # message without words ("5", "👍", a photo) is answered in
    lang: Annotated[str | None, Field(max_length=35), AfterValidator(_blank_to_none)] = None


class ChatFrame(_Frame):
    type: Literal["message"]
    text: Annotated[str, Field(max_length=MAX_TEXT_LENGTH), AfterValidator(_without_nul), AfterValidator(_not_blank)]
    client_id: Annotated[str, Field(min_length=1, max_length=MAX_CLIENT_ID_LENGTH)]

    @property
    def rating(self) -> RatingAnswer | None:
        """Words, not a survey's button."""
        return None


class PingFrame(_Frame):
    type: Literal["ping"]


class TypingFrame(_Frame):
    """The visitor is typing (the widget sends it at most every few seconds while they do)."""

    type: Literal["typing"]


class RatingFrame(_Frame):
    """A satisfaction survey's button pressed (``survey`` frame): acknowledged as a message is."""

    type: Literal["rating"]
    survey_id: Annotated[str, Field(min_length=1, max_length=64)]
    score: Annotated[int, Field(ge=1, le=5)]
    client_id: Annotated[str, Field(min_length=1, max_length=MAX_CLIENT_ID_LENGTH)]

    @property
    def text(self) -> str:
        """The message it is stored as: the score, as a customer would type it."""
        return str(self.score)

    @property
    def rating(self) -> RatingAnswer | None:
        return RatingAnswer(survey_id=self.survey_id, score=self.score)


AnyClientFrame = HelloFrame | ChatFrame | PingFrame | TypingFrame | RatingFrame
ClientFrame = Annotated[AnyClientFrame, Field(discriminator="type")]
_CLIENT_FRAME: TypeAdapter[AnyClientFrame] = TypeAdapter(ClientFrame)


def parse_frame(raw: str) -> AnyClientFrame:
    try:
        return _CLIENT_FRAME.validate_json(raw)
    except ValidationError as exc:
        raise frame_error(exc) from None


def refused_client_id(raw: str) -> str | None:
    """The ``client_id`` of a frame refused as invalid, when it has a usable
    one: said back with the error, so the widget stops re-sending what it kept."""
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's recursion limit
        return None
    client_id = frame.get("client_id") if isinstance(frame, dict) else None
    if isinstance(client_id, str) and 0 < len(client_id) <= MAX_CLIENT_ID_LENGTH and encodable(client_id):
        return client_id
    return None


def frame_error(exc: ValidationError) -> FrameError:
    """Map pydantic's errors to the contract's codes with a readable message."""
    errors = exc.errors(include_url=False, include_input=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return FrameError("bad_json", "the frame is not valid JSON")
    if any(not e["loc"] for e in errors):
        # not an object, no "type", or a type we do not know
        return FrameError("unknown_type",
                          'expected an object with "type": "hello", "message", "rating", "typing" or "ping"')
    if any(e["type"] == "string_too_long" and e["loc"][-1] == "text" for e in errors):
        return FrameError("too_long", f"text is longer than {MAX_TEXT_LENGTH} characters")
    details = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in errors)
    return FrameError("invalid_frame", details)


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message_frame(message_id: str, author: str, text: str, ts: datetime,
                  files: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "message", "id": message_id, "author": author, "text": text, "ts": _ts(ts)}
    if files:  # stored files, as connectors.webchat_files shows them
        frame["files"] = files
    return frame


def survey_frame(message: OutboundMessage) -> dict[str, Any] | None:
    """The rating's buttons under ``message`` (None: it asks for none); the widget answers with a ``rating`` frame."""
    if message.rating is None:
        return None
    return {"type": "survey", "message_id": message.message_id, "survey_id": message.rating.survey_id,
            "labels": message.rating.labels}


def history_frames(history: list[Message], files: dict[str, list[dict[str, Any]]] | None = None
                   ) -> list[dict[str, Any]]:
    # system notes are for agents, not for the customer
    # a message without words from another channel reads as its description ("[photo]"), unless its files show
    files = files or {}
    return [message_frame(m.id, m.author.value,
                          m.text or ("" if m.id in files else str(m.extras.get(DESCRIPTION_EXTRA) or "")),
                          m.created_at, files.get(m.id))
            for m in history if m.author is not Author.SYSTEM]


# seconds a client is asked to wait before it sends again what the service could not store (its store
# down): as webhooks' Retry-After; the widget waits longer each time in a row, and adds jitter
UNAVAILABLE_RETRY_AFTER = 5
# what the frame says, in the visitor's language (the hello's ``lang``; English for a client that gave none)
_UNAVAILABLE = {
    "message": {"ru": "Сообщение не удалось сохранить: сервис ненадолго недоступен. Отправьте его снова через {n} с.",
                "en": "The message could not be stored: the service is unavailable for a moment. "
                      "Send it again in {n} s."},
    "hello": {"ru": "Чат ненадолго недоступен: подключитесь снова через {n} с.",
              "en": "The chat is unavailable for a moment: connect again in {n} s."},
}


def unavailable_frame(lang: str | None, client_id: str | None = None) -> dict[str, Any]:
    """The service could not store a message (``client_id``) or open the chat (a hello's history
    or secret unread): the error frame, with when to try again, in the visitor's language."""
    texts = _UNAVAILABLE["message" if client_id is not None else "hello"]
    language = "ru" if (lang or "").lower()[:2] == "ru" else "en"
    frame: dict[str, Any] = {"type": "error", "code": "unavailable", "retry_after": UNAVAILABLE_RETRY_AFTER,
                             "message": texts[language].format(n=UNAVAILABLE_RETRY_AFTER)}
    if client_id is not None:
        frame["client_id"] = client_id
    return frame


def encode_frame(frame: dict[str, Any]) -> bytes:
    """A frame pushed to the widget, in UTF-8, by orjson (the ack of every message, and the welcome's
    whole history, in a tenth of json.dumps's time). Bytes: the socket sends them as they are, where a
    text would be decoded here and encoded again by the send."""
    try:
        return orjson.dumps(frame)
    except orjson.JSONEncodeError:  # what orjson refuses and json writes: a lone surrogate, an int over 64 bits
        return json.dumps(frame).encode()


__all__ = [
    "MAX_CLIENT_ID_LENGTH",
    "MAX_FIELD_LENGTH",
    "UNAVAILABLE_RETRY_AFTER",
    "AnyClientFrame",
    "ChatFrame",
    "ClientFrame",
    "FrameError",
    "HelloFrame",
    "PingFrame",
    "RatingFrame",
    "TypingFrame",
    "encode_frame",
    "frame_error",
    "history_frames",
    "message_frame",
    "parse_frame",
    "survey_frame",
    "unavailable_frame",
]
