"""VK API errors (https://dev.vk.com/ru/reference/errors) as the delivery
error tree: what the outbox should do with each and why, in an agent's terms
(``Cause``), with VK's code and words kept after it. Kept apart from
``connectors.vk``, which has no room left under the 600 lines a file may hold."""

from __future__ import annotations

import requests
import vk_api

from router.connector import Cause, DeliveryError, PermanentError, RateLimited, TransientError

# error codes retrying cannot help with, and why
PERMANENT_CODES: dict[int, Cause] = {
    5: Cause.ACCOUNT,  # user authorization failed: the community token
    7: Cause.ACCOUNT,  # permission to perform this action is denied
    15: Cause.ACCOUNT,  # access denied
    27: Cause.ACCOUNT,  # group authorization failed
    100: Cause.REJECTED,  # one of the parameters specified was missing or invalid
    113: Cause.NO_RECIPIENT,  # invalid user id
    900: Cause.BLOCKED,  # can't send messages for users from blacklist
    901: Cause.BLOCKED,  # can't send messages for users without permission (they never wrote, or turned it off)
    902: Cause.BLOCKED,  # can't send messages to this user due to their privacy settings
    914: Cause.TOO_LONG,  # message is too long
    917: Cause.NO_RECIPIENT,  # you don't have access to this chat
    936: Cause.NO_RECIPIENT,  # contact not found
    945: Cause.BLOCKED,  # chat was disabled
    946: Cause.ACCOUNT,  # chat not supported
    950: Cause.NO_RECIPIENT,  # can't send message, reply timed out
    962: Cause.REJECTED,  # you can't access this message
    966: Cause.REJECTED,  # message cannot be forwarded
}
# too many requests per second, flood control, rate limit reached: seconds to wait
RATE_CODES = {6: 1.0, 9: 10.0, 29: 60.0}


def delivery_error(exc: Exception) -> DeliveryError:
    if isinstance(exc, vk_api.ApiError):
        reason = f"vk: [{exc.code}] {exc.error.get('error_msg', '')}"
        if exc.code in RATE_CODES:
            return RateLimited(RATE_CODES[exc.code], reason)
        if exc.code in PERMANENT_CODES:
            return PermanentError(reason, PERMANENT_CODES[exc.code])
        return TransientError(reason)
    if isinstance(exc, vk_api.ApiHttpError):
        return TransientError(f"vk: HTTP {exc.response.status_code}")
    if isinstance(exc, requests.RequestException):
        # our words: the HTTP client's text carries the URL it called
        return TransientError(f"vk: the API could not be reached ({type(exc).__name__})")
    return TransientError(f"vk: {type(exc).__name__}: {exc}")
