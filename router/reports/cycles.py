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
- ``queued`` starts a stay in a queue (a later one replaces it); the next
  ``assigned`` ends it;
- the first ``first_reply`` and the first ``resolved`` are kept; ``merged``,
  ``to_bot``, each ``handoff`` and each ``transferred`` are noted."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from operator import attrgetter
from typing import Any

from router.reports.events import ConversationEvent, CycleFacts, Kind, Stay, Transfer

_order = attrgetter("conversation_id", "seq")
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
    handoffs: list[str | None] = field(default_factory=list)
    stays: list[Stay] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)

    def add(self, e: ConversationEvent) -> None:
        kind = e.kind
        if kind in (Kind.QUEUED, Kind.ASSIGNED) and self.asked is None:
            self.asked = e
        if kind is Kind.QUEUED:
            self.queued = e
        elif kind is Kind.ASSIGNED and self.queued is not None:
            q = self.queued
            self.stays.append(Stay(q.at, q.team, q.channel, q.tier, e.at, e.agent_id))
            self.queued = None
        elif kind is Kind.TRANSFERRED:
            self.transfers.append(Transfer(e.at, e.team, e.channel, e.tier, e.how, e.agent_id))
        elif kind is Kind.HANDOFF:
            self.handoffs.append(e.reason)
        elif kind is Kind.TO_BOT:
            self.with_bot = True
        elif kind is Kind.FIRST_REPLY and self.replied is None:
            self.replied = e
        elif kind is Kind.RESOLVED and self.resolved is None:
            self.resolved = e
        elif kind is Kind.MERGED:
            self.merged = True

    def facts(self) -> CycleFacts:
        s, asked, replied, resolved = self.start, self.asked, self.replied, self.resolved
        return CycleFacts(
            s.conversation_id, s.seq, s.kind is Kind.REOPENED, s.at, s.status, s.team, s.channel, s.tier,
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


# the columns of conversation_cycles a report reads, in CycleFacts' order (both backends' SELECTs)
COLUMNS = ("conversation_id, start_seq, reopened, start_at, start_status, team, channel, tier, asked_at, asked_team,"
           " replied_at, replied_agent, resolved_at, resolved_agent, resolved_prev_status, merged, with_bot,"
           " handoffs, stays, transfers")


_iso = datetime.fromisoformat
_decode = json.JSONDecoder().raw_decode  # no whitespace to skip in what the database wrote: cheaper than loads


def _json(value: Any) -> Any:
    if value is None:
        return ()
    return _decode(value)[0] if isinstance(value, str) else value


def facts(row: Sequence[Any], parse: Callable[[Any], datetime] = _iso) -> CycleFacts:
    """A row of COLUMNS: its times read by ``parse`` (SQLite's text; PostgreSQL's are datetimes already),
    its JSON lists (times as ISO text) read. Per cycle of a report: kept to few calls."""
    stays = row[18]
    stays = tuple(Stay(_iso(s[0]), s[1], s[2], s[3], _iso(s[4]), s[5]) for s in _json(stays)) if stays else ()
    moved = row[19]
    moved = tuple(Transfer(_iso(t[0]), t[1], t[2], t[3], t[4], t[5]) for t in _json(moved)) if moved else ()
    asked, replied, resolved = row[8], row[10], row[12]
    return CycleFacts(
        row[0], row[1], bool(row[2]), parse(row[3]), row[4], row[5], row[6], row[7],
        None if asked is None else parse(asked), row[9], None if replied is None else parse(replied), row[11],
        None if resolved is None else parse(resolved), row[13], row[14], bool(row[15]), bool(row[16]),
        tuple(_json(row[17])), stays, moved)
