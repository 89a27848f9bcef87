"""Keys a platform proves (a Telegram contact of the sender's own account):
what the rules hand the store, whatever the connector."""

from __future__ import annotations

from pathlib import Path

from router.bot.desk import unanswered
from router.identity.service import IdentityConfig, IdentityRules, load_identity_config
from router.models import (
    Author,
    CoreMeta,
    Direction,
    IdentityRef,
    InboundMessage,
    Message,
    OutboundMessage,
    PhoneButton,
    utcnow,
)

REPO_CONFIG = Path(__file__).resolve().parents[3] / "config"


def rules(**overrides: object) -> IdentityRules:
    return IdentityRules(IdentityConfig.model_validate(overrides))


def contact(channel: str = "telegram", extras: dict[str, object] | None = None, **keys: str) -> InboundMessage:
    """``keys``: the proofs (``proven_phone=…``); ``extras``: the platform's own data."""
    return InboundMessage(channel=channel, external_id="1", sender=IdentityRef(kind="telegram", value="42"),
                          extras=extras or {}, **keys)


def test_a_proven_phone_is_planned_as_proof_not_as_a_claim() -> None:
    plan = rules().plan(contact(proven_phone="79123456789"))
    [proof] = plan.proven
    assert (proof.key.kind, proof.key.value, proof.source, proof.raw) == (
        "phone", "+79123456789", "telegram:proven_phone", "79123456789")
    assert plan.claims == () and plan.key is None  # the chat account itself is no key
    assert plan.merge_proven == {"phone", "email"}  # auto_merge, as shipped
    assert rules(phone={"auto_merge": False}).plan(contact(proven_phone="79123456789")).merge_proven == {"email"}


def test_any_connector_may_prove_a_key_the_same_way() -> None:
    plan = rules().plan(contact("viber", proven_phone="+7 912 345-67-89", proven_email="Anna@Mail.ru"))
    assert {(p.key.kind, p.key.value, p.source) for p in plan.proven} == {
        ("phone", "+79123456789", "viber:proven_phone"), ("email", "anna@mail.ru", "viber:proven_email")}


def test_someone_elses_contact_proves_and_claims_nothing() -> None:
    shared = {"phone_number": "+79990001122", "first_name": "Masha", "user_id": 777}
    plan = rules().plan(contact(extras={"shared_contact": shared}))
    assert plan.proven == () and plan.claims == ()


def test_a_blocked_generic_or_broken_number_proves_nothing() -> None:
    r = rules(phone={"kinds": ["whatsapp"], "blocked": ["+7999000*"]})
    for raw in ("+79990001234", "88001234567", "+79999999999", "12", ""):
        assert r.plan(contact(proven_phone=raw)).proven == (), raw


def test_asking_for_the_phone_is_off_unless_an_admin_turns_it_on(tmp_path: Path) -> None:
    assert not IdentityConfig().ask_phone
    assert not load_identity_config(REPO_CONFIG).ask_phone
    (tmp_path / "identity.yaml").write_text("ask_phone: true\n")
    assert load_identity_config(tmp_path).ask_phone


def test_an_outbound_message_carries_a_typed_phone_button() -> None:
    sent = OutboundMessage(message_id="m", channel="telegram", recipient="42", author="bot", text="?",
                           created_at=utcnow(), ask_phone=PhoneButton(label="Поделиться номером"))
    again = OutboundMessage.model_validate_json(sent.model_dump_json())  # as the outbox keeps it
    assert again.ask_phone == PhoneButton(label="Поделиться номером")
    assert OutboundMessage.model_validate_json(sent.model_copy(update={"ask_phone": None}).model_dump_json()
                                               ).ask_phone is None


def test_a_message_said_aside_does_not_answer_the_customers_question() -> None:
    def said(direction: Direction, text: str, **core: object) -> Message:
        return Message(id=text, conversation_id="c", customer_id="u", direction=direction,
                       author=Author.CUSTOMER if direction is Direction.IN else Author.BOT, channel="telegram",
                       text=text, created_at=utcnow(), core=CoreMeta.model_validate(core))

    question = said(Direction.IN, "Какие у вас часы работы?")
    ask = said(Direction.OUT, "Поделитесь номером", automatic="ask_phone", aside=True)
    answer = said(Direction.OUT, "С 9 до 18")
    assert unanswered([question, ask]) == ([], [question])
    assert unanswered([question, ask, answer]) == ([question, ask, answer], [])
