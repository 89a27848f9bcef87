"""Asking for a rating after a resolve, and reading the answers.

Asked: when an agent resolves a conversation whose team asks (csat.yaml)
and in which an agent replied to the customer since it (re)opened (the
survey rates the agents' help: a conversation left unanswered, or only the
bot's, has nobody to rate; ``SurveyStore.agent_answered``),
in the customer's language, on the channel they last wrote from, through
the outbox like every reply; with buttons where the connector has them
(``Connector.rates_with_buttons``: the site chat, Telegram), else with
"reply with a number from 1 to 5". Never where the channel's reply window
has closed (WhatsApp's 24 hours), nor after hours when the team says so.
At most once per conversation: the store's unique key decides
(``SurveyStore.claim_survey``), whatever node or restart resolves it again.

Answered (``on_inbound``, from the ingest pipeline before routing):
- a button's answer (``InboundMessage.rating``) rates its survey, whatever
  the customer is doing meanwhile: it is theirs, never a question, and
  never filed into a newer conversation (no comment is asked for then); a
  stale or forged one is dropped before it is stored (``press_counts``);
- while the customer has no open conversation and their latest survey
  awaits a rating (within ``answer_window``): a typed number 1-5 rates it;
  one outside 1-5 is asked again, once; anything else is an ordinary
  message (routed as the rules say: it may open a conversation), and the
  survey stops reading typed answers, so the digits of a later question
  ("order 3") are never taken for a rating;
- after the rating, within ``comment_window``, the next message is its
  comment (when a comment prompt is configured) if it is short plain words
  (``answers.is_comment``); anything else is routed and ends the survey.
Each answer joins the survey's resolved conversation, which stays resolved,
and is answered (the comment prompt, thanks, or the re-ask); the rating and
the comment are pushed to the console (``csat.rated``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from router import events
from router.bus import EventBus
from router.conversations.outbound import Outgoing, send
from router.conversations.store import ConversationStore, MessageStore, OutboundStore
from router.csat.answers import is_comment, typed_score
from router.csat.config import CsatConfig
from router.csat.store import SurveyStore
from router.csat.types import MAX_COMMENT_LENGTH, Survey
from router.identity.store import CustomerStore
from router.language import answer_language, needs_history
from router.models import (
    ConversationStatus,
    ConversationView,
    CoreMeta,
    Customer,
    InboundMessage,
    Message,
    RatingRequest,
    new_id,
)
from router.store.errors import StoreError
from router.texts import localized

log = logging.getLogger(__name__)

QUESTION = "csat"  # core.automatic of the question
ANSWER = "csat_answer"  # core.automatic of what the service says to an answer


class SurveysStore(SurveyStore, ConversationStore, MessageStore, OutboundStore, CustomerStore, Protocol):
    """What surveys need of the store: their own rows, the conversation and
    its messages, the outbound path, the customer (their language)."""


@dataclass(frozen=True)
class Answered:
    """A message taken as an answer to a survey: it is in ``conversation``."""

    conversation: ConversationView


class Surveys:
    def __init__(self, store: SurveysStore, bus: EventBus, clock: Callable[[], datetime], wakeup: asyncio.Event,
                 config: CsatConfig, queue_open: Callable[[str | None, datetime], bool],
                 window_open: Callable[[Message], bool]) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.wakeup = wakeup
        self.config = config
        self.queue_open = queue_open
        self.window_open = window_open
        # connectors (by name) that show the rating as buttons; set by the app from its connectors
        self.button_channels: Collection[str] = frozenset()

    # -- asking -----------------------------------------------------------------------
    async def after_resolve(self, view: ConversationView, agent_id: str) -> None:
        """``on_resolved`` for the agents' resolve, which has happened whatever
        befalls the survey: a store that fails now leaves it unasked (logged),
        never the resolve refused."""
        try:
            await self.on_resolved(view, agent_id)
        except StoreError as exc:
            log.warning("conversation %s: the rating question was not asked: %s", view.id, exc)

    async def on_resolved(self, view: ConversationView, agent_id: str) -> Survey | None:
        """Ask the customer of ``view``, just resolved by ``agent_id``, when
        everything says so; the survey, or None when not asked."""
        policy = self.config.policy(view.team)
        now = self.clock()
        if not policy.enabled or (not policy.after_hours and not self.queue_open(view.team, now)):
            return None
        if not await self.store.agent_answered(view.id):
            # nobody to rate: left unanswered, or only the bot (or automatic messages) wrote to the customer
            log.info("conversation %s: not asked for a rating, no agent answered in it", view.id)
            return None
        last = await self.store.last_inbound(view.id)
        if last is None or last.sender is None or not self.window_open(last):
            return None
        customer = await self.store.get_customer(view.customer_id)
        earlier = await self.store.list_messages(view.id, 30) if needs_history(last, customer) else []
        # "👍" after «Хочу вернуть товар» and the agent's Russian answer: a Russian survey
        language = answer_language(last, customer, reversed(earlier))
        survey = Survey(id=new_id("csat"), conversation_id=view.id, customer_id=view.customer_id,
                        agent_id=view.agent_id or agent_id, team=view.team, channel=last.channel,
                        language=language, asked_at=now)
        if not await self.store.claim_survey(survey):
            log.info("conversation %s was asked for a rating already", view.id)
            return None
        if await self._has_open(view.customer_id):
            # the customer wrote again since the resolve, and is in a new conversation: not interrupted
            await self.store.close_survey(survey.id, now)
            return None
        text = localized(policy.question, language)
        payload: dict[str, RatingRequest] = {}
        if last.channel in self.button_channels:
            labels = self.config.labels.get(language) or next(iter(self.config.labels.values()))
            payload["rating"] = RatingRequest(survey_id=survey.id, labels=list(labels))
        else:
            text = f"{text}\n{localized(self.config.number_hint, language)}"
        out = Outgoing.automatic(last, view, text, CoreMeta(automatic=QUESTION), **payload)
        message, _ = await send(self.store, self.bus, self.wakeup, out, now)
        await self.store.survey_asked(survey.id, message.id)
        log.info("conversation %s: the customer is asked for a rating on %s", view.id, last.channel)
        return survey.model_copy(update={"question_message_id": message.id})

    # -- answers ------------------------------------------------------------------------
    async def on_inbound(self, stored: Message, customer: Customer, open_view: ConversationView | None
                         ) -> Answered | None:
        """Take ``stored`` as an answer to a survey, or None: it is an ordinary message."""
        if stored.core.rating is not None:
            return await self._button(stored, customer, open_view)
        if not self.config.asks_anyone or open_view is not None or stored.conversation_id is not None:
            return None  # surveys off: no read on any message
        survey = await self.store.awaiting_survey(customer.id)
        if survey is None:
            return None
        now = self.clock()
        if survey.rating is None and now - survey.asked_at <= timedelta(seconds=self.config.answer_window):
            return await self._typed(survey, stored, now)
        if (survey.rating is not None and survey.answered_at is not None
                and now - survey.answered_at <= timedelta(seconds=self.config.comment_window)
                and self.config.policy(survey.team).comment_prompt is not None
                and is_comment(stored.text, bool(stored.attachments))):
            return await self._comment(survey, stored, now)
        # its time is over, or the customer moved on (a question, a file): later messages are not read
        # against it again
        await self.store.close_survey(survey.id, now)
        return None

    async def on_unrouted(self, stored: Message, customer: Customer) -> Answered | None:
        """``on_inbound`` for a message stored but not routed before a restart
        (``Ingest.resume``), which has no open conversation at hand."""
        open_views = [c for c in await self.store.customer_conversations(customer.id)
                      if c.status is not ConversationStatus.RESOLVED]
        return await self.on_inbound(stored, customer, open_views[0] if open_views else None)

    async def press_counts(self, message: InboundMessage) -> bool:
        """Is ``message``, a rating button pressed, one of its sender's surveys?
        A stale or forged press (unknown survey, another customer's) is not
        stored nor routed: the caller acknowledges it and drops it."""
        assert message.rating is not None and message.sender is not None
        survey = await self.store.get_survey(message.rating.survey_id)
        customer = await self.store.find_identity(message.sender)
        if survey is None or customer is None or survey.customer_id != customer.id:
            log.info("a rating button for survey %s that is not this customer's: dropped", message.rating.survey_id)
            return False
        return True

    async def _button(self, stored: Message, customer: Customer, open_view: ConversationView | None
                      ) -> Answered | None:
        """A press belongs to its survey whatever is open: recorded (if unrated), kept in the
        survey's conversation, answered; the comment is asked for only while nothing else is
        going on (no newer conversation open, the survey not over)."""
        answer = stored.core.rating
        assert answer is not None
        survey = await self.store.get_survey(answer.survey_id)
        if survey is None or survey.customer_id != customer.id:
            log.info("a rating button for survey %s that is not this customer's", answer.survey_id)
            return None
        now = self.clock()
        rated = await self.store.rate_survey(survey.id, answer.score, stored.id, now)
        if rated is not None and (open_view is not None or survey.closed_at is not None):
            log.info("conversation %s rated %d", rated.conversation_id, rated.rating)
            self.bus.publish(events.csat_rated(rated))
            await self.store.close_survey(survey.id, now)  # no comment read: the next message is the new topic's
            return await self._say(rated, stored, localized(self.config.thanks, rated.language))
        return await self._rated(survey, rated, stored)

    async def _typed(self, survey: Survey, stored: Message, now: datetime) -> Answered | None:
        score = typed_score(stored.text) if not stored.attachments else None
        if score is None:
            await self.store.close_survey(survey.id, now)  # the customer moved on: an ordinary message
            return None
        if 1 <= score <= 5:
            return await self._rated(survey, await self.store.rate_survey(survey.id, score, stored.id, now), stored)
        if await self.store.reask_survey(survey.id, stored.id) is None:
            await self.store.close_survey(survey.id, now)  # asked again already: now it is a message
            return None
        return await self._say(survey, stored, localized(self.config.reask, survey.language))

    async def _rated(self, survey: Survey, rated: Survey | None, stored: Message) -> Answered:
        if rated is None:  # rated already (a second press): kept beside the first, answered, nothing asked
            return await self._say(survey, stored, localized(self.config.already, survey.language))
        log.info("conversation %s rated %d", rated.conversation_id, rated.rating)
        self.bus.publish(events.csat_rated(rated))
        prompt = self.config.policy(rated.team).comment_prompt
        text = localized(prompt if prompt is not None else self.config.thanks, rated.language)
        return await self._say(rated, stored, text)

    async def _comment(self, survey: Survey, stored: Message, now: datetime) -> Answered | None:
        words = stored.text.strip()
        commented = await self.store.comment_survey(survey.id, words[:MAX_COMMENT_LENGTH], stored.id, now)
        if commented is None:
            return None
        self.bus.publish(events.csat_rated(commented))
        return await self._say(commented, stored, localized(self.config.thanks, commented.language))

    async def _say(self, survey: Survey, stored: Message, text: str) -> Answered:
        """Show the answer in the survey's conversation and answer it there."""
        message = await self.store.get_message(stored.id)
        view = await self.store.get_conversation(message.conversation_id or survey.conversation_id)
        self.bus.publish(events.message_created(message, view))
        out = Outgoing.automatic(message, view, text, CoreMeta(automatic=ANSWER))
        _, view = await send(self.store, self.bus, self.wakeup, out, self.clock())
        return Answered(view)


    async def _has_open(self, customer_id: str) -> bool:
        views = await self.store.customer_conversations(customer_id)
        return any(c.status is not ConversationStatus.RESOLVED for c in views)
