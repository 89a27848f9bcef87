"""Identity keys: what makes two channel identities the same person.

A connector says which *kind* a sender's value is (``whatsapp``, ``sms``,
``email``, ``webchat``…); ``config/identity.yaml`` says which kinds carry a
phone number or an email address. From those the core derives one normalised
*key* per identity (``phone:+79123456789``, ``email:anna@example.com``), the
same whatever channel it was seen on, and the policy for that key: does it
join profiles automatically, is it blocked, is it too widely shared to mean
anything. Nothing here knows a platform's name (invariant 7).
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import logging
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from router.identity.types import AttributeMergePolicy, ClaimPlan, IdentityPlan, KeyRef
from router.models import CoreMeta, IdentityRef, InboundMessage
from router.texts import LocalizedPiece, ru_en
from router.yamlconf import load_model, present

log = logging.getLogger(__name__)

IDENTITY_FILE = "identity.yaml"
KeyKind = Literal["phone", "email"]
KEY_KINDS: tuple[KeyKind, ...] = ("phone", "email")
# a loose net for addresses in free text; email-validator then decides. The
# look-behind starts an address only where a run of address characters starts:
# without it each character of a long run was a new start that scanned to the
# run's end (10,000 letters and an @, the longest message, took 0.2 s of the
# event loop).
_EMAIL_IN_TEXT = re.compile(r"(?<![\w.+'-])[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_DIGIT = re.compile(r"\d")
# the phone matcher costs ~50 µs on any text with a number in it (an order
# number, a date) and dominated ingest; text with fewer digits than the
# shortest valid number (+43 and four digits, country code included) cannot
# hold one. tests/router/identity/test_service.py checks this against phonenumbers' metadata
_MIN_PHONE_DIGITS = 6
# where a claim can come from beside the text (typed fields of ``InboundMessage`` that connectors set)
CLAIM_KEYS: dict[str, KeyKind] = {"claimed_phone": "phone", "claimed_email": "email"}
# a key the platform itself vouches is the sender's own (a Telegram contact of
# the sender's own account): proven, so it links at once, as a one-time code would
# (the typed fields of ``InboundMessage`` and of a stored message's ``core`` it comes in)
PROVEN_KEYS: dict[str, KeyKind] = {"proven_phone": "phone", "proven_email": "email"}


def proven_values(message: InboundMessage | CoreMeta) -> Iterator[tuple[str, KeyKind, str]]:
    """``(field, key kind, value)`` of each key ``message`` proves (as the platform wrote it)."""
    for name, key_kind in PROVEN_KEYS.items():
        raw: str | None = getattr(message, name)
        if raw and raw.strip():
            yield name, key_kind, raw


def emails_in(text: str) -> list[str]:
    """What looks like an e-mail address in free text, in linear time."""
    return [m.group(0) for m in _EMAIL_IN_TEXT.finditer(text)] if "@" in text else []


class InvalidIdentifier(ValueError):
    """A value that is not a phone number / email address we can use as a key."""


class KeyRefused(InvalidIdentifier):
    """A valid phone/email that config says is no person's key: ``blocked``
    (the company's own, test values) or ``generic`` (a role address, a
    toll-free line, a placeholder)."""

    def __init__(self, key: KeyRef, why: Literal["blocked", "generic"], detail: str) -> None:
        super().__init__(f"{key.kind} {key.value} is {detail}: never used to find a customer")
        self.key = key
        self.why = why


# the phone number types (phonenumbers' names, lower case) that are a business's line, never a person's
PhoneType = Literal["toll_free", "premium_rate", "shared_cost", "uan", "voicemail", "pager"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeyPolicy(_Section):
    # identity kinds (as connectors name them) whose value is this kind of key
    kinds: list[str] = Field(default_factory=list)
    # a new identity whose key another profile already has (seen on a channel,
    # so proven) joins that profile; False: it becomes a profile of its own
    auto_merge: bool = True
    # a *claim* (typed, unproven) joins profiles too. Dangerous: anyone can
    # type anyone's phone. Off unless an admin means it.
    merge_claims: bool = False
    # exact values or shell patterns (``info@*``, ``+7000*``) never used as keys
    blocked: list[str] = Field(default_factory=list)
    # the same, for values that are nobody's in particular: role addresses,
    # placeholders (``test@test.com``). Kept apart from ``blocked`` so that an
    # admin's own list does not have to repeat these
    generic: list[str] = Field(default_factory=list)


class PhonePolicy(KeyPolicy):
    # every field defaults to what an identity.yaml without this section
    # means: a section that sets one field keeps the built-in rest
    kinds: list[str] = Field(default_factory=lambda: ["phone", "whatsapp", "sms"])
    # numbers of these types are a business's line, never a person's key
    generic_types: list[PhoneType] = Field(default_factory=lambda: list(_GENERIC_PHONE_TYPES))
    # a number made of one digit repeated (+7 999 999-99-99) is a placeholder someone typed
    placeholders: bool = True


_GENERIC_PHONE_TYPES: tuple[PhoneType, ...] = ("toll_free", "premium_rate", "shared_cost", "uan", "voicemail")
_PHONE_TYPES: dict[PhoneType, int] = {
    "toll_free": phonenumbers.PhoneNumberType.TOLL_FREE, "premium_rate": phonenumbers.PhoneNumberType.PREMIUM_RATE,
    "shared_cost": phonenumbers.PhoneNumberType.SHARED_COST, "uan": phonenumbers.PhoneNumberType.UAN,
    "voicemail": phonenumbers.PhoneNumberType.VOICEMAIL, "pager": phonenumbers.PhoneNumberType.PAGER,
}
# role mailboxes and placeholders: a shop's sales@ is read by whoever is on shift
GENERIC_EMAILS = [
    "info@*", "sales@*", "support@*", "help@*", "office@*", "admin@*", "contact@*", "hello@*", "mail@*",
    "noreply@*", "no-reply@*", "postmaster@*", "billing@*", "orders@*", "test@*", "*@test.com",
]


class EmailPolicy(KeyPolicy):
    kinds: list[str] = Field(default_factory=lambda: ["email"])
    generic: list[str] = Field(default_factory=lambda: list(GENERIC_EMAILS))


class AttributePolicy(_Section):
    # how a merge settles an attribute both profiles have
    default: Literal["most_recent", "source_priority"] = "most_recent"
    # per attribute, when it differs from the default
    per_attribute: dict[str, Literal["most_recent", "source_priority"]] = Field(default_factory=dict)
    # best first; a source not listed ranks below every listed one
    source_priority: list[str] = Field(default_factory=lambda: ["crm", "import", "agent", "channel"])


def _every_language(value: Any) -> Any:
    """A single string (how ``text`` was written before it had languages) is that text in every language."""
    return {"ru": value, "en": value} if isinstance(value, str) else value


# {ru: ..., en: ...}; a plain string stands for every language
VerificationText = Annotated[LocalizedPiece, BeforeValidator(_every_language)]


class VerificationPolicy(_Section):
    """One-time codes that prove a claimed phone/email."""

    code_length: Annotated[int, Field(ge=4, le=10)] = 6
    ttl_seconds: Annotated[float, Field(gt=0)] = 600
    max_attempts: Annotated[int, Field(ge=1)] = 5
    resend_after_seconds: Annotated[float, Field(ge=0)] = 60
    max_sends: Annotated[int, Field(ge=1)] = 5
    # the bot offers a code by itself when a customer gives a phone/email
    self_service: bool = True
    # phones/emails the bot offers a code for in one conversation (a probe of many numbers gets nothing more)
    max_offers_per_conversation: Annotated[int, Field(ge=1)] = 3
    # codes the bot sends to one phone/email in 24 hours, whoever claims it:
    # more claims get the same words and no code, so someone typing a
    # stranger's number in chat after chat cannot flood that stranger's phone
    # (nor the business's SMS bill)
    max_offered_codes_per_key_per_day: Annotated[int, Field(ge=0)] = 3
    # the code message, on the channel that proved the key: {code}, {value}
    text: VerificationText = Field(default_factory=lambda: ru_en(
        "Ваш код подтверждения: {code}. Введите его в чате, где вы просили связать {value}. "
        "Если это были не вы, просто проигнорируйте это сообщение.",
        "Your verification code: {code}. Type it in the chat where you asked to link {value}. "
        "If that was not you, ignore this message."))
    # the bot's offer, the same words whether or not the phone/email is anyone's: {value}
    offer_phone: VerificationText = Field(default_factory=lambda: ru_en(
        "Если номер {value} уже есть у нас, мы отправили на него код. Введите его здесь — и продолжим "
        "с того места, где вы остановились. Не нужно — напишите «нет, спасибо».",
        "If {value} is a number we already know, we have sent a code to it. Type it here and we will "
        "continue where you left off. Not needed? Write \"no thanks\"."))
    offer_email: VerificationText = Field(default_factory=lambda: ru_en(
        "Если адрес {value} уже есть у нас, мы отправили на него код. Введите его здесь — и продолжим "
        "с того места, где вы остановились. Не нужно — напишите «нет, спасибо».",
        "If {value} is an address we already know, we have sent a code to it. Type it here and we will "
        "continue where you left off. Not needed? Write \"no thanks\"."))
    # a wrong code with tries left: {left}
    wrong_code: VerificationText = Field(default_factory=lambda: ru_en(
        "Код не подошёл. Осталось попыток: {left}.",
        "That code is not right. Tries left: {left}."))
    expired: VerificationText = Field(default_factory=lambda: ru_en(
        "Срок действия кода истёк. Новый код может отправить наш сотрудник — просто попросите.",
        "The code has expired. One of our team can send you a new one: just ask."))
    too_many_attempts: VerificationText = Field(default_factory=lambda: ru_en(
        "Слишком много неверных попыток: этот код больше не действует. Новый код может отправить наш "
        "сотрудник — просто попросите.",
        "Too many wrong tries: this code no longer works. One of our team can send you a new one: just ask."))
    linked: VerificationText = Field(default_factory=lambda: ru_en(
        "Готово: мы связали ваши обращения. Продолжим с того места, где вы остановились.",
        "Done: we have linked your conversations. Let us continue where you left off."))
    declined: VerificationText = Field(default_factory=lambda: ru_en(
        "Хорошо, не будем. Чем можем помочь?",
        "All right, we will leave it. How can we help?"))


class PhoneRequestTexts(_Section):
    """What the bot says when it asks for the phone with a button (``ask_phone``), and after."""

    # the request sent with the button
    text: VerificationText = Field(default_factory=lambda: ru_en(
        "Чтобы мы узнавали вас в любом канале, поделитесь, пожалуйста, номером телефона: "
        "нажмите кнопку «Поделиться номером» ниже. Можно и не делиться — мы всё равно ответим.",
        "So that we know you on every channel, please share your phone number: press the "
        "“Share my phone number” button below. You can skip it: we will answer anyway."))
    # the button's label
    button: VerificationText = Field(default_factory=lambda: ru_en("Поделиться номером", "Share my phone number"))
    # the answer to the number the platform proved (the button pressed) when it linked
    # nobody else (a link is answered with verification.linked)
    saved: VerificationText = Field(default_factory=lambda: ru_en(
        "Спасибо, номер сохранили.", "Thank you, we have saved your number."))


class IdentityConfig(_Section):
    default_region: Annotated[str, Field(min_length=2, max_length=2)] = "RU"
    # a key shared by more profiles than this stops being used for matching
    # (a family phone, an office switchboard, a shared mailbox)
    max_profiles_per_key: Annotated[int, Field(ge=1)] = 3
    # look for phones and emails typed in message text and record them as claims
    claims_from_text: bool = True
    # the bot asks a customer for their phone once, on their first conversation
    # with the bot, where the channel can ask with a button the platform proves
    ask_phone: bool = False
    phone_request: PhoneRequestTexts = Field(default_factory=PhoneRequestTexts)
    phone: PhonePolicy = Field(default_factory=PhonePolicy)
    email: EmailPolicy = Field(default_factory=EmailPolicy)
    attributes: AttributePolicy = Field(default_factory=AttributePolicy)
    verification: VerificationPolicy = Field(default_factory=VerificationPolicy)

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r} (use an ISO 3166 code such as RU, DE, US)")
        return region


def load_identity_config(config_dir: Path) -> IdentityConfig:
    """``config_dir/identity.yaml``, or the defaults when there is none."""
    path = config_dir / IDENTITY_FILE
    if not present(path):
        return IdentityConfig()
    return load_model(IdentityConfig, path)


# a ";" that starts no RFC 3966 extension: a second number in the same field
_SECOND_NUMBER = re.compile(r";(?!\s*ext=)", re.IGNORECASE)
# what CRMs and people write after a number: a note of words ("(моб.)", "(WhatsApp)", " раб."); not
# capitals alone, which may be a vanity number's letters ("8 912 CALL NOW": refused as letters)
_NOTE_AFTER = re.compile(r"(?:\s*\([^\d()]*\)|\s+(?=[^\d()]*[a-zа-яё.])[^\W\d_][^\d()]*)\s*$")
# the extension as Russian offices abbreviate it, which phonenumbers reads only as «доб.»
_EXTENSION_WORD = re.compile(r"(?<!\w)(?:д|вн|внутр|доп)\.?\s*(?=\d)", re.IGNORECASE)


def normalise_phone(raw: str, region: str) -> str:
    """E.164 (``+79123456789``) or ``InvalidIdentifier``. An extension is
    kept, RFC 3966 style (``+74951234567;ext=104``): the person at extension
    104 is not the person at 101, nor whoever answers the main line."""
    # a channel prefix such as "whatsapp:" or "tel:" is transport, not number
    text = raw.rsplit(":", 1)[-1].strip()
    text = _EXTENSION_WORD.sub("доб. ", _NOTE_AFTER.sub("", text))
    if _SECOND_NUMBER.search(text):  # phonenumbers reads "8912…;8926…" as one number and an extension
        raise InvalidIdentifier(f"{raw!r} holds more than one number")
    number = _parse_phone(text, region, raw)
    if not phonenumbers.is_valid_number(number) and text.isdigit():
        # platforms such as Telegram give international numbers without the "+"
        with contextlib.suppress(InvalidIdentifier):  # then it is simply no valid number
            number = _parse_phone("+" + text, region, raw)
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier(f"{raw!r} is not a valid phone number")
    if str(number.national_number) not in "".join(str(unicodedata.decimal(c)) for c in text if c.isdecimal()):
        # phonenumbers reads letters as a keypad's (ABC: 222): "916 ABC 42 95" became someone's real number
        raise InvalidIdentifier(f"{raw!r} has letters where a phone number has digits")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{e164};ext={number.extension}" if number.extension else e164


# phonenumbers' reasons (NumberParseException.error_type) in an admin's words, not "(1) The string
# supplied did not seem to be a phone number."
_PARSE_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "no known country code (write it as +7 912 …)",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "no phone number in it",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}


def _parse_phone(text: str, region: str, raw: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        reason = _PARSE_REASONS.get(exc.error_type, "unreadable")
        raise InvalidIdentifier(f"{raw!r} is not a phone number: {reason}") from None


def normalise_email(raw: str) -> str:
    """The normalised address (domain lower-cased, IDNA) or ``InvalidIdentifier``."""
    text = raw.strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:"):]
    try:
        valid = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidIdentifier(f"{raw!r} is not an email address: {exc}") from None
    # the local part is case-sensitive by the RFC, case-insensitive everywhere in practice
    return valid.normalized.lower()


def _matches(key: KeyRef, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(key.value, p.lower() if key.kind == "email" else p) for p in patterns)


@functools.lru_cache(maxsize=4096)
def _phone_facts(e164: str) -> tuple[int, str]:
    """(phonenumbers' type, national number) of a normalised number: every
    inbound message asks, and the same senders write again and again."""
    number = phonenumbers.parse(e164.replace(";ext=", " ext. "))
    return phonenumbers.number_type(number), str(number.national_number)


def _phone_refusal(key: KeyRef, policy: PhonePolicy) -> KeyRefused | None:
    kind, digits = _phone_facts(key.value)
    for name in policy.generic_types:
        if kind == _PHONE_TYPES[name]:
            label = name.replace("_", "-")
            return KeyRefused(key, "generic", f"a {label} number, a business's line ({IDENTITY_FILE}: "
                                              "phone.generic_types)")
    if policy.placeholders and len(set(digits)) == 1:
        return KeyRefused(key, "generic", f"a placeholder number ({IDENTITY_FILE}: phone.placeholders)")
    return None


class IdentityRules:
    """The identity policy the router applies to every inbound message."""

    def __init__(self, config: IdentityConfig | None = None) -> None:
        self.config = config or IdentityConfig()
        self._kind_of: dict[str, KeyKind] = {k: "phone" for k in self.config.phone.kinds}
        self._kind_of |= {k: "email" for k in self.config.email.kinds}
        # every inbound message is planned, and the same senders write again and again: a sender's
        # normalised value (phonenumbers' parse and checks, ~40 µs) is worked out once per config, and
        # what the config says of every plan (which kinds merge, the attributes' policy) once. So the
        # config is read here once: a changed identity.yaml takes a new IdentityRules (as at start)
        self._sender_key = functools.lru_cache(maxsize=16384)(self._sender_key_uncached)
        self._merge_proven = frozenset(k for k in KEY_KINDS if self.policy(k).auto_merge)
        self._merge_claims = frozenset(k for k in KEY_KINDS if self.policy(k).merge_claims)
        self._attributes = self.attribute_policy()

    def policy(self, key_kind: str) -> PhonePolicy | EmailPolicy:
        return self.config.phone if key_kind == "phone" else self.config.email

    def normalise(self, key_kind: KeyKind, raw: str) -> str:
        if key_kind == "phone":
            return normalise_phone(raw, self.config.default_region)
        return normalise_email(raw)

    def key(self, key_kind: KeyKind, raw: str) -> KeyRef:
        """A usable key; ``InvalidIdentifier`` for a value that is none, its
        subclass ``KeyRefused`` for one that config says is nobody's key."""
        key = KeyRef(kind=key_kind, value=self.normalise(key_kind, raw))
        refused = self.refusal(key)
        if refused is not None:
            raise refused
        return key

    def refusal(self, key: KeyRef) -> KeyRefused | None:
        """Why ``key`` (normalised) is never a lookup key, or None."""
        policy = self.policy(key.kind)
        if _matches(key, policy.blocked):
            return KeyRefused(key, "blocked", f"blocked by config ({IDENTITY_FILE}: {key.kind}.blocked)")
        if _matches(key, policy.generic):
            return KeyRefused(key, "generic", f"a role or placeholder address ({IDENTITY_FILE}: {key.kind}.generic)")
        if isinstance(policy, PhonePolicy):
            return _phone_refusal(key, policy)
        return None

    def blocked(self, key_kind: str, value: str) -> bool:
        """Never a key: blocked, generic, or a business's line."""
        return self.refusal(KeyRef(kind=key_kind, value=value)) is not None

    def channel_identity(self, ref: IdentityRef) -> tuple[IdentityRef, KeyRef | None]:
        """The identity as stored (normalised when its kind is a phone or an
        email kind) and its match key (None when blocked or not a key kind)."""
        key_kind = self._kind_of.get(ref.kind)
        if key_kind is None:
            return ref, None
        try:
            value, blocked = self._sender_key(key_kind, ref.value)
        except InvalidIdentifier as exc:
            # a short code or an alias: still a channel identity, just not a key
            # not its words: they quote the value, a customer's address or number
            log.info("identity %s kept as given: its value is no usable %s key (%s)", ref.kind, key_kind,
                     type(exc).__name__)
            return ref, None
        stored = IdentityRef(kind=ref.kind, value=value)
        if blocked:
            return stored, None
        return stored, KeyRef(kind=key_kind, value=value)

    def _sender_key_uncached(self, key_kind: KeyKind, raw: str) -> tuple[str, bool]:
        """(the normalised value, whether it is never a key) of a sender's value; ``InvalidIdentifier``
        for one that is no value, which the cache does not keep (lru_cache keeps no exception): who
        writes a mail's From chooses it, and 16,384 long invalid ones kept tens of MB (review)."""
        value = self.normalise(key_kind, raw)
        return value, self.blocked(key_kind, value)

    def claims(self, message: InboundMessage) -> list[ClaimPlan]:
        """Phones and emails the customer gave: beside the text (a form, a contact
        share) or typed in the text. Unusable values are skipped, not errors:
        a customer's typo must never stop their message."""
        found: dict[tuple[str, str], ClaimPlan] = {}
        for source, key_kind, raw in self._claimed_values(message):
            try:
                key = self.key(key_kind, raw)
            except InvalidIdentifier:
                # not the value: it is what the customer typed
                log.debug("a %s claim from %s ignored: not a usable key", key_kind, source)
                continue
            found.setdefault((key.kind, key.value), ClaimPlan(key=key, source=source, raw=raw[:256]))
        return list(found.values())

    def proven(self, message: InboundMessage) -> list[ClaimPlan]:
        """Keys the platform vouches are the sender's own. A blocked or
        generic one proves nothing anyone could be found by: skipped."""
        found: dict[tuple[str, str], ClaimPlan] = {}
        for extra, key_kind, raw in proven_values(message):
            try:
                key = self.key(key_kind, raw)
            except InvalidIdentifier:
                log.info("a proven %s from %s ignored: not a usable key", key_kind, message.channel)
                continue
            found.setdefault((key.kind, key.value), ClaimPlan(key=key, source=f"{message.channel}:{extra}",
                                                              raw=raw[:256]))
        return list(found.values())

    def _claimed_values(self, message: InboundMessage) -> Iterator[tuple[str, KeyKind, str]]:
        for extra, key_kind in CLAIM_KEYS.items():
            value: str | None = getattr(message, extra)
            if value and value.strip():
                yield f"{message.channel}:{extra}", key_kind, value
        if not self.config.claims_from_text or not message.text:
            return
        if len(_DIGIT.findall(message.text)) >= _MIN_PHONE_DIGITS:
            for phone in phonenumbers.PhoneNumberMatcher(message.text, self.config.default_region):
                yield f"{message.channel}:text", "phone", phone.raw_string
        for email in emails_in(message.text):
            yield f"{message.channel}:text", "email", email

    def plan(self, message: InboundMessage) -> IdentityPlan:
        """What the store should do about identity in the same transaction as
        storing the message. The message keeps its sender as the connector
        gave it (the address the connector replies to); the identity is the
        normalised form."""
        identity, key = self.channel_identity(message.sender)
        return IdentityPlan(
            identity=identity,
            key=key,
            match=key is not None and self.policy(key.kind).auto_merge,
            max_profiles=self.config.max_profiles_per_key,
            claims=tuple(self.claims(message)),
            proven=tuple(self.proven(message)),
            merge_proven=self._merge_proven,
            merge_claims=self._merge_claims,
            attributes=self._attributes,
        )

    def attribute_policy(self) -> AttributeMergePolicy:
        attrs = self.config.attributes
        return AttributeMergePolicy(
            default=attrs.default,
            per_attribute=tuple(sorted(attrs.per_attribute.items())),
            source_priority=tuple(attrs.source_priority),
        )

    def identity_of(self, ref: IdentityRef) -> IdentityRef:
        """The identity as stored for a sender as a connector gives it."""
        return self.channel_identity(ref)[0]
