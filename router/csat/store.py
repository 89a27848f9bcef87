"""What satisfaction surveys need from a store, and no more. ``Store``
inherits it; the reports of the supervisors' issue read ``list_surveys``.

Every method is one atomic step. The once-ness of a survey is the schema's:
one row per conversation (a unique key), claimed by an INSERT that does
nothing when the row exists, so a resolve delivered twice, a restart or two
nodes ask once. Each answer is a conditional UPDATE (not rated yet, no
comment yet, not re-asked yet), so two deliveries of one answer record it
once; the customer's message that answered is put in the survey's
conversation in the same transaction (it stays resolved), so it is neither
routed nor listed by ``unrouted_messages`` after a restart."""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from typing import Protocol

from router.csat.types import Survey


class SurveyStore(Protocol):
    @abstractmethod
    async def claim_survey(self, survey: Survey) -> bool:
        """Record that ``survey.conversation_id`` is asked; False (nothing
        written) when it was asked already, by anyone.

        Single statement: ``INSERT ... ON CONFLICT (conversation_id) DO NOTHING``."""

    @abstractmethod
    async def agent_answered(self, conversation_id: str) -> bool:
        """Has an agent replied to the customer in the conversation's current
        cycle (since its reopening, if it was reopened): an outbound message
        of an agent, not the bot's nor an automatic one, not a private note?
        False for an unknown conversation. What the survey asks about."""

    @abstractmethod
    async def survey_asked(self, survey_id: str, message_id: str) -> None:
        """The question's stored message (once it is in the outbox).

        Single statement: an UPDATE of the survey's row."""

    @abstractmethod
    async def get_survey(self, survey_id: str) -> Survey | None: ...

    @abstractmethod
    async def conversation_survey(self, conversation_id: str) -> Survey | None: ...

    @abstractmethod
    async def awaiting_survey(self, customer_id: str) -> Survey | None:
        """The customer's latest survey still open to typed answers (not
        closed, and not both rated and commented); None when there is none."""

    @abstractmethod
    async def rate_survey(self, survey_id: str, rating: int, message_id: str, now: datetime) -> Survey | None:
        """Record the rating unless it is rated already (then None, nothing
        changes but the message's place). Either way the message joins the
        survey's conversation as its customer's, even out of a newer open
        conversation it was filed into as it was stored (a button's press
        belongs to its survey).

        Lock: the survey's row, by the conditional UPDATE (a second answer
        waits for it and then finds it rated), then the message's row by the
        UPDATE that places it, both to the commit."""

    @abstractmethod
    async def comment_survey(self, survey_id: str, comment: str, message_id: str, now: datetime) -> Survey | None:
        """Record the comment of a rated survey that has none yet (else None,
        and the message is left where it is: an ordinary message).

        Lock: as ``rate_survey``."""

    @abstractmethod
    async def reask_survey(self, survey_id: str, message_id: str) -> Survey | None:
        """Mark the survey re-asked (a rating out of 1-5) unless it was
        already (then None, and the message is left where it is): a bad
        answer is re-asked at most once.

        Lock: as ``rate_survey``."""

    @abstractmethod
    async def close_survey(self, survey_id: str, now: datetime) -> None:
        """Typed answers are no longer read as answers (no-op when closed).

        Single statement: a conditional UPDATE of the survey's row."""

    @abstractmethod
    async def customer_surveys(self, customer_id: str, limit: int) -> list[Survey]:
        """The customer's surveys, newest first."""

    @abstractmethod
    async def list_surveys(self, since: datetime, until: datetime, after_id: str | None, limit: int
                           ) -> list[Survey]:
        """Surveys asked in ``[since, until)``, oldest first, paged after ``after_id`` (reports)."""
