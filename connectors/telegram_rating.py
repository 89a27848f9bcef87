"""Telegram's side of the satisfaction survey: the rating asked with an
inline keyboard (one button per score, its label from csat.yaml), and the
press read back from the ``callback_query`` update Telegram sends for it.

A button's ``callback_data`` is ``csat:<survey id>:<score>`` (at most 64
bytes, as the Bot API allows). A press becomes an ``InboundMessage`` whose
text is the score and whose ``rating`` names the survey, with the external
id ``callback:<callback query id>``: a redelivered update is stored once.
Anything else pressed (an old keyboard of another bot, a forged payload) is
not a customer's message; the connector answers every callback query all
the same, so the customer's app stops its spinner."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from connectors.telegram_inbound import IDENTITY_KIND
from router.models import IdentityRef, InboundMessage, RatingAnswer, RatingRequest

if TYPE_CHECKING:
    from aiogram.types import CallbackQuery, InlineKeyboardMarkup

PREFIX = "csat"
_DATA = re.compile(r"^csat:([A-Za-z0-9_]{1,58}):([1-5])$")


def rating_data(survey_id: str, score: int) -> str:
    return f"{PREFIX}:{survey_id}:{score}"


def rating_keyboard(request: RatingRequest) -> InlineKeyboardMarkup:
    """One button per score, one score a row: the labels say what each means."""
    from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup  # noqa: PLC0415 - aiogram is imported late

    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=label, callback_data=rating_data(request.survey_id, score))]
        for score, label in enumerate(request.labels, start=1)
    ])


def rating_of(channel: str, query: CallbackQuery) -> InboundMessage | None:
    """The customer's rating in a pressed button, or None when the press is
    no rating of ours (or not in a private chat with the customer)."""
    match = _DATA.match(query.data or "")
    message: Any = query.message
    chat = getattr(message, "chat", None)
    if match is None or chat is None or chat.type != "private" or query.from_user.is_bot:
        return None
    score = int(match.group(2))
    return InboundMessage(
        channel=channel,
        external_id=f"callback:{query.id}",
        sender=IdentityRef(kind=IDENTITY_KIND, value=str(query.from_user.id)),
        sender_name=query.from_user.full_name[:256],
        text=str(score),
        extras={"chat_id": chat.id, "message_id": message.message_id, "callback_query_id": query.id},
        rating=RatingAnswer(survey_id=match.group(1), score=score),
    )
