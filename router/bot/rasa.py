"""An external bot behind Rasa's REST channel.

``POST {url}`` with ``{"sender": <conversation id>, "message": <text>}``;
the answer is a JSON list of ``{"recipient_id", "text"}`` (other keys such
as ``image`` or ``buttons`` are ignored). A timeout, an HTTP error, a body
that is no such list, or an empty list hands the conversation to people:
the customer is never left without an answer.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, Self

import aiohttp
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from router.bot.base import Bot, BotReply, BotTurn, HandoffReason, ReplyKind, fixed_vocabulary
from router.bot.config import ExternalBot

log = logging.getLogger(__name__)

# an answer larger than this is no chat reply: refused, not read into memory
MAX_ANSWER_BYTES = 1024 * 1024


class RasaMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    recipient_id: str | None = None
    text: str | None = None


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
        try:
            answer = await self._ask(turn)
        except _Failed as exc:
            log.warning("external bot %s failed for conversation %s: %s", self.url, turn.conversation_id, exc)
            return BotReply.handoff(HandoffReason.BOT_FAILED, f"the external bot failed: {exc}", language=language)
        texts = [m.text.strip() for m in answer if m.text and m.text.strip()]
        if not texts:
            return BotReply.handoff(HandoffReason.BOT_FAILED, "the external bot had no answer", language=language)
        return BotReply(kind=ReplyKind.ANSWER, texts=texts, confidence=1.0, language=language,
                        detail=f"answered by the external bot at {self.url}")

    async def _ask(self, turn: BotTurn) -> list[RasaMessage]:
        if self._session is None:
            raise _Failed("not started")
        body: dict[str, Any] = {"sender": turn.conversation_id, "message": turn.text}
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


__all__ = ["RasaBot"]
