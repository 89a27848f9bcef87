"""The handlers of the console's API (declared through ``endpoint``)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from typing import Protocol

from aiohttp import web

from agents_ui import agents_api, contacts_api
from agents_ui.claims_api import hints
from agents_ui.conversation_pages import read_cursor, write_cursor
from agents_ui.endpoints import ApiError, current_agent, endpoint
from agents_ui.files_api import attachments_of
from agents_ui.live import close_session_sockets
from agents_ui.schemas import (
    AgentList,
    AgentOut,
    AssignBody,
    AuditList,
    ConversationDetail,
    ConversationList,
    ConversationOut,
    ConversationQuery,
    CustomerDetail,
    CustomerUpsertOut,
    LoginBody,
    MeBody,
    MeOut,
    MergeBody,
    MergeOut,
    MessageList,
    MessageOut,
    MessagesQuery,
    ReplyBody,
    ResolveBody,
    TemplateBody,
    UnmergeBody,
    VerificationOut,
)
from agents_ui.sessions import (
    ADDRESS_ATTEMPTS,
    ADMIN_SEED,
    LOGIN_ATTEMPTS,
    PASSWORD_CHECKS,
    end_session,
    start_session,
)
from router import events
from router.accounts.service import check_login
from router.accounts.store import AccountStore
from router.agents.service import Permission, may, permissions_of
from router.appkeys import BUS, CONNECTORS, CONVERSATIONS, MERGER, ROUTER, STORE
from router.connector import MediaUnavailable, NothingToFetch
from router.conversations.service import CustomerOpenElsewhere, ReplyRefused, ReplyWindowClosed
from router.conversations.states import AgentDeactivated
from router.conversations.store import ConversationStore, MessageStore
from router.identity.customers import LookupKind, ValueAttributes, upsert
from router.identity.errors import KeyShared
from router.identity.service import InvalidIdentifier, KeyRefused
from router.identity.store import ClaimStore, CustomerStore, MergeStore
from router.identity.types import KeyRef
from router.identity.verification import VerificationRefused
from router.models import Agent, ConversationStatus, ConversationView
from router.redaction import redact
from router.routing.service import AgentAtCapacity
from router.store.errors import UnansweredMessages

log = logging.getLogger(__name__)
# the key of the tags a refused login's name is logged as (_who_tried)
LOGIN_LOG_SECRET = "login-log"


class ApiStore(AccountStore, ConversationStore, MessageStore, CustomerStore, ClaimStore, MergeStore, Protocol):
    """What these handlers use of the store, themselves or through a function
    they hand it to (``check_login``, ``upsert``): agents' accounts,
    conversations and their messages, customers, their claims and merges.
    An agent's actions, merges and codes go through the services instead."""


def _store(app: web.Application) -> ApiStore:
    return app[STORE]


def _refuse_throttled(wait: float | None) -> None:
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        raise ApiError(429, "too_many_attempts", f"Too many failed sign-ins. Try again in {seconds} s.",
                       {"Retry-After": str(seconds)}, details={"retry_after": seconds})


async def _who_tried(app: web.Application, username: str) -> str:
    """A refused login's name as the log may keep it: an account's own name, else no name at all (people
    type their password there): its length and a tag, the same tag for the same name on every node and
    across restarts (a keyed hash: no dictionary of passwords finds what was typed from it), so an admin
    still sees one name tried again and again, and from where."""
    if (creds := await _store(app).agent_credentials(username)) is not None:
        return f"account {creds[0].username!r}"
    key = await app[STORE].secret(LOGIN_LOG_SECRET)
    tag = hmac.new(key, username.casefold().encode(), hashlib.sha256).hexdigest()[:10]
    return f"a name that is no account ({len(username)} characters, tag {tag})"


@endpoint("POST", "/api/login", "Log in; sets the session cookie", body=LoginBody, response=AgentOut, public=True,
          errors=((401, "wrong username or password"), (403, "code account_deactivated"),
                  (429, "too many failures; see Retry-After")))
async def login(request: web.Request, body: LoginBody) -> web.StreamResponse:
    attempts, address = request.app[LOGIN_ATTEMPTS], request.remote or ""
    key, everyone = (body.username.lower(), address), ("", address)  # everyone: each name tried from there
    with request.app[PASSWORD_CHECKS].checking(address) as placed:
        if not placed:
            _refuse_throttled(1.0)
        # refused, or counted before the password is even looked at
        _refuse_throttled(await request.app[ADDRESS_ATTEMPTS].attempt(everyone))
        _refuse_throttled(await attempts.attempt(key))
        await request.app[ADMIN_SEED].wait()  # a first start's admin account may still be in the making
        agent = await check_login(_store(request.app), body.username, body.password)
    if agent is None:
        log.warning("failed console login for %s from %s", await _who_tried(request.app, body.username),
                    request.remote)
        raise ApiError(401, "invalid_credentials", "Wrong username or password.")
    await attempts.succeeded(key)
    await request.app[ADDRESS_ATTEMPTS].succeeded(everyone)
    await agents_api.admit(request.app, agent)  # a deactivated account is refused; presence at sign-in
    response = web.Response(text=AgentOut(agent=agent).model_dump_json(), content_type="application/json")
    await start_session(request, response, agent)
    log.info("agent %s logged in from %s", agent.username, request.remote)
    return response


@endpoint("POST", "/api/logout", "End the session (and its live sockets); the agent's last live session "
          "ended takes them offline (unopened offers go back to the queue)", status=204,
          response_description="logged out")
async def logout(request: web.Request, _: None) -> web.StreamResponse:
    response = web.Response(status=204)
    ended = await end_session(request, response)
    if ended is not None:
        session, end = ended
        await close_session_sockets(request.app, session)
        if end is not None and end.sessions_left == 0:
            # at no console any more: offered nothing, counted by no wallboard
            await agents_api.signed_out(request.app, current_agent(request))
    return response


@endpoint("GET", "/api/me", "The agent who is logged in, and what their role may do", response=MeOut)
async def me(request: web.Request, _: None) -> MeOut:
    agent = current_agent(request)
    return MeOut(agent=agent, permissions=permissions_of(agent.role))


@endpoint("PATCH", "/api/me", "Change the agent's own settings: the console's language (null: the browser's)",
          body=MeBody, response=AgentOut)
async def change_me(request: web.Request, body: MeBody) -> AgentOut:
    agent = current_agent(request)
    if "language" in body.model_fields_set:
        await _store(request.app).set_agent_language(agent.id, body.language)
    return AgentOut(agent=await _store(request.app).get_agent(agent.id))


_STATUSES: dict[str, list[ConversationStatus] | None] = {
    "open": [ConversationStatus.BOT, ConversationStatus.QUEUED, ConversationStatus.ASSIGNED],
    "all": None,
    **{s.value: [s] for s in ConversationStatus},
}


@endpoint("GET", "/api/conversations", "Conversations, most recently active first, a page at a time",
          query=ConversationQuery, response=ConversationList,
          errors=((400, "code bad_list_cursor: a cursor no page gave"),))
async def conversations(request: web.Request, query: ConversationQuery) -> ConversationList:
    # a snoozed one is out of the lists until it wakes (router/search/); the search's views list them.
    # The Resolved tab shows every resolved one (resolving ends a snooze)
    awake_only = query.status != ConversationStatus.RESOLVED.value
    mine = current_agent(request).id if query.assignee == "me" else None
    found = await _store(request.app).list_conversations(  # one more than asked: is there a next page?
        _STATUSES[query.status], query.limit + 1, awake_only=awake_only, agent_id=mine,
        after=read_cursor(query.cursor))
    page = found[:query.limit]
    return ConversationList(conversations=page, next=write_cursor(page[-1]) if len(found) > len(page) else None)


@endpoint("GET", "/api/conversations/{id}", "One conversation and its customer", response=ConversationDetail)
async def conversation(request: web.Request, _: None) -> ConversationDetail:
    store = _store(request.app)
    conv = await store.get_conversation(request.match_info["id"])
    return ConversationDetail(conversation=conv, customer=await store.get_customer(conv.customer_id))


@endpoint("GET", "/api/conversations/{id}/messages", "A conversation's messages, oldest first",
          query=MessagesQuery, response=MessageList)
async def messages(request: web.Request, query: MessagesQuery) -> MessageList:
    store = _store(request.app)
    conv = await store.get_conversation(request.match_info["id"])
    return MessageList(messages=await store.list_messages(conv.id, query.limit))


def _refused(exc: ReplyRefused) -> ApiError:
    if isinstance(exc, ReplyWindowClosed):
        return ApiError(409, "reply_window_closed", str(exc), details={
            "channel": exc.channel, "last_inbound_at": exc.last_inbound_at.isoformat(),
            "template": exc.template_text, "channels": exc.open_channels,
        })
    details = {k: v for k, v in (("reason", exc.reason), ("channel", exc.channel)) if v is not None}
    return ApiError(409, "conflict", str(exc), details=details or None)


# whose capacity a refusal is about, as details.reason (the console's words: errors.at_capacity_<reason>)
YOURS, THEIRS, REPLY = "yours", "theirs", "reply"
AT_CAPACITY = (f"code at_capacity: the agent holds their capacity of the conversation's channel kind "
               f"(details.reason {YOURS}, {THEIRS} or {REPLY}, name, username, kind, capacity)")


def at_capacity(exc: AgentAtCapacity, agent: Agent, reason: str) -> ApiError:
    """409 ``at_capacity``: ``agent`` (the caller, or the colleague a
    supervisor gave it to) holds their capacity of the conversation's kind."""
    whose = {YOURS: "you hold", REPLY: "you hold", THEIRS: f"{agent.display_name} holds"}[reason]
    then = {YOURS: "resolve or transfer one of yours first",
            REPLY: "a reply would take this conversation; resolve or transfer one of yours first",
            THEIRS: "choose someone else, or free one of theirs first"}[reason]
    return ApiError(409, "at_capacity", f"{whose} {exc.capacity} {exc.kind} conversation(s) at once, the "
                    f"capacity: {then}", details={"reason": reason, "name": agent.display_name,
                                                  "username": agent.username, "kind": exc.kind,
                                                  "capacity": exc.capacity})


@endpoint("POST", "/api/conversations/{id}/messages", "Reply to the customer", body=ReplyBody,
          response=MessageOut, status=201, errors=(
              (409, "resolved, or assigned to another agent; or (code reply_window_closed) the channel's reply "
                    "window has closed: the error carries the template text and the channels that can take it; or "
                    f"(a reply to a queued or the bot's conversation takes it) {AT_CAPACITY}"),))
async def reply(request: web.Request, body: ReplyBody) -> MessageOut:
    agent = current_agent(request)
    try:
        message = await request.app[CONVERSATIONS].reply(
            request.match_info["id"], agent, body.text, body.channel,
            attachments=[a.attachment() for a in body.attachments] + await attachments_of(request, body.files),
        )
    except ReplyRefused as exc:
        raise _refused(exc) from None
    except AgentAtCapacity as exc:  # refused, not sent without taking it (Conversations.reply)
        raise at_capacity(exc, agent, REPLY) from None
    return MessageOut(message=message)


@endpoint("POST", "/api/conversations/{id}/template", "Send the channel's template (re-opens a closed reply window)",
          body=TemplateBody, response=MessageOut, status=201,
          errors=((409, f"resolved, assigned to another agent, or the channel has no template; or {AT_CAPACITY}"),))
async def send_template(request: web.Request, body: TemplateBody) -> MessageOut:
    agent = current_agent(request)
    try:
        message = await request.app[CONVERSATIONS].reply(request.match_info["id"], agent, "", body.channel,
                                                         template=True)
    except ReplyRefused as exc:
        raise _refused(exc) from None
    except AgentAtCapacity as exc:
        raise at_capacity(exc, agent, REPLY) from None
    return MessageOut(message=message)


async def _open_for(request: web.Request, agent: Agent) -> ConversationView:
    """The conversation, if ``agent`` may act on it: an agent does not take
    over a colleague's conversation (a role granted reassign may)."""
    conv = await _store(request.app).get_conversation(request.match_info["id"])
    if conv.status is ConversationStatus.RESOLVED:
        raise ApiError(409, "conflict", "the conversation is resolved", details={"reason": "resolved"})
    mine = conv.agent_id in (None, agent.id) or conv.status is not ConversationStatus.ASSIGNED
    if not mine and not may(agent.role, Permission.REASSIGN):
        raise ApiError(409, "conflict", "the conversation is assigned to another agent",
                       details={"reason": "colleagues"})
    return conv


def _not_others(agent: Agent) -> str | None:
    """``agent``, whose role may not take over a colleague's conversation, for the
    store to check with the change (``_open_for`` read it before: a colleague may
    have taken it since); None for a role that may."""
    return None if may(agent.role, Permission.REASSIGN) else agent.id


async def _assignee(request: web.Request, body: AssignBody) -> Agent:
    me = current_agent(request)
    if body.agent_id in (None, me.id):
        return me
    if not may(me.role, Permission.REASSIGN):
        raise ApiError(403, "forbidden", "your role may not assign a conversation to someone else (reassign)")
    assignee = await _store(request.app).get_agent(body.agent_id)
    if not assignee.active:
        raise ApiError(409, "agent_deactivated", f"{assignee.username} is deactivated",
                       details={"username": assignee.username})
    return assignee


@endpoint("POST", "/api/conversations/{id}/assign", "Take a conversation (roles granted reassign, admins and "
          "supervisors, may give anyone's to anyone)", body=AssignBody, response=ConversationOut,
          errors=((403, "assigning someone else needs the reassign permission"),
                  (409, f"resolved, or another agent's; or {AT_CAPACITY}: nobody may override it")))
async def assign(request: web.Request, body: AssignBody) -> ConversationOut:
    assignee = await _assignee(request, body)
    me = current_agent(request)
    await _open_for(request, me)
    try:
        view = await request.app[CONVERSATIONS].assign(request.match_info["id"], assignee, _not_others(me))
    except ReplyRefused as exc:
        raise _refused(exc) from None
    except AgentAtCapacity as exc:
        raise at_capacity(exc, assignee, YOURS if assignee.id == me.id else THEIRS) from None
    except AgentDeactivated:  # deactivated while this was in flight: as if they had been before
        raise ApiError(409, "agent_deactivated", f"{assignee.username} is deactivated",
                       details={"username": assignee.username}) from None
    return ConversationOut(conversation=view)


@endpoint("POST", "/api/conversations/{id}/resolve", "Mark a conversation resolved", body=ResolveBody,
          response=ConversationOut,
          errors=((409, "resolved already, or another agent's; or (code unanswered_message, details.count) the "
                        "customer wrote after seen_message_id"),))
async def resolve(request: web.Request, body: ResolveBody) -> ConversationOut:
    agent = current_agent(request)
    await _open_for(request, agent)
    try:
        view = await request.app[CONVERSATIONS].resolve(request.match_info["id"], agent, body.seen_message_id,
                                                        _not_others(agent))
    except UnansweredMessages as exc:  # the console asks the agent to confirm, then resolves without it
        raise ApiError(409, "unanswered_message", str(exc), details={"count": exc.count}) from None
    return ConversationOut(conversation=view)


@endpoint("POST", "/api/conversations/{id}/reopen", "Reopen a resolved conversation: it is the caller's again",
          response=ConversationOut,
          errors=((409, "not resolved, another agent's (without reassign), or the customer has another open "
                         f"conversation by now; or {AT_CAPACITY}"),))
async def reopen(request: web.Request, _: None) -> ConversationOut:
    agent = current_agent(request)
    conv = await _store(request.app).get_conversation(request.match_info["id"])
    if conv.agent_id not in (None, agent.id) and not may(agent.role, Permission.REASSIGN):
        # a reopen makes it the caller's: a colleague's, a take-over
        raise ApiError(409, "conflict", "the conversation was another agent's", details={"reason": "colleagues"})
    try:
        view = await request.app[CONVERSATIONS].reopen(request.match_info["id"], agent)
    except CustomerOpenElsewhere as exc:
        raise ApiError(409, "customer_has_open_conversation", str(exc)) from None
    except AgentAtCapacity as exc:
        raise at_capacity(exc, agent, YOURS) from None
    return ConversationOut(conversation=view)


@endpoint("POST", "/api/conversations/{id}/bot", "Hand the conversation back to the bot: it answers the customer's "
          "next messages and gives the conversation back to this team's queue when it steps aside",
          response=ConversationOut, errors=((409, "resolved, with the bot already, another agent's, or no bot"),))
async def hand_to_bot(request: web.Request, _: None) -> ConversationOut:
    agent = current_agent(request)
    await _open_for(request, agent)
    try:
        view = await request.app[CONVERSATIONS].hand_to_bot(request.match_info["id"], agent)
    except ReplyRefused as exc:
        raise _refused(exc) from None
    return ConversationOut(conversation=view)


@endpoint("GET", "/api/customers/{id}", "A customer: profile, channel identities, conversations",
          response=CustomerDetail)
async def customer(request: web.Request, _: None) -> CustomerDetail:
    store = _store(request.app)
    found = await store.get_customer(request.match_info["id"])
    return CustomerDetail(
        customer=found,
        identities=await store.customer_identities(found.id),
        conversations=await store.customer_conversations(found.id),
        claims=await store.customer_claims(found.id),
        merges=await store.customer_merges(found.id),
        channels=await store.customer_channels(found.id),
        last_contacts=await contacts_api.last_contacts(request.app, found.id),
        matches=await hints(request).of(found.id),
    )


_LOOKUPS: dict[str, LookupKind] = {"id": "id", "external": "external", "phone": "phone", "email": "email"}
# how an integrator names a customer when a phone or email cannot
ADDRESS_BY = ["PUT /api/customers/by/id/{id}", "PUT /api/customers/by/external/{external_id}"]


def _not_a_lookup_key(key: KeyRef, reason: str, why: str, customers: tuple[str, ...] = ()) -> ApiError:
    return ApiError(409, "key_not_usable", f"{why}. Address the customer by id (PUT /api/customers/by/id/{{id}}) "
                    "or by your CRM's id (PUT /api/customers/by/external/{external_id}).",
                    details={"key": f"{key.kind}:{key.value}", "reason": reason, "customers": list(customers),
                             "address_by": ADDRESS_BY})


@endpoint("PUT", "/api/customers/by/{kind}/{value}",
          "Create or update a customer's value attributes, found by id, external id, phone or email (admins: "
          "how a CRM keeps tier, lifetime_value, tags and custom attributes current; null removes one). A phone "
          "with an extension is a key of its own (+74951234567;ext=104)",
          body=ValueAttributes, response=CustomerUpsertOut, permission=Permission.MANAGE_INTEGRATIONS,
          errors=((409, "code key_not_usable: the phone/email is blocked, generic (a role address, a toll-free or "
                        "placeholder number) or held by several customers, so it cannot say who the write is "
                        "for: details.reason, details.customers and details.address_by say how to name the "
                        "customer instead; code conflict: the keys belong to several customers"),
                  (422, "an invalid phone, email or attribute")))
async def upsert_customer(request: web.Request, body: ValueAttributes) -> CustomerUpsertOut:
    value = request.match_info["value"]
    kind = _LOOKUPS.get(request.match_info["kind"])
    if kind is None:
        raise ApiError(404, "not_found", "customers are found by id, external, phone or email")
    try:
        done = await upsert(_store(request.app), request.app[ROUTER].identity, kind, value, body, "crm")
    except KeyRefused as exc:
        raise _not_a_lookup_key(exc.key, exc.why, str(exc)) from None
    except InvalidIdentifier as exc:
        raise ApiError(422, "invalid", str(exc)) from None
    except KeyShared as exc:
        why = (f"{exc.key.kind} {exc.key.value} is held by {len(exc.customers)} customers, so it cannot say "
               "which one this write is for")
        raise _not_a_lookup_key(exc.key, "shared", why, exc.customers) from None
    log.info("customer %s %s by %s (%s)", done.customer.id, "created" if done.created else "updated",
             current_agent(request).username, kind)
    request.app[BUS].publish(events.customer_updated(done.customer.id, created=done.created))
    return CustomerUpsertOut(customer=done.customer, created=done.created)


@endpoint("POST", "/api/customers/{id}/claims/{claim}/verify",
          "Send a one-time code to a claimed phone/email; the customer types it in their chat to link the profiles",
          response=VerificationOut, status=201,
          errors=((409, "nobody can reach the claimed address, it is verified already, or a code went out "
                        "moments ago"),))
async def verify_claim(request: web.Request, _: None) -> VerificationOut:
    try:
        verification = await request.app[ROUTER].verifier.start(request.match_info["id"], request.match_info["claim"])
    except VerificationRefused as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    # the claim's kind, never its value (a customer's phone or address) nor the code
    log.info("%s sent verification %s of customer %s (%s)", current_agent(request).username, verification.id,
             verification.customer_id, verification.kind)
    return VerificationOut(verification=verification)


@endpoint("POST", "/api/customers/{id}/merge", "Merge another customer into this one (undo with the merge's id)",
          body=MergeBody, response=MergeOut, status=201,
          errors=((409, "the same customer, or one merged already"),))
async def merge_customers(request: web.Request, body: MergeBody) -> MergeOut:
    agent = current_agent(request)
    record = await request.app[MERGER].merge_customers(request.match_info["id"], body.other_id, agent, body.reason)
    # not the reason: an agent's words about a customer, kept in the audit
    log.info("%s merged customer %s into %s (merge %s)", agent.username, body.other_id, record.survivor_id, record.id)
    return MergeOut(merge=record)


@endpoint("POST", "/api/merges/{id}/undo", "Undo a merge: both customers as they were before it",
          body=UnmergeBody, response=MergeOut,
          errors=((409, "undone already, or a later merge of either customer must be undone first"),))
async def unmerge_customers(request: web.Request, body: UnmergeBody) -> MergeOut:
    agent = current_agent(request)
    record = await request.app[MERGER].unmerge_customers(request.match_info["id"], agent, body.reason)
    log.info("%s undid merge %s", agent.username, record.id)
    return MergeOut(merge=record)


@endpoint("GET", "/api/customers/{id}/audit", "Merges, unmerges and automatic links of a customer, newest first",
          response=AuditList)
async def customer_audit(request: web.Request, _: None) -> AuditList:
    store = _store(request.app)
    found = await store.get_customer(request.match_info["id"])
    return AuditList(entries=await store.identity_audit(found.id, 200))


@endpoint("GET", "/api/agents", "Every agent account", response=AgentList)
async def agents(request: web.Request, _: None) -> AgentList:
    return AgentList(agents=await _store(request.app).list_agents())


# shown in the browser; anything else (HTML, SVG, scripts) only downloads, so
# a customer's file never runs in the console's origin
_INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "audio/ogg", "audio/mpeg",
                           "audio/mp4", "video/mp4", "video/webm", "application/pdf"})


@endpoint(
    "GET", "/api/messages/{id}/attachments/{index}",
    "A customer's file relayed from its platform (for channels whose file links carry the bot's credentials)",
    response_description="the file's bytes, with its content type",
    errors=((404, "no such message, attachment or running channel; or (code not_relayed) no platform keeps this "
                  "file: a stored file (GET /api/files/{id}), or a channel that keeps none"),
            (502, "the platform did not give the file")),
)
async def attachment_file(request: web.Request, _: None) -> web.StreamResponse:
    message = await _store(request.app).get_message(request.match_info["id"])
    index = request.match_info["index"]
    if not index.isdigit() or int(index) >= len(message.attachments):
        raise ApiError(404, "not_found", f"message {message.id} has no attachment {index}")
    attachment = message.attachments[int(index)]
    if attachment.file is not None:  # ours, not a platform's: no platform is asked (nor blamed, 502)
        raise ApiError(404, "not_relayed", f"attachment {index} of message {message.id} is a stored file: "
                       f"GET /api/files/{attachment.file}", details={"file": attachment.file})
    connector = request.app[CONNECTORS].get(message.channel)
    if connector is None:
        raise ApiError(404, "not_found", f"channel {message.channel!r} is not running")
    try:
        media = await connector.fetch_media(attachment)
    except NothingToFetch as exc:
        raise ApiError(404, "not_relayed", f"attachment {index} of message {message.id}: {exc}") from None
    except MediaUnavailable as exc:
        # the connector's words; redacted all the same, a last line before a browser
        reason = redact(str(exc))
        log.info("attachment %s of message %s not relayed: %s", index, message.id, reason)
        raise ApiError(502, "media_unavailable", reason) from None
    kind = media.content_type.split(";", 1)[0].strip().lower()
    disposition = "inline" if kind in _INLINE_TYPES else "attachment"
    return web.Response(body=media.body, headers={
        "Content-Type": media.content_type if disposition == "inline" else "application/octet-stream",
        "Content-Disposition": disposition,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Cache-Control": "private, max-age=3600",
    })
