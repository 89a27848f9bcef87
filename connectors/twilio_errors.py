"""Twilio's error codes (https://www.twilio.com/docs/api/errors) in words an
agent can act on, and why a message failed in an agent's terms (``Cause``):
for a send Twilio refused and for a status callback that reports a failure.
Kept apart from ``connectors.twilio``, near the 600 lines a file may hold."""

from __future__ import annotations

from twilio.base.exceptions import TwilioRestException

from router.connector import Cause, DeliveryError, PermanentError, RateLimited, TransientError, with_cause

# Twilio error codes agents meet most, in words they can act on, and why the message failed
ERRORS: dict[int, tuple[str, Cause | None]] = {
    20003: ("authentication failed: check the account SID and auth token", Cause.ACCOUNT),
    21211: ("the 'To' number is not a valid phone number", Cause.NO_RECIPIENT),
    21408: ("sending to this region is not enabled on the Twilio account", Cause.ACCOUNT),
    21610: ("the customer has unsubscribed (replied STOP) from this sender", Cause.UNSUBSCRIBED),
    21612: ("this sender cannot reach the 'To' number", Cause.NO_RECIPIENT),
    21614: ("the 'To' number is not a mobile number", Cause.NO_RECIPIENT),
    21617: ("the text is over 1,600 characters", Cause.TOO_LONG),
    30003: ("unreachable handset (off or out of coverage)", None),
    30004: ("message blocked by the recipient or their carrier", Cause.BLOCKED),
    30005: ("unknown handset: the number does not exist", Cause.NO_RECIPIENT),
    30006: ("landline or unreachable carrier", Cause.NO_RECIPIENT),
    30007: ("filtered by the carrier as spam", Cause.REJECTED),
    30008: ("unknown error from the carrier", None),
    63003: ("the number is not on WhatsApp", Cause.NO_RECIPIENT),
    63016: ("outside WhatsApp's 24-hour window: only an approved template can be sent", Cause.WINDOW_CLOSED),
    63018: ("the WhatsApp sender's rate limit was exceeded", None),
    63024: ("the recipient is not a valid WhatsApp user", Cause.NO_RECIPIENT),
}


def _number(code: int | str | None) -> int | None:
    try:
        return int(code) if code is not None else None
    except ValueError:
        return None


def describe_error(code: int | str | None, message: str | None = None) -> str:
    """``twilio 21211: the 'To' number is not a valid phone number``."""
    number = _number(code)
    words = ERRORS[number][0] if number in ERRORS else None
    # a status callback may carry no ErrorCode (canceled; failed without one)
    if code in (None, ""):
        return f"twilio: {message or 'error'}"
    return f"twilio {code}: {words or message or 'error'}"


def cause_of(code: int | str | None) -> Cause | None:
    number = _number(code)
    return ERRORS[number][1] if number in ERRORS else None


def failure_reason(code: int | str | None, message: str | None = None) -> str:
    """A status callback's failure as the console shows it: its cause, then Twilio's code and words."""
    return with_cause(describe_error(code, message), cause_of(code))


def delivery_error(exc: TwilioRestException) -> DeliveryError:
    reason = describe_error(exc.code, _rest_message(exc))
    if exc.code in {20429, 63018}:
        return RateLimited(1.0, reason)
    if exc.status >= 500:
        return TransientError(f"{reason} (HTTP {exc.status})")
    return PermanentError(reason, cause_of(exc.code) or Cause.REJECTED)


def _rest_message(exc: TwilioRestException) -> str:
    # twilio prefixes its own "Unable to create record: "
    return str(exc.msg).split(": ", 1)[-1]
