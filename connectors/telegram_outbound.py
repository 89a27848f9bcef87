"""What a reply to Telegram carries beside its words: the buttons under its
last part (the phone request's, or a rating's), the source of a file
Telegram already has or fetches itself, and the topic of the customer's
private chat it goes back into.

Kept apart from ``connectors.telegram`` (the connector's lifecycle, the
webhook, polling and sending), which has no room left under the 600 lines a
file may hold. aiogram is imported when a keyboard is made, as there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.telegram_rating import rating_keyboard
from router.models import Attachment, OutboundMessage, PhoneButton

if TYPE_CHECKING:
    from aiogram.types import InlineKeyboardMarkup, ReplyKeyboardMarkup


def markup(message: OutboundMessage) -> ReplyKeyboardMarkup | InlineKeyboardMarkup | None:
    """The buttons under a message's last part: the phone request's, or a rating's."""
    if message.ask_phone is not None:
        return phone_keyboard(message.ask_phone)
    if message.rating is not None:
        return rating_keyboard(message.rating)
    return None


def phone_keyboard(button: PhoneButton) -> ReplyKeyboardMarkup:
    """One button that shares the customer's own contact (Telegram fills in
    their number and user_id); gone after one press."""
    from aiogram.types import KeyboardButton, ReplyKeyboardMarkup  # noqa: PLC0415 - aiogram is imported late

    return ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text=button.label, request_contact=True)]],
                               resize_keyboard=True, one_time_keyboard=True)


def media_source(attachment: Attachment) -> str | None:
    """A Telegram file_id, or an http(s) URL Telegram fetches itself."""
    file_id = attachment.extras.get("file_id")
    if isinstance(file_id, str) and file_id:
        return file_id
    if attachment.url and attachment.url.startswith(("http://", "https://")):
        return attachment.url
    return None


def topic_of(message: OutboundMessage) -> int | None:
    """The topic of the private chat the message answered was written in
    (``message_thread_id``, as ``telegram_inbound`` put it in its ``thread``)."""
    topic = message.thread.get("message_thread_id")
    return topic if type(topic) is int else None


def topic_gone(description: str) -> bool:
    """Whether the Bot API refused a message for its topic alone ("Bad Request:
    message thread not found"): the customer deleted it, or turned topics off."""
    return "thread not found" in description.lower()
