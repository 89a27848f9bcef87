"""An external bot behind Rasa's REST channel.

``POST {url}`` with ``{"sender": <conversation id>, "message": <text>}``;
the answer is a JSON list of messages ``{"recipient_id", "text", "buttons",
"image", "attachment", "custom"}``, each key but ``recipient_id`` optional
(Rasa's ``CollectingOutputChannel``). Each message reaches the customer as
plain text, which every channel shows:

- ``text`` as it is;
- ``buttons`` (and ``quick_replies``) ``[{"title", "payload"}]`` as a
  numbered list under it («1) Доставка»), numbered on across the answer's
  messages. The customer's next message picking one, by its number or its
  title (``router.bot.choices``), is sent to Rasa as that button's
  ``payload``, as a press of the button in Rasa's own channels would be;
  anything else as typed. The buttons offered are kept with the bot's
  message (``BotReply.choices`` in ``core.bot``), so they hold until the
  bot's next answer, across a restart and on any node. A button without a
  title shows its payload; one without a payload, or that is no object, is
  left out (the text stays);
- ``image`` and an ``attachment`` given as an http(s) URL: the URL, on a
  line of its own (a link reaches every channel; a file the platform must
  fetch may fail there and take the text with it);
- ``custom`` (a channel-specific JSON payload): not shown, a debug log says so.

A timeout, an HTTP error, a body that is no such list, or nothing to show
hands the conversation to people: the customer is never left without an answer.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, Self

import aiohttp
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from router.bot.base import Bot, BotReply, BotTurn, HandoffReason, ReplyKind, fixed_vocabulary
from router.bot.choices import MAX_PAYLOAD, MAX_TITLE, Choice, numbered, picked
from router.bot.config import ExternalBot

log = logging.getLogger(__name__)

# an answer larger than this is no chat reply: refused, not read into memory
MAX_ANSWER_BYTES = 1024 * 1024
# buttons offered in one answer at most: a list longer than this is no choice a customer reads through
MAX_CHOICES = 50


class RasaMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    recipient_id: str | None = None
    text: str | None = None
    # read leniently (``_choices``, ``_link``): a malformed button or image never loses the text
    buttons: Any = None
    quick_replies: Any = None
    image: Any = None
    attachment: Any = None
    custom: Any = None


_ANSWER = TypeAdapter(list[RasaMessage])


class RasaBot(Bot):
    name = "rasa"

    def __init__(self, config: ExternalBot, human_request: list[str] | None = None) -> None:
        self.config = config
        self.url = str(config.url)
        self.vocabulary = fixed_vocabulary(human_request or [])
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.timeout))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def respond(self, turn: BotTurn) -> BotReply:
        language = turn.language()
        if (asked := self.person_requested(turn)) is not None:
            return asked
        # a pick of one of the buttons the bot's last answer offered says what pressing it would
        offered = turn.offered()
        chosen = picked(turn.text, offered) if offered else None
        try:
            answer = await self._ask(turn.conversation_id, chosen.payload if chosen is not None else turn.text)
        except _Failed as exc:
            log.warning("external bot %s failed for conversation %s: %s", self.url, turn.conversation_id, exc)
            return BotReply.handoff(HandoffReason.BOT_FAILED, f"the external bot failed: {exc}", language=language)
        texts, choices = self._shown(turn.conversation_id, answer)
        if not texts:
            return BotReply.handoff(HandoffReason.BOT_FAILED, "the external bot had no answer", language=language)
        detail = f"answered by the external bot at {self.url}"
        if chosen is not None:
            detail += f" (sent the payload of the option picked, {offered.index(chosen) + 1} of {len(offered)})"
        return BotReply(kind=ReplyKind.ANSWER, texts=texts, confidence=1.0, language=language, detail=detail,
                        choices=choices)

    def _shown(self, conversation_id: str, answer: list[RasaMessage]) -> tuple[list[str], list[Choice]]:
        """What the customer is shown of each message, and the buttons offered, numbered on across them."""
        texts: list[str] = []
        choices: list[Choice] = []
        for message in answer:
            lines = [message.text.strip()] if message.text and message.text.strip() else []
            lines += [url for url in (_link(message.image), _link(message.attachment)) if url is not None]
            offered = [c for buttons in (message.buttons, message.quick_replies) for c in _choices(buttons)]
            if len(choices) + len(offered) > MAX_CHOICES:
                log.warning("external bot %s offered more than %d buttons in conversation %s: the rest are left out",
                            self.url, MAX_CHOICES, conversation_id)
                offered = offered[:MAX_CHOICES - len(choices)]
            if offered:
                lines.append(numbered(offered, len(choices) + 1))
                choices += offered
            if message.custom is not None:
                log.debug("external bot %s: a custom payload in conversation %s is not shown (no channel's)",
                          self.url, conversation_id)
            if message.image is not None and _link(message.image) is None:
                log.debug("external bot %s: an image that is no http(s) URL in conversation %s is not shown",
                          self.url, conversation_id)
            if message.attachment is not None and _link(message.attachment) is None:
                log.debug("external bot %s: an attachment that is no http(s) URL in conversation %s is not shown",
                          self.url, conversation_id)
            if lines:
                texts.append("\n".join(lines))
        return texts, choices

    async def _ask(self, conversation_id: str, text: str) -> list[RasaMessage]:
        if self._session is None:
            raise _Failed("not started")
        body: dict[str, Any] = {"sender": conversation_id, "message": text}
        try:
            async with self._session.post(self.url, json=body) as response:
                if response.status != 200:
                    raise _Failed(f"HTTP {response.status}")
                raw = await response.content.read(MAX_ANSWER_BYTES + 1)
        except TimeoutError:
            raise _Failed(f"no answer within {self.config.timeout:g}s") from None
        except aiohttp.ClientError as exc:
            raise _Failed(f"{type(exc).__name__}: {exc}") from None
        if len(raw) > MAX_ANSWER_BYTES:
            raise _Failed("the answer is larger than 1 MiB")
        try:
            return _ANSWER.validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "answer"
            raise _Failed(f"malformed answer ({where}: {first['msg']}), expected a JSON list of "
                          '{"recipient_id", "text"}') from None


class _Failed(Exception):
    pass


def _choices(buttons: Any) -> list[Choice]:
    """Rasa's ``[{"title", "payload"}]`` as choices: a button without a title
    shows its payload; one without a payload (or too long to send back), or
    that is no object, is left out."""
    if buttons is None:
        return []
    if not isinstance(buttons, list):
        log.debug("external bot: buttons that are no list are left out")
        return []
    choices: list[Choice] = []
    for button in buttons:
        payload = button.get("payload") if isinstance(button, dict) else None
        if not isinstance(payload, str) or not payload.strip() or len(payload) > MAX_PAYLOAD:
            log.debug("external bot: a button without a usable payload is left out")
            continue
        title = button.get("title")
        # one line of the numbered list, whatever the bot put in it
        shown = " ".join(title.split()) if isinstance(title, str) else ""
        choices.append(Choice(title=(shown or " ".join(payload.split()))[:MAX_TITLE], payload=payload))
    return choices


def _link(value: Any) -> str | None:
    """An image's or attachment's http(s) URL, else None (a file path of Rasa's machine, an object)."""
    if isinstance(value, str) and value.strip().startswith(("http://", "https://")) and len(value) <= 2048:
        return value.strip()
    return None


__all__ = ["RasaBot"]
