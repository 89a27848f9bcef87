"""The identity slice's rules, without a database: what a merge keeps, which
key names whom, and what a one-time code start or check decides. Each
backend's transaction calls these, so a second backend inherits them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from router.identity.rules import (
    CodeOutcome,
    check_dismissable,
    code_outcome,
    code_sends,
    fold,
    folded_preview,
    merge_attributes,
    offered,
    one_owner,
    past_daily_cap,
    widely_shared,
)
from router.identity.types import AttributeMergePolicy, KeyRef, VerificationCheck, VerificationStart
from router.models import Verification
from router.store.errors import ConflictError

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PHONE = KeyRef("phone", "+79123456789")


def pending(**changes: object) -> Verification:
    base = Verification(id="ver_1", customer_id="cus_1", kind=PHONE.kind, value=PHONE.value, channel="sms",
                        status="pending", attempts=0, sends=1, created_at=T0, last_sent_at=T0,
                        expires_at=T0 + timedelta(minutes=10), conversation_id="conv_1")
    return base.model_copy(update=changes)


def start(**changes: object) -> VerificationStart:
    values: dict[str, object] = {
        "customer_id": "cus_1", "key": PHONE, "channel": "sms", "code_hash": "h", "ttl": timedelta(minutes=10),
        "resend_after": timedelta(seconds=60), "max_sends": 3}
    return VerificationStart(**(values | changes))  # type: ignore[arg-type]


def check(code_hash: str = "right", conversation_id: str | None = "conv_1") -> VerificationCheck:
    return VerificationCheck(customer_id="cus_1", code_hash=code_hash, max_attempts=3,
                             conversation_id=conversation_id)


# -- merge: attributes ------------------------------------------------------------------


def test_attribute_conflicts_are_settled_per_attribute() -> None:
    old, new = "2026-01-01T00:00:00.000000Z", "2026-06-01T00:00:00.000000Z"
    survivor = ({"tier": "gold", "city": "Пермь", "ltv": 10},
                {"tier": {"at": old, "source": "crm"}, "city": {"at": old, "source": "channel"},
                 "ltv": {"at": new, "source": "agent"}})
    merged = ({"tier": "silver", "city": "Москва", "ltv": 99, "vip": True},
              {"tier": {"at": new, "source": "agent"}, "city": {"at": new, "source": "channel"},
               "ltv": {"at": old, "source": "crm"}, "vip": {"at": old, "source": "import"}})
    policy = AttributeMergePolicy(per_attribute=(("tier", "source_priority"), ("ltv", "source_priority")))
    attrs, meta = merge_attributes(survivor, merged, policy)
    # tier: the CRM beats an agent although older; city: the more recent wins;
    # ltv: the CRM's value although older; vip: only one side has it
    assert attrs == {"tier": "gold", "city": "Москва", "ltv": 99, "vip": True}
    assert meta["city"]["at"] == new and meta["ltv"]["source"] == "crm"


# -- merge folding ---------------------------------------------------------------------


def conv(conv_id: str, created: str, last_at: str, text: str) -> dict[str, str]:
    return {"id": conv_id, "created_at": created, "last_message_at": last_at, "last_message_text": text}


def test_the_older_open_conversation_survives_the_fold_whichever_customer_it_is() -> None:
    newer = conv("c_new", "2026-03-02T10:00:00.000000Z", "2026-03-02T10:05:00.000000Z", "later words")
    older = conv("c_old", "2026-03-01T09:00:00.000000Z", "2026-03-01T09:01:00.000000Z", "first words")
    assert fold([newer, older]) == (older, newer)
    assert fold([older, newer]) == (older, newer)


def test_on_equal_times_the_first_stored_is_kept_and_one_conversation_folds_nothing() -> None:
    first = conv("c_1", "2026-03-01T09:00:00.000000Z", "2026-03-01T09:00:00.000000Z", "a")
    second = conv("c_2", "2026-03-01T09:00:00.000000Z", "2026-03-01T09:00:00.000000Z", "b")
    assert fold([first, second]) == (first, second)
    assert fold([second, first]) == (second, first)
    assert fold([first]) is None
    assert fold([]) is None


def test_the_kept_conversation_shows_the_latest_words_of_the_two() -> None:
    kept = conv("c_old", "2026-03-01T09:00:00.000000Z", "2026-03-01T09:01:00.000000Z", "first words")
    folded = conv("c_new", "2026-03-02T10:00:00.000000Z", "2026-03-02T10:05:00.000000Z", "later words")
    assert folded_preview(kept, folded) == ("2026-03-02T10:05:00.000000Z", "later words")
    assert folded_preview(folded, kept) == ("2026-03-02T10:05:00.000000Z", "later words")


# -- keys and claims -------------------------------------------------------------------


def test_a_key_of_more_customers_than_allowed_or_marked_shared_names_nobody() -> None:
    assert not widely_shared(3, 3)
    assert widely_shared(4, 3)
    assert widely_shared(1, 3, marked_shared=True)


def test_a_key_names_its_owner_only_when_one_customer_proved_it() -> None:
    assert one_owner(["cus_a"]) == "cus_a"
    assert one_owner(["cus_a", "cus_a"]) == "cus_a"
    assert one_owner(["cus_a", "cus_b"]) is None
    assert one_owner([]) is None


def test_only_an_open_claim_can_be_dismissed() -> None:
    check_dismissable("clm_1", None, None, None)
    with pytest.raises(ConflictError, match="verified already"):
        check_dismissable("clm_1", "2026-03-01T09:00:00.000000Z", None, None)
    with pytest.raises(ConflictError, match="by ann"):
        check_dismissable("clm_1", None, "2026-03-01T09:00:00.000000Z", "ann")


# -- one-time codes: starting one ----------------------------------------------------------


def test_a_first_code_is_the_first_send() -> None:
    assert code_sends(None, start(), T0) == 1


def test_a_resend_to_the_same_key_waits_and_is_counted_up_to_the_most_sends() -> None:
    with pytest.raises(ConflictError, match="try again in 30 s"):
        code_sends(pending(), start(), T0 + timedelta(seconds=30))
    assert code_sends(pending(), start(), T0 + timedelta(seconds=61)) == 2
    with pytest.raises(ConflictError, match="3 codes were sent already"):
        code_sends(pending(sends=3), start(), T0 + timedelta(seconds=61))


def test_a_code_for_another_key_or_after_a_decoy_starts_afresh() -> None:
    other = start(key=KeyRef("email", "anna@example.com"))
    assert code_sends(pending(sends=3), other, T0 + timedelta(seconds=1)) == 1
    assert code_sends(pending(channel="", sends=3), start(), T0 + timedelta(seconds=1)) == 1


def test_the_bots_offer_is_refused_only_while_a_code_is_live_and_never_throttled() -> None:
    with pytest.raises(ConflictError, match="pending"):
        code_sends(pending(), start(exclusive=True), T0 + timedelta(minutes=9))
    # expired: never the resend throttle, whose refusal would differ from a decoy's
    assert code_sends(pending(sends=3), start(exclusive=True), T0 + timedelta(minutes=10)) == 1


def test_past_the_daily_cap_a_start_is_a_decoy_and_is_counted_only_when_it_could_send() -> None:
    counted: list[int] = []

    def sent(n: int) -> int:
        counted.append(n)
        return n

    assert not past_daily_cap(start(daily_cap=3), lambda: sent(2))
    assert past_daily_cap(start(daily_cap=3), lambda: sent(3))
    assert not past_daily_cap(start(daily_cap=None), lambda: sent(99))
    assert not past_daily_cap(start(channel="", daily_cap=3), lambda: sent(99))
    assert counted == [2, 3]


# -- one-time codes: checking one ------------------------------------------------------------


def test_the_right_code_in_time_proves_the_key() -> None:
    assert code_outcome(pending(), "right", check(), T0 + timedelta(minutes=1)) is CodeOutcome.RIGHT


def test_a_wrong_code_uses_an_attempt_and_the_last_attempt_kills_it() -> None:
    assert code_outcome(pending(attempts=1), "right", check("wrong"), T0) is CodeOutcome.WRONG
    assert code_outcome(pending(attempts=2), "right", check("wrong"), T0) is CodeOutcome.FAILED


def test_past_its_time_a_code_expires_only_where_it_was_offered() -> None:
    late = T0 + timedelta(minutes=10)
    assert code_outcome(pending(), "right", check(), late) is CodeOutcome.EXPIRED
    assert code_outcome(pending(), "right", check(conversation_id="conv_2"), late) is CodeOutcome.IGNORED
    assert code_outcome(pending(conversation_id=None), "right", check(conversation_id=None), late) \
        is CodeOutcome.IGNORED


def test_only_a_code_the_bot_sent_counts_toward_the_daily_cap() -> None:
    assert offered("bot", "sms")
    assert not offered("bot", "")  # a decoy: stored, never sent
    assert not offered("agent", "sms")


def test_the_conversation_a_person_is_on_survives_the_fold_whatever_its_age() -> None:
    """A visitor verifying in the chat an agent had taken lost the agent to their
    older WhatsApp conversation, still queued: the agent's next reply was refused."""
    queued = {**conv("c_wa", "2026-03-01T09:00:00.000000Z", "2026-03-01T09:01:00.000000Z", "a"), "status": "queued"}
    taken = {**conv("c_chat", "2026-03-02T10:00:00.000000Z", "2026-03-02T10:05:00.000000Z", "b"), "status": "assigned"}
    bot = {**conv("c_bot", "2026-02-01T10:00:00.000000Z", "2026-02-01T10:05:00.000000Z", "c"), "status": "bot"}
    assert fold([queued, taken]) == (taken, queued)
    # people's queue over the bot's talk, older or not: the question waiting for people stays with them
    assert fold([bot, queued]) == (queued, bot)
    assert fold([bot, {**bot, "id": "c_bot2", "created_at": "2026-02-02T10:00:00.000000Z"}])[0] == bot


def test_a_dead_code_still_counts_toward_the_next() -> None:
    """Five wrong tries killed a code, and an agent's next one went out at once
    with the count begun again: dead codes throttle and count as live ones do."""
    failed = pending(sends=2).model_copy(update={"status": "failed"})
    with pytest.raises(ConflictError, match="try again in 44 s"):
        code_sends(failed, start(), T0 + timedelta(seconds=16))
    assert code_sends(failed, start(), T0 + timedelta(seconds=61)) == 3
    expired = pending(sends=3).model_copy(update={"status": "expired"})
    with pytest.raises(ConflictError, match="3 codes were sent already"):
        code_sends(expired, start(), T0 + timedelta(minutes=20))
    # a day on, or once the key is proven, the count begins again
    assert code_sends(expired, start(), T0 + timedelta(days=1, seconds=1)) == 1
    assert code_sends(failed.model_copy(update={"status": "verified"}), start(), T0 + timedelta(seconds=16)) == 1
