"""Console API of canned replies: the management screen's list and writes,
and, per conversation, the replies offered in the composer and one filled in
(``router.canned.service`` holds the rules; this turns them into HTTP)."""

from __future__ import annotations

from typing import Protocol

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from agents_ui.endpoints import ApiError, current_agent, endpoint
from router.agents.service import Permission, may
from router.appkeys import ASSIGNER, ROUTER, SETTINGS, STORE
from router.canned.service import CannedError, CannedReplies, Context, Draft, Teams, language_of_customer
from router.canned.store import CannedStore
from router.canned.types import Expanded, Listed, Offer, Scope
from router.conversations.store import ConversationStore, MessageStore
from router.identity.store import CustomerStore
from router.texts import Language


class CannedApiStore(CannedStore, ConversationStore, MessageStore, CustomerStore, Protocol):
    """The replies, and what filling one in reads: the conversation, its
    customer and their last message (the customer's language)."""


def _store(app: web.Application) -> CannedApiStore:
    return app[STORE]


def _service(app: web.Application) -> CannedReplies:
    return CannedReplies(_store(app), app[ROUTER].bot_intents)


async def _teams(app: web.Application) -> Teams:
    """The teams of teams.yaml as assignment reads it now (a reloaded rules file's at once),
    and the team conversations go to without rules (``routing.default_team``): an install
    without teams.yaml still has that one team to share replies in. Who is in which is
    what assignment uses too: teams.yaml's entries, an admin's console profile in place
    of an agent's entry (``Assigner.agent_configs``)."""
    assigner = app[ASSIGNER]
    names = dict.fromkeys([*assigner.teams.teams, app[SETTINGS].routing.default_team])
    return Teams(tuple(names), {a.username: tuple(a.teams) for a in await assigner.agent_configs()})


def _refused(exc: CannedError) -> ApiError:
    return ApiError(exc.status, exc.code, exc.message, details=exc.details)


_WRITE_ERRORS = (
    (400, "a shortcut, title or text the rules refuse (code names which: canned_bad_shortcut, canned_too_long, "
          "canned_empty, canned_unknown_team, canned_unknown_variable, canned_bad_template)"),
    (403, "a team reply, and you are no admin"),
    (409, "the shortcut is taken in this scope (canned_duplicate_shortcut)"),
)


class ReplyTexts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ru: str | None = Field(None, description="the text for Russian-speaking customers (at most 4000 characters)")
    en: str | None = Field(None, description="the text for English-speaking customers (at most 4000 characters)")


class ReplyFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shortcut: str = Field(description="typed after / to find it: 1-32 letters, digits, _ or -; unique per scope")
    title: str = Field(description="what the list shows (at most 100 characters)")
    texts: ReplyTexts = Field(description="one language or both; variables such as {customer.name}, "
                                          "{agent.name}, {customer.<attribute>}, {conversation.id}")

    def draft(self) -> Draft:
        return Draft(self.shortcut, self.title, {"ru": self.texts.ru, "en": self.texts.en})


class NewReplyBody(ReplyFields):
    scope: Scope = Field(Scope.PERSONAL, description="personal (yours), or team (admins)")
    team: str | None = Field(None, description="the team of a team reply, from teams.yaml")


class CannedList(BaseModel):
    replies: list[Listed]
    # the teams whose replies this agent may write (an admin: every team), and those they are in
    writable_teams: list[str]
    my_teams: list[str]


class ListedOut(BaseModel):
    reply: Listed


class OfferList(BaseModel):
    # the customer's language, when known (the one each reply's text was chosen in)
    language: Language | None
    replies: list[Offer]


@endpoint("GET", "/api/canned", "Your canned replies and your teams' (an admin: every team's), by shortcut",
          response=CannedList)
async def list_canned(request: web.Request, _: None) -> CannedList:
    agent, teams = current_agent(request), await _teams(request.app)
    return CannedList(replies=await _service(request.app).listed(agent, teams),
                      writable_teams=list(teams.names) if may(agent.role, Permission.MANAGE_TEAM_REPLIES) else [],
                      my_teams=list(teams.of(agent)))


async def _listed(request: web.Request, reply_id: str) -> ListedOut:
    found = await _service(request.app).listed(current_agent(request), await _teams(request.app))
    return ListedOut(reply=next(item for item in found if item.reply.id == reply_id))


@endpoint("POST", "/api/canned", "Save a new canned reply: your own, or (admins) a team's", body=NewReplyBody,
          response=ListedOut, status=201, errors=_WRITE_ERRORS)
async def create_canned(request: web.Request, body: NewReplyBody) -> ListedOut:
    try:
        reply = await _service(request.app).create(current_agent(request), body.scope, body.team, body.draft(),
                                                   await _teams(request.app), request.app[ROUTER].clock())
    except CannedError as exc:
        raise _refused(exc) from None
    return await _listed(request, reply.id)


@endpoint("PUT", "/api/canned/{id}", "Change a canned reply's shortcut, title and texts (a team's: admins)",
          body=ReplyFields, response=ListedOut, errors=_WRITE_ERRORS)
async def update_canned(request: web.Request, body: ReplyFields) -> ListedOut:
    try:
        reply = await _service(request.app).update(current_agent(request), request.match_info["id"], body.draft(),
                                                   request.app[ROUTER].clock())
    except CannedError as exc:
        raise _refused(exc) from None
    return await _listed(request, reply.id)


@endpoint("DELETE", "/api/canned/{id}", "Delete a canned reply (a team's: admins)", status=204,
          errors=((403, "a team reply, and you are no admin"),))
async def delete_canned(request: web.Request, _: None) -> None:
    try:
        await _service(request.app).delete(current_agent(request), request.match_info["id"])
    except CannedError as exc:
        raise _refused(exc) from None


async def _context(request: web.Request) -> Context:
    store = _store(request.app)
    conversation = await store.get_conversation(request.match_info["id"])
    customer = await store.get_customer(conversation.customer_id)
    language = language_of_customer(await store.last_inbound(conversation.id), customer)
    return Context(current_agent(request), conversation, customer, language, await _teams(request.app))


@endpoint("GET", "/api/conversations/{id}/canned", "The canned replies offered in this conversation: yours, your "
          "teams' and the conversation's team's, and the bot's answers, in the customer's language; each says "
          "which variables this customer has no value for", response=OfferList)
async def offered_canned(request: web.Request, _: None) -> OfferList:
    ctx = await _context(request)
    return OfferList(language=ctx.language, replies=await _service(request.app).offered(ctx))


@endpoint("GET", "/api/conversations/{id}/canned/{reply_id}", "A canned reply filled in for this conversation, "
          "for the reply box (nothing is sent)", response=Expanded,
          errors=((422, "the customer has no value for a variable it uses (canned_missing_value, with every "
                        "variable missing): nothing is filled in"),
                  (403, "another team's reply")))
async def expand_canned(request: web.Request, _: None) -> Expanded:
    ctx = await _context(request)
    try:
        return await _service(request.app).expand(ctx, request.match_info["reply_id"])
    except CannedError as exc:
        raise _refused(exc) from None
