"""Bot figures for each matching method on two held-out sets of questions
(none of them an example in bot.yaml): top-1 accuracy and answers in scope,
the share of out-of-scope questions handed to people, the time per answer,
start-up time and memory.

- bench/data/bot_heldout.yaml: the TUNING set; thresholds and weights were
  chosen on it (``--misses`` lists its misses);
- bench/data/bot_dev.yaml: the DEVELOPMENT set, the second one thresholds
  were chosen on (``--misses`` lists its misses too), for what the tuning
  set could not show: its out-of-scope questions were all handed off;
- bench/data/bot_heldout_blind.yaml: the BLIND set, written before any
  method was scored on it and never tuned on: its misses are not listed;
- bench/data/bot_heldout_fresh.yaml: the FRESH set, written by a hand that
  never saw bot.yaml, the other sets or the code (only the intents' names
  and answers), after the matcher was finished: its misses are not listed;
- bench/data/bot_edges.yaml: the EDGES, questions moved out of the unit tests
  because each sat within 0.02 of a threshold or margin (bench.bot_margins):
  which way they go says little, but a change that moves many is worth a look.

    python -m bench.bot [--config config/bot.yaml] [--misses]     # every method, a table
    python -m bench.bot --method hybrid [--misses] [--no-off-topic]  # one method in detail

Each method runs in a process of its own, so start-up and memory are its own;
each with and without bot.yaml's off_topic examples.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import yaml

from router.bot.base import BotReply, BotTurn, ReplyKind
from router.bot.config import BotFile, Method, load_bot_config
from router.bot.faq import FaqBot
from router.models import Customer

ROOT = Path(__file__).resolve().parents[1]
TUNING = ROOT / "bench" / "data" / "bot_heldout.yaml"
BLIND = ROOT / "bench" / "data" / "bot_heldout_blind.yaml"
FRESH = ROOT / "bench" / "data" / "bot_heldout_fresh.yaml"
DEV = ROOT / "bench" / "data" / "bot_dev.yaml"
EDGES = ROOT / "bench" / "data" / "bot_edges.yaml"
LABELS = {TUNING.stem: "tuning", DEV.stem: "dev", BLIND.stem: "blind", FRESH.stem: "fresh", EDGES.stem: "edges"}
DESCRIPTIONS = {TUNING.stem: "tuning set", DEV.stem: "development set, tuned on too",
                BLIND.stem: "blind, never tuned on",
                FRESH.stem: "fresh, written without seeing bot.yaml, never tuned on",
                EDGES.stem: "edges, moved out of the unit tests"}
LISTED = (TUNING, DEV, EDGES)  # whose misses --misses lists
METHODS: tuple[Method, ...] = get_args(Method)
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CUSTOMER = Customer(id="cus_bench", display_name="Анна", created_at=T0, updated_at=T0)


@dataclass
class Tally:
    total: int = 0
    top1: int = 0
    answered: int = 0
    wrong: int = 0
    clarified: int = 0
    clarified_right: int = 0  # the right intent among the two offered
    handed_off: int = 0
    misses: list[str] = field(default_factory=list)


@dataclass
class Figures:
    method: str
    threshold: float
    clarify_margin: float
    off_topic_margin: float
    startup_ms: float
    rss_mb: float
    sets: dict[str, dict[str, Tally]]
    first_ms: list[float]
    warm_ms: list[float]
    # the CPU the answers took: what wall-clock times would be on an idle machine
    cpu_ms: list[float]


def timed(bot: FaqBot, text: str, times: list[float], cpu: list[float] | None = None) -> BotReply:
    started, cpu_started = time.perf_counter(), time.thread_time()
    reply = bot.decide(BotTurn("conv_bench", CUSTOMER, text))
    times.append(time.perf_counter() - started)
    if cpu is not None:
        cpu.append(time.thread_time() - cpu_started)
    return reply


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_mb() -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def normalised(text: str) -> str:
    return " ".join(text.lower().split())


def why(reply: BotReply) -> str:
    """The handoff's reason, and whether the off_topic examples made it."""
    if reply.reason is None:
        return ""
    return f"{reply.reason.value}, near off_topic" if "(off_topic" in reply.detail else reply.reason.value


def score_set(bot: FaqBot, data: dict[str, Any], times: list[float], cpu: list[float] | None = None
              ) -> dict[str, Tally]:
    examples = {normalised(t) for i in bot.config.intents for ts in i.examples.values() for t in ts}
    inside = Tally()
    for intent, questions in data["in_scope"].items():
        for text in questions:
            if normalised(text) in examples:
                raise SystemExit(f"held-out question {text!r} is an example in bot.yaml: not held out")
            reply = timed(bot, text, times, cpu)
            inside.total += 1
            ranked_first = reply.candidates[0].intent if reply.candidates else None
            inside.top1 += ranked_first == intent
            inside.answered += reply.kind is ReplyKind.ANSWER and reply.intent == intent
            inside.wrong += reply.kind is ReplyKind.ANSWER and reply.intent != intent
            inside.clarified += reply.kind is ReplyKind.CLARIFY
            inside.clarified_right += reply.kind is ReplyKind.CLARIFY and intent in [
                c.intent for c in reply.candidates[:2]]
            inside.handed_off += reply.kind is ReplyKind.HANDOFF
            if reply.kind is not ReplyKind.ANSWER or reply.intent != intent:
                inside.misses.append(f"  {intent:14} {text!r}: {reply.kind.value} {reply.intent} "
                                     f"{reply.confidence:.2f} ({why(reply)})")
    outside = Tally()
    for text in data["out_of_scope"]:
        reply = timed(bot, text, times, cpu)
        outside.total += 1
        outside.handed_off += reply.kind is ReplyKind.HANDOFF
        if reply.kind is not ReplyKind.HANDOFF:
            outside.misses.append(f"  {'(none)':14} {text!r}: {reply.kind.value} {reply.intent} "
                                  f"{reply.confidence:.2f}")
    return {"in": inside, "out": outside}


def with_method(config: BotFile, method: Method) -> BotFile:
    return config.model_copy(update={"matching": config.matching.model_copy(update={"method": method})})


def measure(config_path: Path, method: Method, off_topic: bool = True) -> Figures:
    started = time.perf_counter()
    config = load_bot_config(config_path)
    if not off_topic:
        config = config.model_copy(update={"off_topic": {}})
    bot = FaqBot(with_method(config, method))
    bot.load()
    startup = time.perf_counter() - started
    sets = {path.stem: yaml.safe_load(path.read_text(encoding="utf-8")) for path in (TUNING, DEV, BLIND, FRESH, EDGES)}
    first: list[float] = []
    cpu: list[float] = []
    scored = {name: score_set(bot, data, first, cpu) for name, data in sets.items()}
    # warm: the second pass shows the steady state (stems, corrections, embeddings cached)
    warm: list[float] = []
    for data in sets.values():
        score_set(bot, data, warm)
    label = method if off_topic else f"{method}, no off_topic"
    return Figures(label, bot.thresholds.threshold, bot.thresholds.clarify_margin,
                   bot.thresholds.off_topic_margin, startup * 1000, rss_mb(),
                   scored, [t * 1000 for t in first], [t * 1000 for t in warm], [t * 1000 for t in cpu])


def pct(n: int, d: int) -> str:
    return f"{100 * n / d:5.1f} % ({n}/{d})" if d else "    - (none)"


def report(fig: Figures, misses: bool) -> None:
    print(f"method {fig.method}: threshold {fig.threshold:g}, clarify_margin {fig.clarify_margin:g}, "
          f"off_topic_margin {fig.off_topic_margin:g}; "
          f"start-up {fig.startup_ms:.0f} ms, peak RSS {fig.rss_mb:.0f} MB")
    for name, tallies in fig.sets.items():
        inside, outside = tallies["in"], tallies["out"]
        print(f"  {name} ({DESCRIPTIONS[name]})")
        print(f"    in scope      top-1 intent          {pct(inside.top1, inside.total)}   target >= 90 %")
        print(f"                  answered correctly    {pct(inside.answered, inside.total)}")
        print(f"                  answered wrongly      {pct(inside.wrong, inside.total)}")
        print(f"                  clarifying question   {pct(inside.clarified, inside.total)}"
              f"  (right intent offered {inside.clarified_right})")
        print(f"                  handed off            {pct(inside.handed_off, inside.total)}")
        print(f"    out of scope  handed off            {pct(outside.handed_off, outside.total)}   target >= 95 %")
    print(f"  time per answer, first sight: p50 {statistics.median(fig.first_ms):.3f} ms  "
          f"p99 {percentile(fig.first_ms, 0.99):.3f} ms  max {max(fig.first_ms):.3f} ms   target p99 < 20 ms")
    print(f"  time per answer, warm:        p50 {statistics.median(fig.warm_ms):.3f} ms  "
          f"p99 {percentile(fig.warm_ms, 0.99):.3f} ms")
    print(f"  CPU per answer, first sight:  p50 {statistics.median(fig.cpu_ms):.3f} ms  "
          f"p99 {percentile(fig.cpu_ms, 0.99):.3f} ms   (wall-clock minus waiting for a busy CPU)")
    if misses:
        for path in LISTED:
            tuned = fig.sets[path.stem]
            print(f"  misses on {path.name} (the blind and fresh sets' are not listed: they are not for tuning):")
            print("\n".join(tuned["in"].misses + tuned["out"].misses))


def table(figures: list[Figures]) -> None:
    def share(t: Tally, n: int) -> str:
        return f"{100 * n / t.total:5.1f}" if t.total else "-"

    print("\n| method | set | top-1 | answered right | answered wrong | clarified | out-of-scope handed off "
          "| p50 / p99 first ms | p50 / p99 warm ms | p50 / p99 CPU first ms | start-up ms | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for fig in figures:
        for name, tallies in fig.sets.items():
            inside, outside = tallies["in"], tallies["out"]
            label = LABELS[name]
            print(f"| {fig.method} | {label} | {share(inside, inside.top1)} | {share(inside, inside.answered)} "
                  f"| {share(inside, inside.wrong)} | {share(inside, inside.clarified)} "
                  f"| {share(outside, outside.handed_off)} "
                  f"| {statistics.median(fig.first_ms):.2f} / {percentile(fig.first_ms, 0.99):.2f} "
                  f"| {statistics.median(fig.warm_ms):.2f} / {percentile(fig.warm_ms, 0.99):.2f} "
                  f"| {statistics.median(fig.cpu_ms):.2f} / {percentile(fig.cpu_ms, 0.99):.2f} "
                  f"| {fig.startup_ms:.0f} | {fig.rss_mb:.0f} |")


def from_json(data: dict[str, Any]) -> Figures:
    data["sets"] = {name: {k: Tally(**v) for k, v in t.items()} for name, t in data["sets"].items()}
    return Figures(**data)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "bot.yaml")
    parser.add_argument("--method", choices=METHODS, help="one method only, in this process")
    parser.add_argument("--misses", action="store_true", help="list every miss on the tuning set")
    parser.add_argument("--no-off-topic", action="store_true", help="without bot.yaml's off_topic examples")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.method:
        figures = measure(args.config, args.method, off_topic=not args.no_off_topic)
        if args.json:
            print(json.dumps(asdict(figures)))
        else:
            report(figures, args.misses)
        return
    print(f"bot.yaml: {args.config}; shipped method: {load_bot_config(args.config).matching.method}")
    results: list[Figures] = []
    for method in METHODS:
        for without in ([], ["--no-off-topic"]):
            child = subprocess.run([sys.executable, "-m", "bench.bot", "--config", str(args.config), "--method",
                                    method, "--json", *without], cwd=ROOT, capture_output=True, text=True, check=True)
            results.append(from_json(json.loads(child.stdout)))
            report(results[-1], args.misses and not without)
    table(results)


if __name__ == "__main__":
    main()
