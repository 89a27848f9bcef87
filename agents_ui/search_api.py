"""Console API of search and views: full-text search over messages,
customers and conversations with filters and cursor pages, the labels of
conversations, and snoozing a conversation until a time (router/search/).

Every refusal has a code of its own (the console's catalogue key,
``errors.<code>``) and the details its text needs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Protocol

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field

from agents_ui.endpoints import ApiError, endpoint
from agents_ui.schemas import Body, ConversationOut, Query
from router.appkeys import ROUTER, STORE
from router.conversations.store import ConversationStore
from router.models import ConversationView
from router.search.service import (
    MAX_LABEL,
    MAX_LABELS,
    MAX_LIMIT,
    MAX_QUERY,
    Filters,
    Kind,
    SearchError,
    label_name,
    make_search,
    statuses_of,
    write_cursor,
)
from router.search.store import CustomerHit, Label, MessageHit, SearchStore
from router.store.errors import ConflictError


class SearchApiStore(SearchStore, ConversationStore, Protocol):
    """What these handlers read of the store themselves (labels and snoozes
    are written through ``router.search.actions``): the search, a conversation."""


def _store(app: web.Application) -> SearchApiStore:
    return app[STORE]


def _refused(exc: SearchError) -> ApiError:
    return ApiError(400, exc.code, str(exc), details=dict(exc.details))


class SearchQuery(Query):
    q: str = Field("", description=f"the words to find (at most {MAX_QUERY} characters); every one must be there, "
                                   "in any of its word forms; empty lists conversations by the filters alone")
    kind: Literal["messages", "conversations", "customers"] = Field(
        "messages", description="messages (their text), conversations (their customer's name and identities, "
                                "or the filters alone), customers")
    status: str | None = Field(None, description="open, bot, queued, assigned or resolved")
    team: str | None = None
    channel: str | None = Field(None, description="the connector's name")
    label: str | None = None
    assignee: str | None = Field(None, description="an agent's id; 'none' for nobody's")
    since: AwareDatetime | None = Field(None, description="from this time on (a message's time, a "
                                        "conversation's start), with its timezone")
    until: AwareDatetime | None = Field(None, description="before this time")
    snoozed: bool | None = Field(None, description="true: only snoozed conversations; false: none")
    cursor: str | None = Field(None, description="the previous page's `next`")
    limit: int = Field(20, description=f"results a page holds, 1 to {MAX_LIMIT}")


class SearchOut(BaseModel):
    kind: Kind
    messages: list[MessageHit] = Field(default_factory=list)
    conversations: list[ConversationView] = Field(default_factory=list)
    customers: list[CustomerHit] = Field(default_factory=list)
    # the cursor of the next page; None when this one was the last
    next: str | None = None


class LabelList(BaseModel):
    labels: list[Label]


class LabelBody(Body):
    name: Annotated[str, Field(max_length=4 * MAX_LABEL, description=f"1 to {MAX_LABEL} characters")]


class SnoozeBody(Body):
    until: datetime = Field(description="when the conversation comes back, with its timezone")


async def _filters(store: SearchApiStore, query: SearchQuery) -> Filters:
    label = None
    if query.label is not None:
        try:
            label = label_name(query.label)
        except SearchError as exc:
            raise _refused(exc) from None
        if not await store.labels_exist([label]):
            raise ApiError(400, "unknown_label", f"there is no label {label!r}", details={"label": label})
    assignee = None if query.assignee is None else ("" if query.assignee == "none" else query.assignee)
    try:
        statuses = statuses_of(query.status)
    except SearchError as exc:
        raise _refused(exc) from None
    return Filters(statuses=statuses, team=query.team or None, channel=query.channel or None, label=label,
                   assignee=assignee, since=query.since, until=query.until, snoozed=query.snoozed)


@endpoint("GET", "/api/search", "Search messages, conversations or customers, in Russian and English with word "
          "forms, narrowed by filters; newest first, a page at a time", query=SearchQuery, response=SearchOut,
          errors=((400, "a query too long, without words, a bad filter, an unknown label, a bad cursor"),))
async def search(request: web.Request, query: SearchQuery) -> SearchOut:
    store = _store(request.app)
    filters = await _filters(store, query)
    try:
        wanted = make_search(Kind(query.kind), query.q, filters, query.cursor, query.limit)
    except SearchError as exc:
        raise _refused(exc) from None
    out = SearchOut(kind=wanted.kind)
    if wanted.kind is Kind.MESSAGES:
        page = await store.search_messages(wanted)
        out.messages = [h for _, h in page.hits]
        out.next = None if page.resume is None else write_cursor(wanted.kind, page.resume)
        return out
    if wanted.kind is Kind.CONVERSATIONS:
        conversations = await store.search_conversations(wanted)
        out.conversations, positions = [c for _, c in conversations], [p for p, _ in conversations]
    else:
        customers = await store.search_customers(wanted)
        out.customers, positions = [c for _, c in customers], [p for p, _ in customers]
    if len(positions) == wanted.limit:  # maybe more: the next page starts after the last one
        out.next = write_cursor(wanted.kind, positions[-1])
    return out


@endpoint("GET", "/api/labels", "Every label, by name", response=LabelList)
async def labels(request: web.Request, _: None) -> LabelList:
    return LabelList(labels=await _store(request.app).list_labels())


@endpoint("POST", "/api/conversations/{id}/labels", "Put a label on the conversation (a new name makes the label)",
          body=LabelBody, response=ConversationOut,
          errors=((400, "a name empty, too long or with control characters"), (409, f"{MAX_LABELS} labels already")))
async def add_label(request: web.Request, body: LabelBody) -> ConversationOut:
    try:
        view = await request.app[ROUTER].labels.add(request.match_info["id"], body.name)
    except SearchError as exc:
        raise _refused(exc) from None
    except ConflictError:
        raise ApiError(409, "too_many_labels", f"a conversation has at most {MAX_LABELS} labels",
                       details={"max": MAX_LABELS}) from None
    return ConversationOut(conversation=view)


@endpoint("DELETE", "/api/conversations/{id}/labels/{name}", "Take a label off the conversation",
          response=ConversationOut, errors=((404, "the conversation does not have that label"),))
async def remove_label(request: web.Request, _: None) -> ConversationOut:
    conv = await _store(request.app).get_conversation(request.match_info["id"])
    try:
        name = label_name(request.match_info["name"])
    except SearchError as exc:
        raise _refused(exc) from None
    if name not in (conv.labels or []):
        raise ApiError(404, "label_not_on_conversation", f"the conversation has no label {name!r}",
                       details={"label": name})
    return ConversationOut(conversation=await request.app[ROUTER].labels.remove(conv.id, name))


@endpoint("POST", "/api/conversations/{id}/snooze", "Snooze the conversation: out of the open views until the "
          "time given, or until the customer writes", body=SnoozeBody, response=ConversationOut,
          errors=((400, "a time past, without a timezone, or over a year ahead"),
                  (409, "the conversation is resolved")))
async def snooze(request: web.Request, body: SnoozeBody) -> ConversationOut:
    try:
        view = await request.app[ROUTER].snoozes.snooze(request.match_info["id"], body.until)
    except SearchError as exc:
        raise _refused(exc) from None
    except ConflictError:
        raise ApiError(409, "snooze_resolved", "a resolved conversation cannot be snoozed") from None
    return ConversationOut(conversation=view)


@endpoint("DELETE", "/api/conversations/{id}/snooze", "Bring a snoozed conversation back now",
          response=ConversationOut)
async def wake(request: web.Request, _: None) -> ConversationOut:
    conv_id = request.match_info["id"]
    view = await request.app[ROUTER].snoozes.wake(conv_id)
    return ConversationOut(conversation=view or await _store(request.app).get_conversation(conv_id))
