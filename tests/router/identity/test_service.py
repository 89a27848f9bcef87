"""Identity keys and the identity config: messy real-world input in, one key out."""

from __future__ import annotations

import logging
from pathlib import Path

import phonenumbers
import pytest

from router.cli import main
from router.identity.service import (
    _MIN_PHONE_DIGITS,
    IdentityConfig,
    IdentityRules,
    InvalidIdentifier,
    PhonePolicy,
    emails_in,
    load_identity_config,
    normalise_email,
    normalise_phone,
)
from router.models import IdentityRef, InboundMessage
from router.yamlconf import ConfigError
from tests.liveness import finishes

REPO_CONFIG = Path(__file__).resolve().parents[3] / "config"


@pytest.mark.parametrize(
    "raw", ["8 (912) 345-67-89", "+7 912 345 67 89", "89123456789", "whatsapp:+79123456789", "tel:+7-912-345-67-89",
            "+7(912)3456789", " 8 912 345 67 89 "],
)
def test_every_way_of_writing_a_russian_mobile_is_one_key(raw: str) -> None:
    assert normalise_phone(raw, "RU") == "+79123456789"


@pytest.mark.parametrize(("raw", "e164"), [("380501234567", "+380501234567"), ("4915112345678", "+4915112345678"),
                                           ("79123456789", "+79123456789")])
def test_international_digits_without_a_plus_as_telegram_shares_them(raw: str, e164: str) -> None:
    assert normalise_phone(raw, "RU") == e164


def test_a_telegram_contact_share_is_a_claim() -> None:
    shared = InboundMessage(channel="telegram", external_id="1", sender=IdentityRef(kind="telegram", value="42"),
                            claimed_phone="79123456789")
    [claim] = rules().claims(shared)
    assert (claim.key.value, claim.source, claim.raw) == ("+79123456789", "telegram:claimed_phone", "79123456789")


def test_the_default_region_reads_numbers_without_a_country_code() -> None:
    assert normalise_phone("030 1234567", "DE") == "+49301234567"
    assert normalise_phone("+49 30 1234567", "RU") == "+49301234567"


@pytest.mark.parametrize("raw", ["12", "not a phone", "+7 000", "8 (912) 345"])
def test_what_is_not_a_phone_is_refused_with_the_value_named(raw: str) -> None:
    with pytest.raises(InvalidIdentifier, match="phone"):
        normalise_phone(raw, "RU")


@pytest.mark.parametrize(("raw", "said"), [
    ("not a phone", "'not a phone' is not a phone number: no phone number in it"),
    ("+999 123 456 789", "'+999 123 456 789' is not a phone number: no known country code (write it as +7 912 …)"),
    ("+7 912 345 67 89 12 34 56 78 90", "is not a phone number: too long"),
])
def test_what_is_not_a_phone_is_said_in_words_not_the_librarys(raw: str, said: str) -> None:
    """phonenumbers' own words were the reason: "(1) The string supplied did not seem to be a phone number." """
    with pytest.raises(InvalidIdentifier) as refused:
        normalise_phone(raw, "RU")
    assert said in str(refused.value)


@pytest.mark.parametrize(("raw", "said"), [
    # phonenumbers reads letters as a keypad's: this was +79162224295, someone's real number
    ("+7 916 ABC 42 95", "has letters where a phone number has digits"),
    ("8 912 CALL NOW", "has letters where a phone number has digits"),
    # and a ";" as an extension: this was +79123456789;ext=89261112233
    ("89123456789;89261112233", "holds more than one number"),
])
def test_a_phone_that_would_become_another_number_is_refused(raw: str, said: str) -> None:
    with pytest.raises(InvalidIdentifier, match=said):
        normalise_phone(raw, "RU")


@pytest.mark.parametrize(("raw", "e164"), [
    ("тел. +7 912 345 67 89", "+79123456789"), ("+7 495 123-45-67 доб. 104", "+74951234567;ext=104"),
    ("+74951234567;ext=104", "+74951234567;ext=104"), ("+44 (0) 20 7946 0958", "+442079460958"),
    ("＋７ ９１２ ３４５ ６７ ８９", "+79123456789"),
    # the extension as offices abbreviate it, and a note after the number (both were "not a phone")
    ("8 495 235 26 83 д. 104", "+74952352683;ext=104"), ("8 495 235 26 83 вн. 103", "+74952352683;ext=103"),
    ("8 495 235-26-83 внутр.103", "+74952352683;ext=103"), ("+7 912 345-67-89 (моб.)", "+79123456789"),
    ("+7 912 345-67-89 (WhatsApp)", "+79123456789"), ("+7 912 345-67-89 моб.", "+79123456789"),
])
def test_words_beside_a_phone_and_its_extension_still_read(raw: str, e164: str) -> None:
    assert normalise_phone(raw, "RU") == e164


def test_emails_are_one_key_whatever_the_case_and_wrapping() -> None:
    assert normalise_email("Anna.K@Example.COM") == "anna.k@example.com"
    assert normalise_email(" mailto:anna.k@example.com ") == "anna.k@example.com"
    with pytest.raises(InvalidIdentifier, match="email"):
        normalise_email("anna@@example")


def rules(**overrides: object) -> IdentityRules:
    return IdentityRules(IdentityConfig.model_validate(overrides))


def test_a_phone_channel_identity_is_stored_normalised_with_its_key() -> None:
    stored, key = rules().channel_identity(IdentityRef(kind="whatsapp", value="whatsapp:+7 912 345-67-89"))
    assert stored == IdentityRef(kind="whatsapp", value="+79123456789")
    assert key is not None and (key.kind, key.value) == ("phone", "+79123456789")


def test_kinds_that_are_not_keys_and_unusable_values_stay_as_given() -> None:
    r = rules()
    assert r.channel_identity(IdentityRef(kind="webchat", value="v-1")) == (IdentityRef(kind="webchat", value="v-1"),
                                                                           None)
    # an SMS short code is an identity, but no key to match anyone by
    assert r.channel_identity(IdentityRef(kind="sms", value="900")) == (IdentityRef(kind="sms", value="900"), None)


def test_blocked_values_are_never_keys() -> None:
    r = rules(email={"kinds": ["email"], "blocked": ["info@*"]}, phone={"kinds": ["sms"], "blocked": ["+7999000*"]})
    assert r.channel_identity(IdentityRef(kind="email", value="INFO@shop.ru"))[1] is None
    assert r.channel_identity(IdentityRef(kind="sms", value="+7 999 000-12-34"))[1] is None
    assert r.channel_identity(IdentityRef(kind="sms", value="+7 912 345-67-89"))[1] is not None


def message(text: str = "", **claims: str) -> InboundMessage:
    return InboundMessage(channel="webchat", external_id="1", sender=IdentityRef(kind="webchat", value="v-1"),
                          text=text, **claims)


def test_claims_come_from_forms_contact_shares_and_typed_text() -> None:
    claims = rules().claims(message(
        "Мой номер 8 912 345-67-89, пишите на Anna@Mail.ru. Заказ 123456", claimed_email="anna@mail.ru",
        claimed_phone="+7 912 345 67 89",
    ))
    found = {(c.key.kind, c.key.value): c.source for c in claims}
    # each key once, attributed to where it was first seen
    assert found == {("phone", "+79123456789"): "webchat:claimed_phone",
                     ("email", "anna@mail.ru"): "webchat:claimed_email"}
    assert [c.raw for c in rules().claims(message("звоните 8 912 345-67-89"))] == ["8 912 345-67-89"]


def test_a_typo_or_a_blocked_value_in_a_claim_is_skipped_not_an_error() -> None:
    r = rules(email={"kinds": ["email"], "blocked": ["info@*"]})
    assert r.claims(message("пишите на info@shop.ru", claimed_phone="8 912", claimed_email="anna@")) == []


@pytest.mark.parametrize(("text", "found"), [
    ("пишите на anna.petrova+shop@mail.ru или ivan@x.co.uk.", ["anna.petrova+shop@mail.ru", "ivan@x.co.uk"]),
    ("o'neil@example.com, почта-для@пример.рф", ["o'neil@example.com", "почта-для@пример.рф"]),
    ("адрес: (anna@mail.ru)", ["anna@mail.ru"]),
    ("anna@mail", []),
    ("@anna и anna@ и @ и a@b.c@d.e", ["a@b.c"]),
])
def test_addresses_in_free_text(text: str, found: list[str]) -> None:
    assert emails_in(text) == found


def test_a_long_run_of_letters_before_an_at_is_read_once() -> None:
    """Each letter of the run was a new start that scanned to its end: 0.2 s
    of the event loop for the longest message, hours for this text."""
    assert finishes(emails_in, "a" * 1_000_000 + "@") == []
    assert finishes(emails_in, "a@" + "b" * 1_000_000) == []
    assert finishes(emails_in, "x" * 1_000_000 + "@mail.ru") == ["x" * 1_000_000 + "@mail.ru"]


@pytest.mark.parametrize("text", ["+43 1234", "позвоните +683 4002", "+7 912 345 67 89", "Заказ 1234, звоните"])
def test_a_text_is_searched_for_phones_only_when_it_has_enough_digits_for_one(text: str) -> None:
    # the digit count only skips texts the matcher could never find a number in
    found = [c.raw for c in rules().claims(message(text))]
    assert found == [m.raw_string for m in phonenumbers.PhoneNumberMatcher(text, "RU")]


def test_no_valid_phone_number_is_shorter_than_the_digit_count_skipped() -> None:
    shortest = min(
        len(str(meta.country_code)) + min(n for n in meta.general_desc.possible_length if n > 0)
        for meta in map(phonenumbers.PhoneMetadata.metadata_for_region, phonenumbers.SUPPORTED_REGIONS)
        if meta is not None and any(n > 0 for n in meta.general_desc.possible_length or ())
    )
    assert shortest >= _MIN_PHONE_DIGITS


def test_claims_from_text_can_be_switched_off() -> None:
    assert rules(claims_from_text=False).claims(message("8 912 345-67-89")) == []


def test_the_shipped_config_loads_and_means_what_the_issue_asks() -> None:
    config = load_identity_config(REPO_CONFIG)
    assert config.default_region == "RU"
    assert "whatsapp" in config.phone.kinds and "sms" in config.phone.kinds
    assert config.phone.auto_merge and not config.phone.merge_claims
    assert IdentityRules(config).blocked("email", "info@shop.ru")


def test_a_missing_file_means_defaults(tmp_path: Path) -> None:
    assert load_identity_config(tmp_path) == IdentityConfig()
    assert IdentityConfig().phone == PhonePolicy(kinds=["phone", "whatsapp", "sms"])


@pytest.mark.parametrize(("section", "field", "value"), [
    ("phone", "auto_merge", False), ("email", "merge_claims", True), ("attributes", "default", "source_priority"),
    ("verification", "max_attempts", 3),
])
def test_a_section_that_sets_one_field_keeps_the_built_in_rest(
    tmp_path: Path, section: str, field: str, value: object
) -> None:
    """An admin who writes ``email: {blocked: [...]}`` must not lose the
    built-in role addresses (``info@*``) or the kinds that make an email a
    key: every field left out means what a file without the section means."""
    (tmp_path / "identity.yaml").write_text(f"{section}:\n  {field}: {str(value).lower()}\n", encoding="utf-8")
    loaded = getattr(load_identity_config(tmp_path), section)
    default = getattr(IdentityConfig(), section)
    assert getattr(loaded, field) == value
    assert loaded.model_copy(update={field: getattr(default, field)}) == default


def test_a_partial_email_section_still_refuses_role_addresses(tmp_path: Path) -> None:
    (tmp_path / "identity.yaml").write_text("email:\n  blocked: ['boss@shop.ru']\n", encoding="utf-8")
    rules = IdentityRules(load_identity_config(tmp_path))
    assert rules.blocked("email", "info@shop.ru") and rules.blocked("email", "boss@shop.ru")
    assert rules.channel_identity(IdentityRef(kind="email", value="anna@example.com"))[1] is not None


def test_a_bad_config_is_refused_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "identity.yaml").write_text("default_region: RU\nmax_profiles_per_key: 0\nphone:\n  kinds: [sms]\n"
                                            "  auto_mrege: true\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_identity_config(tmp_path)
    text = str(err.value)
    assert "identity.yaml:2: max_profiles_per_key" in text
    assert "identity.yaml:5: phone.auto_mrege" in text


def test_an_unknown_region_is_refused(tmp_path: Path) -> None:
    (tmp_path / "identity.yaml").write_text("default_region: XX\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"identity\.yaml:1: default_region: .*unknown region 'XX'"):
        load_identity_config(tmp_path)


def test_the_service_does_not_start_on_a_bad_identity_config(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "identity.yaml").write_text("phone:\n  kinds: sms\n", encoding="utf-8")
    (tmp_path / "omnirouter.yaml").write_text("server:\n  port: 8080\n", encoding="utf-8")  # run needs it here
    assert main(["run", "--config", str(tmp_path), "--port", "0"]) == 1
    assert "identity.yaml:2: phone.kinds: Input should be a valid list" in capsys.readouterr().err


def test_senders_that_are_no_value_are_not_kept_by_the_sender_cache() -> None:
    """Who writes a mail's From chooses it: long invalid senders are planned
    every time instead of filling the per-sender cache (16,384 of them kept
    tens of MB, their text twice); valid ones are kept, and answer the same."""
    r = rules(email={"kinds": ["email"]})
    for n in range(500):
        ref = IdentityRef(kind="email", value=f"{n} не адрес " + "я" * 400)
        assert r.channel_identity(ref) == (ref, None)
    assert r._sender_key.cache_info().currsize == 0
    valid = IdentityRef(kind="email", value="Anna@Shop.ru")
    assert r.channel_identity(valid) == r.channel_identity(valid)
    assert r._sender_key.cache_info().currsize == 1


def test_an_identity_that_is_no_key_is_logged_without_its_value(caplog: pytest.LogCaptureFixture) -> None:
    """`identity email kept as given: 'ivan.petrov@mailru' is not an email address` put a
    customer's address in the log at INFO (the error's words quote the value)."""
    with caplog.at_level(logging.DEBUG):
        stored, key = rules(email={"kinds": ["email"]}).channel_identity(
            IdentityRef(kind="email", value="ivan.petrov@mailru"))
    assert (stored.value, key) == ("ivan.petrov@mailru", None)
    assert "identity email kept as given" in caplog.text
    assert "ivan.petrov" not in caplog.text and "mailru" not in caplog.text
