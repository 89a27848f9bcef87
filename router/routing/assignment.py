"""Assignment: queued conversations to agents with the skills and free capacity.

Runs as its own task, woken by events (a conversation queued or freed, an
agent's presence changed), never inline in ingest: the ingest path only
publishes. Order: highest priority first, then oldest. Among eligible agents:
the customer's last agent if eligible, else the one idle longest.

Capacity is enforced by the store in the same transaction as the assignment
(``AssignmentStore.offer``, which asks ``router.routing.service``'s capacity
rule, the one the local picture here chooses by), so however many assigners
or transfers run at once no agent ever holds more than their capacity. What
agents take by hand (a take, a supervisor's assignment, a reopen, a reply)
is held to the same capacities (``Assigner.capacity_of``), counted the same
way in the store (``router.conversations.store``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from router import events
from router.accounts.store import AccountStore
from router.agents.profiles import effective_agents
from router.agents.store import AgentAdminStore
from router.aio import cancel_and_wait, wait_event
from router.bus import EventBus
from router.conversations.store import ConversationStore
from router.models import Agent, AgentPresence, ConversationStatus, ConversationView, Presence, RouteDecision, utcnow
from router.redaction import textless_traceback
from router.routing.rules.engine import DEFAULT_QUEUE, RuleSet
from router.routing.rules.schema import AgentConfig, QueuePolicy, Step, TeamsFile
from router.routing.service import has_room
from router.routing.store import AssignmentStore
from router.store.errors import ConflictError, StoreUnavailable

OPEN = frozenset({ConversationStatus.BOT, ConversationStatus.QUEUED, ConversationStatus.ASSIGNED})


class TransferRefused(ValueError):
    """A transfer to a team or agent that teams.yaml does not know."""

log = logging.getLogger(__name__)

# conversations whose lapsed offers are remembered (the most recent ones)
LAPSES_KEPT = 10_000

# events after which a waiting conversation may find an agent
WAKING_EVENTS = frozenset({
    events.CONVERSATION_CREATED, events.CONVERSATION_UPDATED, events.CONVERSATION_ASSIGNED, events.AGENT_PRESENCE,
    events.AGENT_UPDATED,  # an admin gave an agent teams or capacity, or reactivated them
})


@dataclass(frozen=True)
class Policy:
    """What assignment follows: teams.yaml, and rules.yaml's queue policies
    (escalation steps, opening hours) when there is one."""

    teams: TeamsFile
    ruleset: RuleSet | None = None

    def queue(self, team: str | None) -> QueuePolicy:
        return self.ruleset.queue(team) if self.ruleset is not None else DEFAULT_QUEUE

    def shortest_first_response(self) -> float | None:
        """Seconds: the least first-response target of any queue; None when no queue has one."""
        queues = [*self.ruleset.config.queues.values(), DEFAULT_QUEUE] if self.ruleset is not None else [DEFAULT_QUEUE]
        targets = [q.first_response for q in queues if q.first_response is not None]
        return min(targets) if targets else None

    def is_open(self, team: str | None, now: datetime) -> bool:
        hours = self.ruleset.queue_hours(team) if self.ruleset is not None else None
        return hours is None or hours.is_open(now)

    def open_seconds(self, team: str | None, since: datetime, until: datetime) -> float:
        """Seconds the queue of ``team`` was open between the two (all of them without hours)."""
        hours = self.ruleset.queue_hours(team) if self.ruleset is not None else None
        return hours.open_seconds(since, until) if hours is not None else (until - since).total_seconds()


def current_step(policy: QueuePolicy, age: float) -> Step | None:
    """The last step whose ``after`` the conversation's age has reached."""
    reached = [step for step in policy.steps if policy.step_after(step) <= age]
    return reached[-1] if reached else None


@dataclass
class Candidate:
    agent: Agent
    config: AgentConfig
    idle_since: datetime
    load: dict[str, int] = field(default_factory=dict)

    def free(self, kind: str) -> bool:
        return has_room(self.load.get(kind, 0), self.config.capacity.get(kind, 0))

    def fits(self, conversation: ConversationView, step: Step) -> bool:
        if step.agents == "last_agent" and self.agent.id != conversation.preferred_agent_id:
            return False
        team = step.team_for(conversation.team)
        if step.agents == "team" and team is not None and team not in self.config.teams:
            return False
        skills = self.config.skills
        if isinstance(step.skills, dict):  # the step's own skills instead of the conversation's
            return all(skills.get(name, 0) >= level for name, level in step.skills.items())
        if step.skills == "ignore":
            return True
        if step.skills == "relaxed":
            return all(skills.get(name, 0) >= 1 for name in conversation.skills)
        return all(skills.get(name, 0) >= level for name, level in conversation.skills.items())


def choose(conversation: ConversationView, candidates: list[Candidate], step: Step | None = None,
           lapsed: Collection[str] = ()) -> Candidate | None:
    """Within the escalation ``step``: the customer's last agent if eligible,
    else the longest idle eligible one. Agents who let an offer of this
    conversation lapse (``lapsed``) come last: again only when nobody else has room."""
    if step is None:
        return None
    kind = conversation.channel_kind
    eligible = [c for c in candidates if c.free(kind) and c.fits(conversation, step)]
    eligible = [c for c in eligible if c.agent.id not in lapsed] or eligible
    if not eligible:
        return None
    preferred = next((c for c in eligible if c.agent.id == conversation.preferred_agent_id), None)
    return preferred or min(eligible, key=lambda c: (c.idle_since, c.agent.username))


@dataclass(frozen=True, slots=True)
class SlaBreach:
    conversation: ConversationView
    target: float  # seconds to a first agent answer
    waited: float


def _by_team(pool: list[Candidate]) -> dict[str, list[Candidate]]:
    teams: dict[str, list[Candidate]] = {}
    for candidate in pool:
        for team in candidate.config.teams:
            teams.setdefault(team, []).append(candidate)
    return teams


class AssignerStore(AssignmentStore, AccountStore, AgentAdminStore, ConversationStore, Protocol):
    """What the assigner uses of a store: routing's own part, the agents'
    accounts (teams.yaml names them by username) and the routing profiles
    admins set in the console, and the conversations (a transfer reads and
    reroutes one)."""


# how long an agent is offline before the conversations whose customers wait for them go back to
# the queue (a page reloaded, a laptop's lid closed for a minute, keeps them), and how often it is looked at
OFFLINE_RETURN = timedelta(minutes=2)
OFFLINE_CHECK = timedelta(seconds=5)


class Assigner:
    def __init__(
        self,
        store: AssignerStore,
        bus: EventBus,
        policy: Policy | Callable[[], Policy],
        clock: Callable[[], datetime] = utcnow,
        *,
        batch: int = 1000,
        offer_timeout: timedelta | None = timedelta(minutes=2),
        offline_return: timedelta | None = OFFLINE_RETURN,
        absent_after: timedelta | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        # a getter, so that a reloaded rules file applies to the next round
        self._policy = policy if callable(policy) else (lambda: policy)
        self.clock = clock
        self.batch = batch
        self.offer_timeout = offer_timeout
        self.offline_return = offline_return
        # an agent at no console this long (closed without a logout) goes offline; None: never
        # (console.absent_minutes; None here for stores without consoles, a test's desk)
        self.absent_after = absent_after
        self._offline_checked: datetime | None = None
        self.wakeup = asyncio.Event()
        # breaches seen since this node leads (forgotten once answered): the store is asked of new ones only
        self._breached: set[str] = set()
        # conversation → agents who let an offer of it lapse: offered to others first.
        # In memory (a restart forgets, which only costs one more lapse), the
        # most recently lapsed conversations kept
        self._lapsed: OrderedDict[str, set[str]] = OrderedDict()

    # -- the task ----------------------------------------------------------------
    async def run(self, idle_check: float = 5.0) -> None:
        """Assign whenever woken; every ``idle_check`` seconds anyway, so offers
        not opened in time go back to the queue."""
        listener = asyncio.create_task(self._listen(), name="assigner-events")
        try:
            while True:
                await wait_event(self.wakeup, idle_check)
                self.wakeup.clear()
                try:
                    await self.assign_round()
                except ConflictError:
                    log.debug("assignment round lost a race; the next one retries")
                except StoreUnavailable:  # an outage the store logs once; the next round retries
                    log.debug("assignment round: the store is unavailable; retrying in %.0f s", idle_check)
                except Exception as exc:
                    # the last resort, kept on purpose: the assigner is one task
                    # for the whole service and must outlive a bad round (a write
                    # the store refused, a bug): said loudly, with its frames but
                    # not its words (a rule's error may quote a customer's
                    # attributes), and tried again on the next wake-up.
                    # asyncio.CancelledError is no Exception: it passes
                    log.error("assignment round failed; retrying on the next event or in %.0f s\n%s", idle_check,
                              textless_traceback(exc))
        finally:
            await cancel_and_wait(listener)

    async def _listen(self) -> None:
        async with self.bus.subscribe(WAKING_EVENTS) as events:
            async for event in events:
                if event.type in WAKING_EVENTS:
                    self.wakeup.set()

    # -- one round -------------------------------------------------------------
    @property
    def policy(self) -> Policy:
        return self._policy()

    @property
    def teams(self) -> TeamsFile:
        return self.policy.teams

    async def agent_configs(self, accounts: list[Agent] | None = None) -> list[AgentConfig]:
        """Every active agent's teams, skills and capacity: teams.yaml's entries,
        and an admin's console profile in place of an agent's entry (router.agents.profiles)."""
        accounts = await self.store.list_agents() if accounts is None else accounts
        return effective_agents(self.teams, accounts, await self.store.agent_profiles())

    async def answerers(self, team: str | None) -> set[str] | None:
        """The ids of the active agents offered ``team``'s new conversations (its
        queue's first step: the team's own, or the one that step names); None when
        that step offers them to any agent, or there is no team."""
        step = current_step(self.policy.queue(team), 0.0) if team is not None else None
        if step is None or step.agents != "team":
            return None
        target = step.team_for(team)
        listed = await self.store.list_agents()
        accounts = {a.username.lower(): a.id for a in listed if a.active}
        return {accounts[c.username.lower()] for c in await self.agent_configs(listed)
                if target in c.teams and c.username.lower() in accounts}

    async def candidates(self) -> list[Candidate]:
        """Online active agents of teams.yaml or the console's profiles, linked to console accounts by username."""
        listed = await self.store.list_agents()
        accounts = {a.username.lower(): a for a in listed if a.active}
        presence = {p.agent_id: p for p in await self.store.list_presence()}
        online = {p.agent_id for p in presence.values() if p.presence is Presence.ONLINE}
        if not any(a.id in online for a in accounts.values()):
            return []  # nobody online: a round (one per new conversation) reads no profiles nor loads
        loads = await self.store.agent_loads()
        found: list[Candidate] = []
        for config in await self.agent_configs(listed):
            agent = accounts.get(config.username.lower())
            state = presence.get(agent.id) if agent is not None else None
            if agent is None or state is None or state.presence is not Presence.ONLINE:
                continue
            found.append(Candidate(agent, config, state.idle_since, dict(loads.get(agent.id, {}))))
        return found

    async def assign_round(self) -> list[ConversationView]:
        """Offer every queued conversation that has an eligible agent; the
        offers go to the store together (one transaction, each checked)."""
        now = self.clock()
        await self._expire_offers(now)
        await self._return_from_offline(now)
        await self._announce_breaches(now)
        pool, policy = await self.candidates(), self.policy
        if not any(c.free(kind) for c in pool for kind in c.config.capacity):
            # nobody can take one: the queue is not read (a round runs on every
            # new conversation, and a thousand queued ones cost ~20 ms to load)
            return []
        queued = await self.store.queued_conversations(self.batch)
        if not queued:
            return []
        by_team = _by_team(pool)
        planned: list[tuple[ConversationView, Candidate]] = []
        for conversation in queued:
            if not policy.is_open(conversation.team, now):
                continue  # after hours: it waits for the next opening
            # a conversation its customer reopened walks the queue's steps again from then (router.ingest.reopen)
            age = (now - (conversation.reopened_at or conversation.created_at)).total_seconds()
            step = current_step(policy.queue(conversation.team), age)
            # only the team's own agents (the queue's, or the one the step escalates to) are
            # looked at, unless the step opens it to anyone
            team = step.team_for(conversation.team) if step is not None and step.agents == "team" else None
            lapsed = self._lapsed.get(conversation.id, ())
            chosen = choose(conversation, by_team.get(team, []) if team is not None else pool, step, lapsed)
            if chosen is None:
                continue
            chosen.load[conversation.channel_kind] = chosen.load.get(conversation.channel_kind, 0) + 1
            chosen.idle_since = now
            planned.append((conversation, chosen))
        # online: checked again under the agent's lock (gone offline since the candidates were read: none)
        offers = [self.store.offer(c.id, who.agent.id, who.config.capacity.get(c.channel_kind, 0), now, online=True)
                  for c, who in planned]
        results = await asyncio.gather(*offers, return_exceptions=True)
        return self._announce(results)

    def _announce(self, results: list[ConversationView | BaseException]) -> list[ConversationView]:
        assigned: list[ConversationView] = []
        for result in results:
            if isinstance(result, ConflictError):
                continue  # taken by hand meanwhile, or the agent filled up: next round
            if isinstance(result, BaseException):
                raise result
            assigned.append(result)
            self.bus.publish(events.conversation_assigned(result))
        if assigned:
            log.info("assigned %d conversation(s)", len(assigned))
        return assigned

    async def _return_from_offline(self, now: datetime) -> None:
        """A customer writing to an agent who went offline (logged out at the end of a shift, a
        supervisor set them offline) waited for them with nobody told: back to the team's queue
        once the agent has been offline ``offline_return``, that agent preferred when back."""
        if self.offline_return is None:
            return
        if self._offline_checked is not None and now - self._offline_checked < OFFLINE_CHECK:
            return  # a statement every few seconds, not on every round (a round runs per new conversation)
        self._offline_checked = now
        await self._mark_absent(now)
        seen_before = now - self.absent_after if self.absent_after is not None else None
        returned = await self.store.return_from_offline(now - self.offline_return, now, seen_before)
        names = {a.id: a.username for a in await self.store.list_agents()} if returned else {}
        for back in returned:
            log.info("conversation %s back to the queue: its customer wrote and agent %s is offline",
                     back.conversation.id, names.get(back.agent_id, back.agent_id))
            self.bus.publish(events.conversation_updated(back.conversation))

    async def _mark_absent(self, now: datetime) -> None:
        """An agent who closed the console (the browser, the laptop's lid) without logging out
        was online until the session expired, 12 hours later: offered conversations, counted on
        the wallboard, and their customers waited. At no console for ``absent_after``, they go
        offline as a logout makes them, offers not yet opened back to the queue."""
        if self.absent_after is None:
            return
        gone = await self.store.mark_absent(now - self.absent_after, now)
        names = {a.id: a.username for a in await self.store.list_agents()} if gone else {}
        for state in gone:
            log.info("agent %s is offline: no console of theirs open for %g min",
                     names.get(state.agent_id, state.agent_id), self.absent_after.total_seconds() / 60)
            for offer in await self.store.release_offers(state.agent_id, now):
                self.bus.publish(events.conversation_updated(offer.conversation))
            self.bus.publish(events.agent_presence(state))

    async def _expire_offers(self, now: datetime) -> None:
        if self.offer_timeout is None:
            return
        released = await self.store.release_offers(None, now, now - self.offer_timeout)
        names = {a.id: a.username for a in await self.store.list_agents()} if released else {}
        for offer in released:
            view = offer.conversation
            log.info("conversation %s back to the queue: offer to %s not opened in time", view.id,
                     names.get(offer.agent_id, offer.agent_id))
            self._remember_lapse(view.id, offer.agent_id)
            self.bus.publish(events.conversation_updated(view))

    def _remember_lapse(self, conversation_id: str, agent_id: str) -> None:
        self._lapsed.setdefault(conversation_id, set()).add(agent_id)
        self._lapsed.move_to_end(conversation_id)
        while len(self._lapsed) > LAPSES_KEPT:
            self._lapsed.popitem(last=False)

    async def sla_breaches(self, now: datetime | None = None) -> list[SlaBreach]:
        """Unanswered conversations past their queue's first-response target."""
        now, policy = now or self.clock(), self.policy
        shortest = policy.shortest_first_response()
        if shortest is None:
            return []
        found: list[SlaBreach] = []
        # only those old enough to have missed the shortest target
        for conversation in await self.store.awaiting_first_response(self.batch, now - timedelta(seconds=shortest)):
            target = policy.queue(conversation.team).first_response
            # from a reopen, and only while the queue was open: a night's conversations are not all late at 09:00
            waited = policy.open_seconds(conversation.team, conversation.reopened_at or conversation.created_at, now)
            if target is not None and waited > target:
                found.append(SlaBreach(conversation, target, waited))
        return found

    async def _announce_breaches(self, now: datetime) -> None:
        breaches = await self.sla_breaches(now)
        unseen = [b for b in breaches if b.conversation.id not in self._breached]
        # marked in the store: a node that starts leading (or starts again) knows what was announced
        first = set(await self.store.announce_breaches([b.conversation.id for b in unseen], now))
        for breach in unseen:
            conversation = breach.conversation
            if conversation.id not in first:
                continue
            log.warning("conversation %s (team %s) missed its first-response target of %.0f s",
                        conversation.id, conversation.team, breach.target)
            self.bus.publish(events.conversation_sla_breached(conversation, breach.target))
        self._breached = {b.conversation.id for b in breaches}

    # -- agents' actions ------------------------------------------------------------
    async def set_presence(self, agent: Agent, presence: Presence) -> AgentPresence:
        """Switch presence; going offline gives back the offers not yet opened."""
        now = self.clock()
        state = await self.store.set_presence(agent.id, presence, now)
        if presence is Presence.OFFLINE:
            for offer in await self.store.release_offers(agent.id, now):
                view = offer.conversation
                self.bus.publish(events.conversation_updated(view))
        self.bus.publish(events.agent_presence(state))
        log.info("agent %s is %s", agent.username, presence.value)
        return state

    async def transfer_to_team(self, conversation_id: str, team: str, actor: Agent) -> ConversationView:
        """Back to the queue of ``team`` (same priority, the team's agents only)."""
        if team not in self.teams.teams:
            raise TransferRefused(f"unknown team {team!r}")
        current = await self.store.get_conversation(conversation_id)
        route = RouteDecision(
            status=ConversationStatus.QUEUED, team=team, priority=current.priority, skills={},
            reason=f"transferred to team {team} by {actor.username}",
        )
        view = await self.store.reroute_conversation(conversation_id, route, self.clock(), expected=set(OPEN))
        self.bus.publish(events.conversation_updated(view))
        return view

    async def _config_of(self, agent: Agent) -> AgentConfig | None:
        return next((a for a in await self.agent_configs() if a.username.lower() == agent.username.lower()), None)

    async def capacity_of(self, agent: Agent) -> dict[str, int] | None:
        """The agent's capacity per channel kind, as offers hold them to it
        (teams.yaml's entry or their console profile, every kind named), for
        the conversations they get by hand (``router.conversations.service``);
        None for an account neither names: routing offers them nothing, and
        they have no capacity to keep."""
        config = await self._config_of(agent)
        return None if config is None else dict(config.capacity)

    async def transfer_to_agent(self, conversation_id: str, agent: Agent) -> ConversationView:
        """Offer to one agent, within their capacity (checked in the store)."""
        if not agent.active:
            raise TransferRefused(f"agent {agent.username!r} is deactivated")
        config = await self._config_of(agent)
        if config is None:
            raise TransferRefused(f"agent {agent.username!r} is in no team (teams.yaml or the console)")
        current = await self.store.get_conversation(conversation_id)
        capacity = config.capacity.get(current.channel_kind, 0)
        # a full agent or a conversation taken meanwhile: ConflictError from the store
        view = await self.store.offer(conversation_id, agent.id, capacity, self.clock(), expected=OPEN)
        self.bus.publish(events.conversation_assigned(view))
        return view
