"""Bot figures on held-out questions (bench/data/bot_heldout.yaml, none of
them an example in bot.yaml): top-1 accuracy in scope, the share of
out-of-scope questions handed to people, and the time per answer.

    python -m bench.bot [--config config/bot.yaml] [--data bench/data/bot_heldout.yaml] [--misses]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from router.bot.base import BotReply, BotTurn, ReplyKind
from router.bot.config import load_bot_config
from router.bot.faq import FaqBot
from router.models import Customer

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CUSTOMER = Customer(id="cus_bench", display_name="Анна", created_at=T0, updated_at=T0)


@dataclass
class Tally:
    total: int = 0
    top1: int = 0
    answered: int = 0
    clarified: int = 0
    handed_off: int = 0
    misses: list[str] = field(default_factory=list)


def timed(bot: FaqBot, text: str, times: list[float]) -> BotReply:
    started = time.perf_counter()
    reply = bot.decide(BotTurn("conv_bench", CUSTOMER, text))
    times.append(time.perf_counter() - started)
    return reply


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "bot.yaml")
    parser.add_argument("--data", type=Path, default=ROOT / "bench" / "data" / "bot_heldout.yaml")
    parser.add_argument("--misses", action="store_true", help="list every miss")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    bot = FaqBot(load_bot_config(args.config))
    built = time.perf_counter() - started
    data: dict[str, Any] = yaml.safe_load(args.data.read_text(encoding="utf-8"))
    examples = {" ".join(t.lower().split()) for i in bot.config.intents for ts in i.examples.values() for t in ts}

    times: list[float] = []
    inside = Tally()
    for intent, questions in data["in_scope"].items():
        for text in questions:
            if " ".join(text.lower().split()) in examples:
                raise SystemExit(f"held-out question {text!r} is an example in {args.config}: not held out")
            reply = timed(bot, text, times)
            inside.total += 1
            ranked_first = reply.candidates[0].intent if reply.candidates else None
            inside.top1 += ranked_first == intent
            inside.answered += reply.kind is ReplyKind.ANSWER and reply.intent == intent
            inside.clarified += reply.kind is ReplyKind.CLARIFY
            inside.handed_off += reply.kind is ReplyKind.HANDOFF
            if reply.kind is not ReplyKind.ANSWER or reply.intent != intent:
                inside.misses.append(f"  {intent:14} {text!r}: {reply.kind.value} {reply.intent} "
                                     f"{reply.confidence:.2f} ({reply.reason or ''})")
    outside = Tally()
    for text in data["out_of_scope"]:
        reply = timed(bot, text, times)
        outside.total += 1
        outside.handed_off += reply.kind is ReplyKind.HANDOFF
        if reply.kind is not ReplyKind.HANDOFF:
            outside.misses.append(f"  {'(none)':14} {text!r}: {reply.kind.value} {reply.intent} "
                                  f"{reply.confidence:.2f}")
    # warm: the second pass shows the steady state (stems and corrections cached)
    warm: list[float] = []
    for questions in data["in_scope"].values():
        for text in questions:
            timed(bot, text, warm)
    for text in data["out_of_scope"]:
        timed(bot, text, warm)

    def pct(n: int, d: int) -> str:
        return f"{100 * n / d:5.1f} % ({n}/{d})"

    print(f"bot: {len(bot.intents)} intents, {sum(len(t) for i in bot.config.intents for t in i.examples.values())}"
          f" examples, index built in {built * 1000:.0f} ms; threshold {bot.config.threshold}")
    print(f"in scope      top-1 intent          {pct(inside.top1, inside.total)}   target >= 90 %")
    print(f"              answered correctly    {pct(inside.answered, inside.total)}")
    print(f"              clarifying question   {pct(inside.clarified, inside.total)}")
    print(f"              handed off            {pct(inside.handed_off, inside.total)}")
    print(f"out of scope  handed off            {pct(outside.handed_off, outside.total)}   target >= 95 %")
    ms = [t * 1000 for t in times]
    warm_ms = [t * 1000 for t in warm]
    print(f"time per answer, first sight: p50 {statistics.median(ms):.3f} ms  p99 {percentile(ms, 0.99):.3f} ms"
          f"  max {max(ms):.3f} ms   target p99 < 20 ms")
    print(f"time per answer, warm:        p50 {statistics.median(warm_ms):.3f} ms  p99 "
          f"{percentile(warm_ms, 0.99):.3f} ms")
    if args.misses:
        print("misses:")
        print("\n".join(inside.misses + outside.misses))


if __name__ == "__main__":
    main()
