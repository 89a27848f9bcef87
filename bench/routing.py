"""Routing figures: decision latency with 200 rules, and assignment throughput
with 1,000 agents and 10,000 queued conversations on a real SQLite store.

    python -m bench.routing [--rules 200] [--agents 1000] [--queued 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from router.bus import EventBus
from router.models import (
    ConversationStatus,
    Customer,
    Direction,
    IdentityRef,
    InboundMessage,
    Message,
    Presence,
    Role,
    RouteDecision,
)
from router.routing.assignment import Assigner, Policy
from router.routing.rules import RulesRouting, load_rules
from router.routing.rules.schema import AgentConfig, TeamConfig, TeamsFile
from router.store.sqlite import SQLiteStore

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TEAMS = 20


def rules_yaml(count: int) -> str:
    """``count`` rules of the kinds admins write; none matches the benchmark
    message until the last, so every decision walks them all (the worst case)."""
    kinds = [
        "customer_tier == 'tier{i}' or customer_ltv >= {big}",
        "'tag{i}' in customer_tags",
        "channel == 'channel{i}' and not has_attachments",
        "text =~~ 'keyword{i}\\\\b'",
        "attributes['plan'] == 'plan{i}' and contacts_7d >= 3",
    ]
    lines = ["timezone: Europe/Moscow", "rules:"]
    for i in range(count - 1):
        cond = kinds[i % len(kinds)].format(i=i, big=1_000_000 + i)
        queue = f"    queue: {{team: team{i % TEAMS}, priority: {i % 100}}}"
        lines += [f"  - name: rule {i}", f"    when: \"{cond}\"", queue]
    lines += ["  - name: last", "    when: text.length > 0", "    queue: {team: team0, priority: 50}"]
    lines += ["default: {queue: {team: team0}}"]
    return "\n".join(lines) + "\n"


def teams_yaml() -> str:
    return "teams:\n" + "".join(f"  team{i}: {{}}\n" for i in range(TEAMS))


def bench_decisions(rule_count: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "teams.yaml").write_text(teams_yaml(), encoding="utf-8")
        path = Path(folder) / "rules.yaml"
        path.write_text(rules_yaml(rule_count), encoding="utf-8")
        routing = RulesRouting(load_rules(path), lambda: T0)
    message = Message(id="m", conversation_id=None, customer_id=None, direction=Direction.IN, author="customer",
                      channel="webchat", text="Where is my order 1234?", created_at=T0)
    customer = Customer(id="c", attributes={"tier": "silver", "lifetime_value": 120, "tags": ["a"], "plan": "x"},
                        created_at=T0, updated_at=T0)
    for _ in range(200):  # warm up
        routing.decide(message, customer)
    samples = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        decision = routing.decide(message, customer)
        samples.append((time.perf_counter_ns() - started) / 1000)
    assert decision.trace is not None and decision.trace.matched_rule == "last"
    samples.sort()
    p50, p99 = statistics.median(samples), samples[int(len(samples) * 0.99)]
    print(f"decision, {rule_count} rules, all evaluated: p50 {p50:.0f} µs, p99 {p99:.0f} µs ({rounds} decisions)")


async def _fill(store: SQLiteStore, agents: int, queued: int) -> TeamsFile:
    configs = []
    for i in range(agents):
        agent = await store.create_agent(f"agent{i}", f"Agent {i}", Role.AGENT, "x")
        await store.set_presence(agent.id, Presence.ONLINE, T0)
        configs.append(AgentConfig(username=agent.username, teams=[f"team{i % TEAMS}"], capacity={"chat": 3}))

    async def one(n: int) -> None:
        msg = InboundMessage(channel="webchat", external_id=f"m{n}", sender=IdentityRef(kind="webchat", value=f"c{n}"))
        step = await store.ingest(msg, T0 + timedelta(milliseconds=n))
        route = RouteDecision(status=ConversationStatus.QUEUED, team=f"team{n % TEAMS}", priority=n % 5, reason="b")
        await store.attach_to_conversation(step.message.id, step.customer.id, "webchat", route, T0)

    for start in range(0, queued, 1000):
        await asyncio.gather(*(one(n) for n in range(start, min(start + 1000, queued))))
    return TeamsFile(teams={f"team{i}": TeamConfig() for i in range(TEAMS)}, agents=configs)


async def bench_assignment(agents: int, queued: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with SQLiteStore(Path(folder) / "bench.db") as store:
            teams = await _fill(store, agents, queued)
            assigner = Assigner(store, EventBus(), Policy(teams), lambda: T0, batch=queued)
            started = time.perf_counter()
            assigned = await assigner.assign_round()
            took = time.perf_counter() - started
            loads = await store.agent_loads()
    worst = max((load.get("chat", 0) for load in loads.values()), default=0)
    print(f"assignment, {agents} agents × 3 chats, {queued} queued: {len(assigned)} assigned in one round "
          f"in {took * 1000:.0f} ms = {len(assigned) / took:,.0f} assignments/s (max load {worst}/3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5000)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--queued", type=int, default=10_000)
    args = parser.parse_args()
    bench_decisions(args.rules, args.rounds)
    asyncio.run(bench_assignment(args.agents, args.queued))


if __name__ == "__main__":
    main()
