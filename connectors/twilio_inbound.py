"""Twilio's inbound webhook form (WhatsApp and SMS) as an ``InboundMessage``,
shaped as Twilio documents it (MessageSid, From, Body, NumMedia/MediaUrlN,
Latitude/Longitude, ProfileName, OriginalRepliedMessageSid, the Referral*
fields of a Click-to-WhatsApp ad, Forwarded/FrequentlyForwarded)."""

from __future__ import annotations

import re
from typing import Any, Literal

from router.models import Attachment, IdentityRef, InboundMessage

WHATSAPP_PREFIX = "whatsapp:"
# the most media one message carries (Twilio's limit)
MAX_MEDIA = 10
MESSAGE_SID = re.compile(r"^(SM|MM|IM)[0-9a-fA-F]{32}$")
# kept in extras as Twilio names them: the agent reads what WhatsApp said of the message
PLAIN_EXTRAS = ("To", "WaId", "MessageType", "ButtonPayload", "FromCountry", "NumSegments",
                "Forwarded", "FrequentlyForwarded")
# the ad (or post) a Click-to-WhatsApp customer tapped to write, as Twilio passes on Meta's referral:
# kept together in extras["referral"], so the agent sees which ad the customer came from
REFERRAL = ("ReferralBody", "ReferralHeadline", "ReferralSourceId", "ReferralSourceType", "ReferralSourceUrl",
            "ReferralMediaId", "ReferralMediaContentType", "ReferralMediaUrl", "ReferralNumMedia",
            "ReferralCtwaClid")


def _attachment_kind(mime: str) -> Literal["image", "audio", "video", "document"]:
    major = mime.split("/", 1)[0]
    if major in ("image", "audio", "video"):
        return major  # type: ignore[return-value]
    return "document"


def media_of(form: dict[str, str]) -> list[Attachment]:
    try:
        count = min(int(form.get("NumMedia", "0")), MAX_MEDIA)
    except ValueError:
        count = 0
    found: list[Attachment] = []
    for i in range(count):
        url = form.get(f"MediaUrl{i}")
        if not url:
            continue
        mime = form.get(f"MediaContentType{i}", "application/octet-stream")
        # Twilio's media URL ends with the Media SID (ME...); where the account enforces HTTP auth
        # on media (as Twilio advises) it answers only the account's credentials, so it is no
        # link for an agent's browser: the console relays it (TwilioConnector.fetch_media)
        found.append(Attachment(kind=_attachment_kind(mime), mime_type=mime, extras={
            "media_sid": url.rstrip("/").rsplit("/", 1)[-1], "media_url": url}))
    return found


def location_of(form: dict[str, str]) -> Attachment | None:
    try:
        lat, lon = float(form["Latitude"]), float(form["Longitude"])
    except (KeyError, ValueError):
        return None
    extras: dict[str, Any] = {"latitude": lat, "longitude": lon}
    extras.update({k.lower(): form[k] for k in ("Address", "Label") if form.get(k)})
    return Attachment(kind="location", extras=extras)


def describe(attachments: list[Attachment]) -> str:
    """Bracketed words for a message that has none of its own."""
    words = []
    for a in attachments:
        if a.kind == "location":
            words.append(f"[location {a.extras['latitude']:.6f}, {a.extras['longitude']:.6f}]")
        else:
            words.append(f"[{a.kind} {a.mime_type}]" if a.kind == "document" else f"[{a.kind}]")
    return " ".join(words)


def opt_out_of(form: dict[str, str]) -> str | None:
    """Twilio's ``OptOutType`` (STOP, START, HELP): set when a Messaging Service's
    Advanced Opt-Out took the message as a keyword. Twilio has answered it
    itself, and after STOP refuses any other message to the number (21610)."""
    return form.get("OptOutType", "").strip().upper()[:32] or None


def referral_of(form: dict[str, str]) -> dict[str, str]:
    """The ad's fields Twilio gave; none for a message no ad started (WhatsApp's
    carry ReferralNumMedia=0 all the same)."""
    found = {name: form[name] for name in REFERRAL if form.get(name)}
    return {} if found.keys() <= {"ReferralNumMedia"} and found.get("ReferralNumMedia", "0") == "0" else found


class BadPayload(ValueError):
    """A signed request that is no message Twilio documents."""


def to_inbound(channel: str, flavour: str, form: dict[str, str]) -> InboundMessage:
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    if not MESSAGE_SID.match(sid):
        raise BadPayload("MessageSid is missing or malformed")
    sender = form.get("From", "").removeprefix(WHATSAPP_PREFIX).strip()
    if not sender:
        raise BadPayload("From is missing")
    attachments = media_of(form)
    if (location := location_of(form)) is not None:
        attachments.append(location)
    extras: dict[str, Any] = {k: form[k] for k in PLAIN_EXTRAS if form.get(k)}
    if replied := form.get("OriginalRepliedMessageSid"):
        extras["reply_to"] = replied
    if referral := referral_of(form):
        extras["referral"] = referral
    opt_out = opt_out_of(form)
    if opt_out is not None:
        extras["OptOutType"] = opt_out
    text = form.get("Body", "") or form.get("ButtonText", "")
    return InboundMessage(
        channel=channel,
        external_id=sid,
        sender=IdentityRef(kind=flavour, value=sender),
        sender_name=(form.get("ProfileName") or None) and form["ProfileName"][:256],
        text=text,
        description=None if text else describe(attachments) or None,
        attachments=attachments,
        extras=extras,
        # a keyword Twilio answered: shown to the agents as the customer's, never routed nor answered
        # (a bot's or a hand-off's reply to a STOP would fail, and to START or HELP comes after Twilio's)
        automated=f"opt-out keyword: Twilio answered {opt_out}" if opt_out else None,
        platform_answered=opt_out is not None,
    )
