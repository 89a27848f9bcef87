"""The Bot API's errors as the delivery error tree: what the outbox should do
with each (retry, wait as asked, give up at once) and why, in an agent's terms
(``Cause``), with the Bot API's own words kept after it.

Kept apart from ``connectors.telegram``, which has no room left under the 600
lines a file may hold. aiogram is imported when an error is mapped, as there:
only a Telegram connector that runs pays for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from router.connector import Cause, DeliveryError, PermanentError, RateLimited, TransientError

if TYPE_CHECKING:
    from aiogram.exceptions import AiogramError

# what a 400 or 403's description says (https://core.telegram.org/bots/api#making-requests
# documents only that a description comes; these are the words the Bot API uses)
_NO_RECIPIENT = ("chat not found", "user not found", "peer_id_invalid", "user is deactivated", "chat_id is empty",
                 "group chat was upgraded", "bot was kicked", "not a member")
_TOO_LONG = ("message is too long", "text is too long", "caption is too long")
_TOO_LARGE = ("too big", "too large", "entity too large")


def delivery_error(exc: AiogramError) -> DeliveryError:
    """aiogram's exception tree, mapped to what the outbox should do."""
    from aiogram import exceptions as tg  # noqa: PLC0415 - aiogram is imported late

    said = f"telegram: {reason(exc)}"
    if isinstance(exc, tg.TelegramRetryAfter):
        return RateLimited(float(exc.retry_after), "telegram: too many requests")
    if isinstance(exc, tg.TelegramEntityTooLarge):
        # 413 (a file over the Bot API's upload limit): aiogram files it under network errors,
        # but sending the same file again is refused the same way
        return PermanentError(said, Cause.TOO_LARGE)
    if isinstance(exc, (tg.TelegramServerError, tg.TelegramNetworkError, tg.TelegramConflictError,
                        tg.ClientDecodeError)):
        return TransientError(said)
    if isinstance(exc, (tg.TelegramForbiddenError, tg.TelegramBadRequest, tg.TelegramNotFound,
                        tg.TelegramUnauthorizedError, tg.TelegramMigrateToChat)):
        # blocked by the user, chat not found, bad token: retrying cannot help
        return PermanentError(said, _cause(exc))
    return TransientError(said)


def _cause(exc: AiogramError) -> Cause:
    from aiogram import exceptions as tg  # noqa: PLC0415 - aiogram is imported late

    words = str(exc).lower()
    if isinstance(exc, (tg.TelegramUnauthorizedError, tg.TelegramNotFound)):
        return Cause.ACCOUNT  # a wrong token (401), or a method the API does not have (404)
    if isinstance(exc, tg.TelegramMigrateToChat) or any(w in words for w in _NO_RECIPIENT):
        return Cause.NO_RECIPIENT
    if isinstance(exc, tg.TelegramForbiddenError):
        return Cause.BLOCKED  # bot was blocked by the user, bot can't initiate conversation with a user
    if any(w in words for w in _TOO_LONG):
        return Cause.TOO_LONG
    if any(w in words for w in _TOO_LARGE):
        return Cause.TOO_LARGE
    return Cause.REJECTED


def reason(exc: AiogramError) -> str:
    """An error in our words where aiogram's would quote a payload: a
    ClientDecodeError carries the whole answer, customers' messages with it."""
    from aiogram import exceptions as tg  # noqa: PLC0415 - aiogram is imported late

    if isinstance(exc, tg.ClientDecodeError):
        return "the Bot API's answer could not be read"
    if isinstance(exc, tg.TelegramNetworkError) and not isinstance(exc, tg.TelegramEntityTooLarge):
        # the HTTP client's text may carry the URL, and the URL the token
        return f"the Bot API could not be reached ({exc.message.split(':', 1)[0]})"
    return str(exc)
