"""The facts a rule can test, with their types.

Every name here is a symbol of the expression language; the types let
rule-engine refuse ``customer_ltv > 'gold'`` or an unknown name when the file
loads instead of when a customer writes. Customer facts come from the golden
record's attributes (``tier``, ``lifetime_value``, ``tags``, anything else
under ``attributes``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from rule_engine import DataType

from router.human_request import HumanRequest
from router.language import answer_language
from router.models import Customer, CustomerHistory, Message

RECENT_WINDOW = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Fact:
    type: Any  # a rule_engine DataType definition
    description: str


FACTS: dict[str, Fact] = {
    "channel": Fact(DataType.STRING, "the channel (connector name) the message came from"),
    "channel_kind": Fact(DataType.STRING, "the channel's kind from teams.yaml (chat, email…)"),
    "text": Fact(DataType.STRING, "the message text"),
    "language": Fact(DataType.STRING, "the customer's language, ru or en: attributes.language, else the script "
                     "they write in, else the channel's, else ru (router.language.answer_language)"),
    "has_attachments": Fact(DataType.BOOLEAN, "the message carries attachments"),
    "attachment_kinds": Fact(DataType.SET(DataType.STRING), "kinds of the attachments (image, document…)"),
    "customer_tier": Fact(DataType.STRING, "attributes.tier in lower case, '' when unset"),
    "customer_ltv": Fact(DataType.FLOAT, "attributes.lifetime_value, 0 when unset"),
    "customer_tags": Fact(DataType.SET(DataType.STRING), "attributes.tags, each in lower case"),
    "attributes": Fact(DataType.MAPPING(DataType.STRING), "every custom attribute: attributes['plan'] == 'pro'"),
    "customer_new": Fact(DataType.BOOLEAN, "no earlier conversation with this customer"),
    "customer_returning": Fact(DataType.BOOLEAN, "the customer had an earlier conversation"),
    "contacts_7d": Fact(DataType.FLOAT, "conversations the customer opened in the last 7 days"),
    "contacts_30d": Fact(DataType.FLOAT, "conversations the customer opened in the last 30 days"),
    "conversation_age": Fact(DataType.FLOAT, "seconds since the conversation opened (0 for a new one)"),
    "bot_failed": Fact(DataType.BOOLEAN, "the bot could not answer (unsure, a repeat, an error)"),
    "bot_reason": Fact(DataType.STRING, "why the bot stepped aside: low_confidence, repeated, unclear, "
                       "bot_failed, asked_for_human; '' while it answers"),
    "asked_for_human": Fact(DataType.BOOLEAN, "the message asks for a person (router/human_request.py, "
                            "plus human_request in rules.yaml and bot.yaml)"),
    "now": Fact(DataType.DATETIME, "the time in the rules' time zone: now.hour, now.weekday == 'Monday'"),
    "open": Fact(DataType.MAPPING(DataType.STRING, DataType.BOOLEAN), "calendars open now: open['office']"),
}


def _tags(value: Any) -> set[str]:
    """In lower case, as the tier: a CRM's 'VIP' is the rules' 'vip'."""
    if isinstance(value, str):
        return {value.lower()}
    if isinstance(value, list | tuple | set):
        return {str(v).lower() for v in value}
    return set()


def tier_of(value: Any) -> str:
    """The rules' ``customer_tier``: in lower case, so a CRM's or a spreadsheet's 'Gold' is
    the 'gold' the rules and the wallboard name (it was 'Gold', and such a customer went by
    the bot and counted as nobody valuable)."""
    return str(value or "").lower()


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def gather(
    message: Message,
    customer: Customer,
    history: CustomerHistory,
    now: datetime,
    *,
    zone: ZoneInfo,
    channel_kind: str,
    human_request: HumanRequest,
    conversation_age: float = 0.0,
    bot_failed: bool = False,
    calendars: dict[str, bool] | None = None,
) -> dict[str, Any]:
    attrs = customer.attributes
    return {
        "channel": message.channel,
        "channel_kind": channel_kind,
        "text": message.text,
        "language": answer_language(message, customer),
        "has_attachments": bool(message.attachments),
        "attachment_kinds": {a.kind for a in message.attachments},
        "customer_tier": tier_of(attrs.get("tier")),
        "customer_ltv": _number(attrs.get("lifetime_value")),
        "customer_tags": _tags(attrs.get("tags")),
        "attributes": dict(attrs),
        "customer_new": history.total == 0,
        "customer_returning": history.total > 0,
        "contacts_7d": float(sum(1 for t in history.recent if now - t <= timedelta(days=7))),
        "contacts_30d": float(sum(1 for t in history.recent if now - t <= RECENT_WINDOW)),
        "conversation_age": conversation_age,
        "bot_failed": bot_failed,
        "bot_reason": "",
        "asked_for_human": human_request.find(message.text) is not None,
        "now": now.astimezone(zone),
        "open": dict(calendars or {}),
    }


def printable(facts: dict[str, Any], text_limit: int = 200) -> dict[str, Any]:
    """The facts as JSON values, for the trace."""
    return {name: _printable(value, text_limit) for name, value in facts.items()}


def _printable(value: Any, text_limit: int) -> Any:
    if isinstance(value, set):
        return sorted(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str) and len(value) > text_limit:
        return value[:text_limit] + "…"
    return value
