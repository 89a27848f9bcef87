"""The identity slice's rules, in plain Python: each backend's transaction
calls them, so a second backend implements storage only. Tested without a
database (tests/router/identity/test_rules.py)."""

from __future__ import annotations

import hmac
import logging
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, NamedTuple, TypeVar

from router.conversations.states import is_open, shown_in_list
from router.identity.types import (
    SHARED_KEY_SOURCE,
    AttributeMergePolicy,
    ClaimPlan,
    IdentityPlan,
    KeyRef,
    VerificationCheck,
    VerificationStart,
)
from router.models import ConversationStatus, IdentityRef, Verification
from router.store.errors import BackendError, ConflictError, NotFound

Row = TypeVar("Row", bound=Mapping[str, Any])

log = logging.getLogger(__name__)


def _attribute_rank(meta: dict[str, Any], policy: AttributeMergePolicy, rule: str) -> tuple[Any, ...]:
    at = str(meta.get("at", ""))
    if rule == "source_priority":
        order = policy.source_priority
        source = meta.get("source")
        rank = order.index(source) if source in order else len(order)
        return (-rank, at)
    return (at,)


def merge_attributes(
    survivor: tuple[dict[str, Any], dict[str, Any]], merged: tuple[dict[str, Any], dict[str, Any]],
    policy: AttributeMergePolicy,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(attributes, meta)`` after a merge, each attribute settled on its own:
    the most recently set wins, or the better source (ties: the more recent);
    on a full tie the survivor's value stays."""
    (s_attrs, s_meta), (m_attrs, m_meta) = survivor, merged
    attrs, meta = dict(s_attrs), dict(s_meta)
    rules = dict(policy.per_attribute)
    for name, value in m_attrs.items():
        theirs = m_meta.get(name, {})
        if name in attrs:
            rule = rules.get(name, policy.default)
            if _attribute_rank(theirs, policy, rule) <= _attribute_rank(meta.get(name, {}), policy, rule):
                continue
        attrs[name] = value
        if theirs:
            meta[name] = theirs
    return attrs, meta


# -- merge: which open conversation survives the fold --------------------------------


# a chain of merges (A into B, then B into C) is followed to its live end (C) this far at
# most: merges make no cycle and no chain this long, so a longer one is a store edited by
# hand, an error to report, never a loop that holds a connection and its locks forever
MERGE_CHAIN_LIMIT = 32


def chain_unended(customer_id: str) -> BackendError:
    """The error for a chain of merges from ``customer_id`` that does not end
    in a live customer within ``MERGE_CHAIN_LIMIT`` steps."""
    return BackendError(f"customer {customer_id}: its chain of merges has no live end within"
                        f" {MERGE_CHAIN_LIMIT} steps (a cycle of merged_into?)")


def check_live(customer_id: str, merged_into: str | None, *, found: bool = True) -> None:
    """``NotFound`` for a customer not stored, ``ConflictError`` for one
    merged into another: a write (a merge, a CRM's) is for a live profile."""
    if not found:
        raise NotFound(f"customer {customer_id}")
    if merged_into is not None:
        raise ConflictError(f"customer {customer_id} was merged into {merged_into}")


def open_ones(conversations: Iterable[Row]) -> list[Row]:
    """The open ones of both customers' conversations (``status``), in the order given: what a merge folds."""
    return [c for c in conversations if is_open(ConversationStatus(c["status"]))]


# which of two open conversations a fold keeps: the one a person is on, then the one waiting for
# people, then the bot's (a customer verifying in the chat an agent had taken lost the agent to
# their older, queued WhatsApp conversation, and the agent's next reply was refused)
_KEPT_FIRST = {ConversationStatus.ASSIGNED.value: 0, ConversationStatus.QUEUED.value: 1}


def fold(opened: Sequence[Row]) -> tuple[Row, Row] | None:
    """Of both customers' open conversations (oldest stored first), the one
    kept and the one folded into it: the one with an agent on it, else the
    one queued for people, else the older. None when there are not two to fold."""
    if len(opened) < 2:
        return None
    # stable: equal ranks and times keep the stored order
    ordered = sorted(opened, key=lambda c: (_KEPT_FIRST.get(str(c.get("status")), 2), c["created_at"]))
    return ordered[0], ordered[1]


def folded_preview(kept: Mapping[str, Any], folded: Mapping[str, Any]) -> tuple[Any, Any]:
    """``(last_message_at, last_message_text)`` of the kept conversation once
    the folded one's messages are in it: the later of the two."""
    latest = max(kept["last_message_at"], folded["last_message_at"])
    text = kept["last_message_text"] if latest == kept["last_message_at"] else folded["last_message_text"]
    return latest, text


# -- resolve: a sender's message -----------------------------------------------------


def nothing_to_apply(plan: IdentityPlan, name: str | None, current_name: str | None) -> bool:
    """A known sender whose message changes nothing: no claim, no proof, and
    no new name. Each backend returns the customer as found (without a write
    transaction, when it can tell from a read)."""
    return not plan.claims and not plan.proven and (not name or name == current_name)


# -- merge and unmerge --------------------------------------------------------------


def merged_name(survivor: str | None, merged: str | None) -> str | None:
    """The merged profile's name: the survivor's, or the merged one's when the survivor has none."""
    return survivor if survivor is not None else merged


def moved_verified(requested: bool | None, current: bool) -> bool:
    """Whether an identity moved by a merge counts as proven: as the merge
    says (a verified code: yes; a claim merged by config: no), or, when it
    says nothing (an agent's merge), as it was."""
    return current if requested is None else requested


def check_undoable(merge: Mapping[str, Any], involving: Sequence[Mapping[str, Any]]) -> None:
    """``ConflictError`` unless ``merge`` (``id``, ``created_at``,
    ``undone_at``) stands and no later merge of either of its customers does
    (``involving``: their merges, in stored order): undoing it first would
    take back what the later one moved."""
    if merge["undone_at"] is not None:
        raise ConflictError(f"merge {merge['id']} was undone already")
    later = [m for m in involving
             if m["undone_at"] is None and m["id"] != merge["id"] and m["created_at"] >= merge["created_at"]]
    if later:
        latest = max(reversed(later), key=lambda m: m["created_at"])
        raise ConflictError(f"undo the later merge {latest['id']} first")


def untouched_since(updated_at: str | None, stamp: str) -> bool:
    """A row (a profile, a conversation) nobody changed since the merge that
    stamped it: an unmerge puts it back as it was; otherwise it stays."""
    return updated_at is not None and updated_at == stamp


def other_open(conversations: Iterable[Mapping[str, Any]], but: str) -> str | None:
    """An open conversation (``id``, ``status``) other than ``but``: a folded
    conversation is reopened only when its customer has none, never two."""
    return next((c["id"] for c in conversations
                 if c["id"] != but and is_open(ConversationStatus(c["status"]))), None)


# -- unmerge: what happened while the two were one ------------------------------------


class Said(NamedTuple):
    """A message of a conversation, as much as its summary reads."""

    created_at: Any
    text: str | None
    channel: str
    direction: str
    author: str
    automatic: str | None = None  # the core's marker of an automatic notice
    description: str | None = None  # the connector's words for a message without any


def summary(newest_first: Iterable[Said]) -> tuple[str | None, tuple[Any, str] | None]:
    """A conversation summed up again from the messages it holds (newest
    first): the channel its customer last
    wrote from, and ``(last_message_at, last_message_text)`` as the list shows
    its last message (an automatic notice never was its last word). None
    where no message says (left as it is)."""
    channel: str | None = None
    last: tuple[Any, str] | None = None
    for m in newest_first:
        if channel is None and m.direction == "in" and m.author == "customer":
            channel = m.channel
        if last is None:
            shown = shown_in_list(m.automatic, m.text, m.description)
            last = None if shown is None else (m.created_at, shown)
        if channel is not None and last is not None:
            break
    return channel, last


def return_target(conversations: Sequence[Mapping[str, Any]]) -> str | None:
    """Where a customer's message returns to after an unmerge, of their
    conversations (``id``, ``status``, ``created_at``; in stored order):
    their open one, or their latest."""
    ranked = [(is_open(ConversationStatus(c["status"])), c["created_at"], n, c["id"])
              for n, c in enumerate(conversations)]
    return max(ranked)[3] if ranked else None


def returned_messages(
    later: Iterable[Mapping[str, Any]], theirs: set[tuple[str, str]], merged_id: str, survivor_id: str,
    targets: Mapping[str, str | None],
) -> tuple[list[tuple[str, str, str]], set[str]]:
    """Messages written while merged (``id``, ``direction``, ``sender`` as
    ``(kind, value)``, ``conversation_id``, ``owner``: that conversation's
    customer) go back to the side whose identity sent them (``theirs``: the
    merged customer's; any other is the survivor's), into a conversation of
    that side (``targets``: each side's :func:`return_target`). Returns the
    moves ``(customer, conversation, message)`` and the conversations that
    lost or gained messages."""
    moves: list[tuple[str, str, str]] = []
    touched: set[str] = set()
    for m in later:
        if m["direction"] != "in":
            continue
        side = merged_id if m["sender"] in theirs else survivor_id
        if side == survivor_id and m["owner"] in (survivor_id, None):
            continue  # the survivor's own, in the survivor's own conversation
        target = m["conversation_id"] if m["owner"] == side else targets[side]
        if target is None:
            continue  # that side has no conversation to take it back
        moves.append((side, target, m["id"]))
        touched |= {target, m["conversation_id"]} - {None}
    return moves, touched


# -- keys: who a key says a customer is -------------------------------------------


def marks_shared(source: str) -> bool:
    """A claim whose source says the business's own data (an import, a CRM)
    gave its key for a second customer: the key is shared, so never a lookup
    key. (Case aside, as SQL's LIKE compared it.)"""
    return source.lower().endswith(SHARED_KEY_SOURCE)


def widely_shared(sharers: int, max_profiles: int, *, marked_shared: bool = False) -> bool:
    """A key held (proven or claimed) by more than ``max_profiles`` customers,
    or one the business's own data marks shared, says nothing about who is who."""
    return marked_shared or sharers > max_profiles


# an identity's link_reason when a write by keys (an import's row, a CRM) linked it
GIVEN_BY = "given by "


def given_link(link_reason: str | None) -> bool:
    """An identity the business's data gave its customer, not a channel's own."""
    return (link_reason or "").startswith(GIVEN_BY)


def shared_given_reason(ref: IdentityRef, given_by: str) -> str:
    """Why the link an import or a CRM gave is undone at a channel's first message from it."""
    return (f"{ref.kind} {ref.value} is shared (its {given_by} gave it to several customers): whoever "
            "writes from it is nobody's by it")


def sender_is_given_key(plan: IdentityPlan) -> bool:
    """The sender's identity is itself a key the business's data may have given
    someone (a mail's sender is an email key): its row may be an import's."""
    return plan.key is not None and plan.key.kind == plan.identity.kind and plan.key.value == plan.identity.value


def one_owner(owners: Sequence[str]) -> str | None:
    """The owner of a key proven by exactly one customer; several owners name nobody."""
    return owners[0] if len(set(owners)) == 1 else None


def match_key(plan: IdentityPlan) -> KeyRef | None:
    """The key whose owner a new identity joins: its own, when config says
    keys match (auto_merge); None starts a profile of its own."""
    return plan.key if plan.match else None


def new_claim(held_proven: bool) -> bool:
    """A key the customer holds proven already (they write from it) is no claim."""
    return not held_proven


def claim_merges(plan: IdentityPlan, claim: ClaimPlan) -> bool:
    """A claim merges into the key's owner, unproven, only for the kinds config names (merge_claims)."""
    return claim.key.kind in plan.merge_claims


def proof_merges(plan: IdentityPlan, proof: ClaimPlan) -> bool:
    """A platform's proof merges into the key's owner for the kinds config
    names (auto_merge, as for a new identity); otherwise the proof stands and
    an agent (or a code) merges."""
    return proof.key.kind in plan.merge_proven


def merges_into(owner: str | None, customer_id: str) -> str | None:
    """The customer ``customer_id`` is merged into: the key's owner, when it is someone else."""
    return owner if owner is not None and owner != customer_id else None


def proven_owner(identities: Iterable[Mapping[str, Any]], customer_id: str) -> str | None:
    """The customer a verified code for a key merges ``customer_id`` into, of
    the key's identities (``customer_id``, ``verified``): its one other owner.
    A verified identity holds the key; one linked without proof owns nothing."""
    owners = {i["customer_id"] for i in identities if i["verified"] and i["customer_id"] != customer_id}
    return merges_into(one_owner(sorted(owners)), customer_id)


def proven_key_link(identity: Mapping[str, Any] | None, key: KeyRef, source: str) -> str | None:
    """The link reason to store when the sender's identity (``kind``,
    ``key_kind``, ``key_value``, ``link_reason``; None: not stored) takes a
    key the platform proved, or None when it does not: one that has a key
    keeps it (a key says which messages a code may go to and which later
    identities join, and changing it silently would move both); the new key
    is still the customer's, as a verified claim."""
    if identity is None:
        return None
    if identity["key_kind"] is not None:
        if (identity["key_kind"], identity["key_value"]) != (key.kind, key.value):
            log.info("identity %s keeps its %s key: a proven %s is recorded as a verified claim only",
                     identity["kind"], identity["key_kind"], key.kind)
        return None
    reason: str | None = identity["link_reason"]
    return reason if reason is not None else f"{key.kind} proven by the platform ({source})"


def other_owner(key: KeyRef, sharers: int, owners: Sequence[str], holders: Collection[str],
                max_profiles: int) -> str | None:
    """The one other customer a platform's proof of ``key`` merges into, as
    the auto_merge of a new identity finds it, from the others: ``sharers``
    (how many have the key, proven or claimed, counted to ``max_profiles`` +
    1), ``owners`` (those with a verified identity of it) and ``holders``
    (linked to it, or given it by the business's data for someone else).
    None when the key is too widely shared, several own it, or the
    business's data marks it shared."""
    if widely_shared(sharers, max_profiles):
        log.info("a proven %s is shared by more than %d other profiles: nobody is merged by it", key.kind,
                 max_profiles)
        return None
    owner = one_owner(owners)
    return owner if owner is not None and set(holders) == {owner} else None


def check_dismissable(claim_id: str, verified_at: Any, dismissed_at: Any, dismissed_by: str | None) -> None:
    """``ConflictError`` unless the claim is unproven and not dismissed yet."""
    if verified_at is not None:
        raise ConflictError(f"claim {claim_id} is verified already")
    if dismissed_at is not None:
        raise ConflictError(f"claim {claim_id} was dismissed already (by {dismissed_by})")


# -- one-time codes ----------------------------------------------------------------


# how long a key's codes count together toward max_sends: a chain of codes, dead or not
SENDS_WINDOW = timedelta(days=1)


def code_sends(last: Verification | None, start: VerificationStart, now: datetime) -> int:
    """How many codes to the key the new one makes (1 for a fresh key), or
    ``ConflictError`` when a start is refused: an exclusive start while a
    code is live; a resend too soon or past ``max_sends``. ``last`` is the
    customer's latest code, live or not: a code killed by wrong tries or
    expired still counts, or five wrong guesses bought a new code at once
    and the count began again. A decoy (no channel) neither throttles nor
    counts; an exclusive start (the bot's offer) is never throttled: a
    refusal would say the phone is someone's."""
    if last is None or last.status not in ("pending", "failed", "expired") or last.created_at < now - SENDS_WINDOW:
        return 1
    if start.exclusive and last.status == "pending" and last.expires_at > now:
        raise ConflictError(f"a code for {last.kind} {last.value} is pending")
    if start.exclusive or not last.channel or (last.kind, last.value) != (start.key.kind, start.key.value):
        return 1
    wait = last.last_sent_at + start.resend_after - now
    if wait.total_seconds() > 0:
        raise ConflictError(f"a code was sent moments ago: try again in {math.ceil(wait.total_seconds())} s")
    if last.sends >= start.max_sends:
        raise ConflictError(f"{last.sends} codes were sent already: verify another way (ask an agent)")
    return last.sends + 1


def offered(origin: str, channel: str) -> bool:
    """A code that counts toward a key's daily cap: one the bot sent (a decoy, no channel, was never sent)."""
    return origin == "bot" and channel != ""


def past_daily_cap(start: VerificationStart, sent_today: Callable[[], int]) -> bool:
    """The key had its share of the bot's codes today: the start is a decoy
    (stored, nothing sent). ``sent_today`` is counted (only for a start that
    would send and has a cap) in the start's own transaction, so claims made
    at the same moment cannot all see room."""
    return bool(start.channel) and start.daily_cap is not None and sent_today() >= start.daily_cap


class CodeOutcome(Enum):
    IGNORED = "ignored"  # past its time, typed elsewhere: no attempt
    EXPIRED = "expired"  # past its time, typed where it was offered: it dies
    WRONG = "wrong"  # one attempt used, still pending
    FAILED = "failed"  # the last attempt used: it dies
    RIGHT = "right"


def code_outcome(pending: Verification, code_hash: str, check: VerificationCheck, now: datetime) -> CodeOutcome:
    """What a typed code does to the pending one. Past its time a code is no
    attempt (an order number, days later), except once, where it was offered."""
    if pending.expires_at <= now:
        if pending.conversation_id is None or pending.conversation_id != check.conversation_id:
            return CodeOutcome.IGNORED
        return CodeOutcome.EXPIRED
    if not hmac.compare_digest(code_hash, check.code_hash):
        return CodeOutcome.FAILED if pending.attempts + 1 >= check.max_attempts else CodeOutcome.WRONG
    return CodeOutcome.RIGHT
