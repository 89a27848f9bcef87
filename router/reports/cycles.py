"""A conversation's cycles folded into what the figures need of each
(``CycleFacts``): the same fold as the ``conversation_cycles`` triggers
(``router.reports.cycles_schema``) do in the database, event by event in the
order written, so a report reads one narrow row per cycle instead of every
event. Here in Python for a list of events (``report`` of a log read by hand,
the tests' check that both folds agree).

The fold of an event into its conversation's latest cycle (an event before
any opening belongs to none):
- ``opened``/``reopened`` starts a cycle; a reopening not to the bot asks for
  a person at once;
- the first ``queued``/``assigned`` asks for a person (if none was yet);
- ``queued`` starts a stay in a queue (a later one replaces it); an
  ``assigned`` that takes it ends it; an offer (``assigned``, how ``offer``)
  ends it only once the next event shows it stuck: a ``requeued`` to the
  same team straight after the offer is the offer given back unopened
  (lapsed, its agent went offline), and the customer's wait goes on from the
  stay's start;
- the first ``first_reply`` and the first ``resolved`` are kept; ``merged``,
  ``to_bot``, each ``handoff`` and each ``transferred`` are noted; an
  ``unmerged`` undoes the ``merged`` (the cycle goes on)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from operator import attrgetter
from typing import Any

from router.reports.events import ConversationEvent, CycleFacts, Kind, Stay, Transfer

log = logging.getLogger(__name__)

_order = attrgetter("conversation_id", "seq")
# the separators of a packed list, which the triggers drop from the fields they pack (as ``_packed`` here)
_SEPARATORS = str.maketrans("", "", "\x1d\x1e\x1f")


def _packed(value: str | None) -> str | None:
    """``value`` as the triggers pack it into a list: without the separators."""
    return value if value is None else value.translate(_SEPARATORS)

_conversation = attrgetter("conversation_id")


@dataclass(slots=True)
class _Cycle:
    start: ConversationEvent
    asked: ConversationEvent | None = None
    replied: ConversationEvent | None = None
    resolved: ConversationEvent | None = None
    merged: bool = False
    with_bot: bool = False
    queued: ConversationEvent | None = None  # a stay not yet ended
    offered: ConversationEvent | None = None  # the stay's pending offer: it sticks, or lapses back to the queue
    handoffs: list[str | None] = field(default_factory=list)
    stays: list[Stay] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)

    def add(self, e: ConversationEvent) -> None:
        kind = e.kind
        if kind in (Kind.QUEUED, Kind.ASSIGNED) and self.asked is None:
            self.asked = e
        self._stay(e)
        if kind is Kind.TRANSFERRED:
            self.transfers.append(Transfer(e.at, _packed(e.team), _packed(e.channel) or "", _packed(e.tier),
                                           _packed(e.how), _packed(e.agent_id)))
        elif kind is Kind.HANDOFF:
            self.handoffs.append(_packed(e.reason))
        elif kind is Kind.TO_BOT:
            self.with_bot = True
        elif kind is Kind.FIRST_REPLY and self.replied is None:
            self.replied = e
        elif kind is Kind.RESOLVED and self.resolved is None:
            self.resolved = e
        elif kind is Kind.MERGED:
            self.merged = True
        elif kind is Kind.UNMERGED:  # the open conversation is back: its cycle goes on, judged as any other
            self.merged = False

    def _stay(self, e: ConversationEvent) -> None:
        """The stays in a queue: ``e`` may start one, end one, or show a pending offer stuck or lapsed."""
        offered, self.offered = self.offered, None
        # given back unopened to the same queue (a move to another team is a transfer, not a lapse)
        lapsed = (offered is not None and e.kind is Kind.QUEUED and e.how == "requeued"
                  and self.queued is not None and (e.team or "") == (self.queued.team or ""))
        if offered is not None and not lapsed:  # the offer stuck: the stay ended when it was made
            self._end_stay(offered)
        if e.kind is Kind.QUEUED:
            if not lapsed:  # given back unopened, the customer still waits since the stay began
                self.queued = e
        elif e.kind is Kind.ASSIGNED and self.queued is not None:
            if e.how == "offer":
                self.offered = e
            else:
                self._end_stay(e)

    def _end_stay(self, assigned: ConversationEvent) -> None:
        q = self.queued
        assert q is not None
        self.stays.append(Stay(q.at, _packed(q.team), _packed(q.channel) or "", _packed(q.tier), assigned.at,
                               _packed(assigned.agent_id)))
        self.queued = None

    def facts(self) -> CycleFacts:
        s, asked, replied, resolved = self.start, self.asked, self.replied, self.resolved
        return CycleFacts(
            s.conversation_id, s.seq, s.kind is Kind.REOPENED, s.at, s.status, s.team, s.channel, _packed(s.tier),
            asked.at if asked else None, asked.team if asked else None,
            replied.at if replied else None, replied.agent_id if replied else None,
            resolved.at if resolved else None, resolved.agent_id if resolved else None,
            resolved.prev_status if resolved else None,
            self.merged, self.with_bot, tuple(self.handoffs), tuple(self.stays), tuple(self.transfers))


def _started(e: ConversationEvent) -> _Cycle:
    # a reopening not to the bot asks for a person at once
    asks = e.kind is Kind.REOPENED and e.status != "bot"
    return _Cycle(e, asked=e if asks else None, with_bot=e.status == "bot")


def fold(events: Iterable[ConversationEvent]) -> list[CycleFacts]:
    """The cycles of these events (any order: each conversation's are taken in seq order), in the order
    they started (a store's ``cycles``)."""
    found: list[_Cycle] = []
    for _, own in groupby(sorted(events, key=_order), key=_conversation):
        current: _Cycle | None = None
        for e in own:
            if e.kind in (Kind.OPENED, Kind.REOPENED):
                current = _started(e)
                found.append(current)
            elif current is not None:
                current.add(e)
    found.sort(key=lambda c: (c.start.at, c.start.seq))
    return [c.facts() for c in found]


# a rating's tier (csat_surveys ``s``): its conversation's cycle that started last before it was asked
RATED_TIER = ("(SELECT c.tier FROM conversation_cycles c WHERE c.conversation_id = s.conversation_id"
              " AND c.start_at <= s.asked_at ORDER BY c.start_seq DESC LIMIT 1)")

# the columns of conversation_cycles a report reads, in CycleFacts' order (both backends' SELECTs)
COLUMNS = ("conversation_id, start_seq, reopened, start_at, start_status, team, channel, tier, asked_at, asked_team,"
           " replied_at, replied_agent, resolved_at, resolved_agent, resolved_prev_status, merged, with_bot,"
           " handoffs, stays, transfers")


_iso = datetime.fromisoformat
_NULL = "\x1d"


def records(text: str | None) -> list[list[str | None]]:
    """A list of conversation_cycles (``router.reports.cycles_schema``): records split by char 30, fields
    by char 31, char 29 for a NULL."""
    if not text:
        return []
    return [[None if f == _NULL else f for f in r.split("\x1f")] for r in text.split("\x1e")]


class MalformedRecord(ValueError):
    """A record of a packed list that is not what the triggers write."""


def _time(value: str | None) -> datetime:
    if value is None:  # the triggers write a time in every record that has one
        raise MalformedRecord("no time")
    return _iso(value)


def _fields(record: list[str | None], count: int) -> list[str | None]:
    if len(record) != count:
        raise MalformedRecord(f"{len(record)} fields, not {count}")
    return record


def _stay(s: list[str | None]) -> Stay:
    s = _fields(s, 6)
    return Stay(_time(s[0]), s[1], s[2] or "", s[3], _time(s[4]), s[5])


def _transfer(t: list[str | None]) -> Transfer:
    t = _fields(t, 6)
    return Transfer(_time(t[0]), t[1], t[2] or "", t[3], t[4], t[5])


def _read(text: str, make: Callable[[list[str | None]], Any], what: str, conversation_id: str) -> tuple[Any, ...]:
    """The records of a list, each made by ``make``; one that is malformed (a value stored before the
    triggers dropped the separators, a hand edit) is a data error logged and skipped, not a failed report."""
    rows = records(text)
    try:
        return tuple([make(r) for r in rows])
    except ValueError as exc:  # MalformedRecord or a time that is none; the rare path: sort the good from the bad
        log.error("conversation %s: a malformed %s record in conversation_cycles skipped (%s)", conversation_id,
                  what, type(exc).__name__)
    made = []
    for r in rows:
        try:
            made.append(make(r))
        except ValueError:
            continue
    return tuple(made)


def facts(row: Sequence[Any], parse: Callable[[Any], datetime] = _iso) -> CycleFacts:
    """A row of COLUMNS: its times read by ``parse`` (SQLite's text; PostgreSQL's are datetimes already),
    its lists (times as SQLite's text on both) split. Per cycle of a report: kept to few calls."""
    (conversation_id, seq, reopened, start, status, team, channel, tier, asked, asked_team, replied, replied_agent,
     resolved, resolved_agent, resolved_prev, merged, with_bot, handoffs, stays, moved) = row
    return CycleFacts(
        conversation_id, seq, bool(reopened), parse(start), status, team, channel, tier,
        None if asked is None else parse(asked), asked_team, None if replied is None else parse(replied),
        replied_agent, None if resolved is None else parse(resolved), resolved_agent, resolved_prev, bool(merged),
        bool(with_bot), tuple([r[0] for r in records(handoffs)]) if handoffs else (),
        _read(stays, _stay, "stay", conversation_id) if stays else (),
        _read(moved, _transfer, "transfer", conversation_id) if moved else ())
