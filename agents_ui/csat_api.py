"""Satisfaction ratings in the console API: a conversation's (its header),
a customer's (their panel), and every survey of a period (reports, the
supervisors' issue). Live: the ``csat.rated`` event."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Protocol

from aiohttp import web
from pydantic import BaseModel, Field, model_validator

from agents_ui.endpoints import ApiError, endpoint
from agents_ui.instants import Instant, a_period
from agents_ui.schemas import Query
from router.agents.service import Permission
from router.appkeys import STORE
from router.conversations.store import ConversationStore
from router.csat.store import SurveyStore
from router.csat.types import Survey
from router.identity.store import CustomerStore

MAX_PERIOD = timedelta(days=366)


class _Store(SurveyStore, ConversationStore, CustomerStore, Protocol):
    """Of the store, the surveys and what they are checked against."""


def _store(app: web.Application) -> _Store:
    return app[STORE]


class SurveyOut(BaseModel):
    survey: Survey | None = Field(description="null: the customer was not asked")


class SurveysOut(BaseModel):
    surveys: list[Survey]


class SurveysQuery(Query):
    since: Instant = Field(description="asked at or after (ISO 8601 with a zone)")
    until: Instant = Field(description="asked before")
    after: str | None = Field(None, max_length=64, description="the last id of the previous page")
    limit: int = Field(1000, ge=1, le=5000)

    @model_validator(mode="after")
    def _a_period(self) -> SurveysQuery:
        a_period(self.since, self.until)
        return self


@endpoint("GET", "/api/conversations/{id}/survey", "The conversation's satisfaction survey: rating and comment",
          response=SurveyOut)
async def conversation_survey(request: web.Request, _: None) -> SurveyOut:
    store = _store(request.app)
    conversation = await store.get_conversation(request.match_info["id"])  # NotFound: 404
    return SurveyOut(survey=await store.conversation_survey(conversation.id))


@endpoint("GET", "/api/customers/{id}/surveys", "A customer's ratings, newest first", response=SurveysOut)
async def customer_surveys(request: web.Request, _: None) -> SurveysOut:
    store = _store(request.app)
    customer = await store.get_customer(request.match_info["id"])  # NotFound: 404
    return SurveysOut(surveys=await store.customer_surveys(customer.id, 50))


@endpoint("GET", "/api/surveys", "Every survey asked in a period, oldest first (reports: supervisors, admins; "
          "paged by `after`)",
          query=SurveysQuery, response=SurveysOut, permission=Permission.SUPERVISE,
          errors=((422, "since/until missing, without a zone, or the wrong way round"),
                  (400, "a period longer than a year")))
async def surveys(request: web.Request, query: SurveysQuery) -> SurveysOut:
    if query.until - query.since > MAX_PERIOD:
        raise ApiError(400, "csat_period_too_long", "ask for at most 366 days at a time",
                       details={"days": MAX_PERIOD.days})
    found = await _store(request.app).list_surveys(query.since.astimezone(UTC), query.until.astimezone(UTC),
                                                   query.after, query.limit)
    return SurveysOut(surveys=found)


__all__ = ["SurveyOut", "SurveysOut", "conversation_survey", "customer_surveys", "surveys"]
