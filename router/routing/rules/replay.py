"""Replay: stored history through a candidate rules file, changing nothing.

Each stored conversation is decided again by the candidate rules with the
message that opened it, the customer's earlier contacts as they were then and
the time it was opened. The customer's attributes are today's (the store keeps
no attribute history)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from router.identity.store import CustomerStore
from router.ingest.store import IngestStore
from router.models import ConversationView, Message, RouteDecision
from router.plurals import counted
from router.routing.rules.engine import RuleSet
from router.routing.rules.facts import RECENT_WINDOW
from router.store.errors import NotFound

PAGE = 500


class ReplayStore(IngestStore, CustomerStore, Protocol):
    """What a replay reads: the conversations opened, their first message, the
    customer and their history."""


def queue_of(status: str, team: str | None) -> str:
    return f"{status}/{team or '-'}"


@dataclass(frozen=True, slots=True)
class Move:
    conversation: ConversationView
    decision: RouteDecision

    @property
    def before(self) -> str:
        c = self.conversation
        # a conversation since assigned or resolved was routed to a queue: compare that
        return f"{queue_of(self.routed_status, c.team)} p{c.priority}"

    @property
    def after(self) -> str:
        d = self.decision
        return f"{queue_of(d.status.value, d.team)} p{d.priority}"

    @property
    def routed_status(self) -> str:
        # the trace step says where it was sent; the status may have moved on since
        reason = self.conversation.route_reason or ""
        return "bot" if ": bot" in reason or reason.startswith("bot") else "queued"


@dataclass
class ReplayReport:
    replayed: int = 0
    skipped: int = 0  # no opening message left to decide on
    now: Counter[str] = field(default_factory=Counter)
    candidate: Counter[str] = field(default_factory=Counter)
    moves: list[Move] = field(default_factory=list)

    def lines(self, limit: int = 50) -> list[str]:
        out = [f"replayed {counted(self.replayed, 'conversation', 'conversations')}, {len(self.moves)} would move"
               + (f", {self.skipped} skipped (no opening message)" if self.skipped else "")]
        out.append(f"{'queue':32} {'now':>7} {'candidate':>9} {'change':>7}")
        for queue in sorted(set(self.now) | set(self.candidate)):
            a, b = self.now[queue], self.candidate[queue]
            out.append(f"{queue:32} {a:7} {b:9} {b - a:+7}")
        for move in self.moves[:limit]:
            rule = move.decision.trace.matched_rule if move.decision.trace else None
            why = f"rule {rule!r}" if rule else "default"
            out.append(f"  {move.conversation.id}: {move.before} → {move.after}  ({why})")
        if len(self.moves) > limit:
            out.append(f"  … and {len(self.moves) - limit} more")
        return out


async def _decide(store: ReplayStore, ruleset: RuleSet, conv: ConversationView, first: Message) -> RouteDecision:
    try:
        customer = await store.get_customer(conv.customer_id)
    except NotFound:  # merged away since: decide on what is left of them
        customer = await store.get_customer(first.customer_id or conv.customer_id)
    at = conv.created_at
    history = await store.contact_history(conv.customer_id, at - RECENT_WINDOW, before=at)
    return ruleset.evaluate(ruleset.facts(first, customer, history, at), at)


async def replay(store: ReplayStore, ruleset: RuleSet, since: datetime | None) -> ReplayReport:
    """Only reads the store."""
    report = ReplayReport()
    after: str | None = None
    while page := await store.conversation_openings(since, after, PAGE):
        for conv, first in page:
            after = conv.id
            if first is None:
                report.skipped += 1
                continue
            decision = await _decide(store, ruleset, conv, first)
            move = Move(conv, decision)
            report.replayed += 1
            report.now[queue_of(move.routed_status, conv.team)] += 1
            report.candidate[queue_of(decision.status.value, decision.team)] += 1
            if (move.routed_status, conv.team, conv.priority) != (decision.status.value, decision.team,
                                                                   decision.priority):
                report.moves.append(move)
    return report
