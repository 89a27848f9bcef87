"""The rules of canned replies, apart from HTTP.

- A **personal** reply is its agent's alone: only they list, change, delete
  and use it.
- A **team** reply is shared by a team of teams.yaml: its members (and whoever
  works a conversation of that team) use it; only admins write it, because it
  speaks for the company and changes under every colleague's fingers.
- A shortcut is unique per owner (a team, an agent), case-insensitive. A
  personal reply hides a team reply of the same shortcut from its agent's
  list; the conversation's team's reply hides another team's; a human reply
  hides a bot answer of the same shortcut.
- The text is in Russian, English or both; the customer's language picks one
  (else the first there is). Variables (``router.canned.template``) are
  checked when a reply is saved and filled, whole or not at all, when an agent
  picks it.
- The bot's answers (config/bot.yaml) are offered as read-only replies, in
  the customer's language, filled as the bot fills them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from router.agents.service import Permission, may
from router.bot.config import Intent
from router.bot.faq import customer_values
from router.canned.bot_answers import bot_fill, bot_missing
from router.canned.store import CannedStore
from router.canned.template import MissingValue, TemplateError, fill, values_for, variables
from router.canned.types import CannedReply, Expanded, Listed, Offer, Scope, Source
from router.controls import NAME, TEXT, control_character
from router.language import answer_language, language_named
from router.models import Agent, Conversation, Customer, Message, new_id
from router.store.errors import ConflictError, NotFound
from router.texts import Language

LANGUAGES: tuple[Language, ...] = ("ru", "en")
SHORTCUT = re.compile(r"[^\W_][\w-]*")  # letters of any script, digits, _ and -: /привет, /order-late
MAX_SHORTCUT = 32
MAX_TITLE = 100
MAX_TEXT = 4000  # as every text of the service's config (router.texts.Text)
BOT_PREFIX = "bot:"


class CannedError(Exception):
    """A request the rules refuse; nothing was changed. ``code`` names the
    failure for the console's catalogues, ``details`` its values."""

    status = 400
    code = "canned_invalid"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadShortcut(CannedError):
    code = "canned_bad_shortcut"


class TooLong(CannedError):
    code = "canned_too_long"


class EmptyField(CannedError):
    code = "canned_empty"


class ControlCharacter(CannedError):
    """A control character (NUL above all: PostgreSQL's text cannot hold it) is no part of a reply."""

    code = "canned_control_character"


class UnknownTeam(CannedError):
    code = "canned_unknown_team"


class BadText(CannedError):
    """A text's variables: a broken brace or an unknown name (the template's error, with its language)."""

    def __init__(self, error: TemplateError, language: Language) -> None:
        super().__init__(f"text ({language}): {error}", language=language, **error.details)
        self.code = error.code


class DuplicateShortcut(CannedError):
    status = 409
    code = "canned_duplicate_shortcut"


class Forbidden(CannedError):
    status = 403
    code = "canned_forbidden"


class Unfilled(CannedError):
    """A reply picked for a customer who lacks a value it needs (or, stored before the
    grammar changed, one it can no longer read): nothing goes into the box."""

    status = 422

    def __init__(self, error: TemplateError) -> None:
        super().__init__(str(error), **error.details)
        self.code = error.code


@dataclass(frozen=True, slots=True)
class Draft:
    """A reply as an agent wrote it, before the rules normalise it."""

    shortcut: str
    title: str
    texts: Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class Teams:
    """Which teams there are and who is in each (teams.yaml, read afresh per request)."""

    names: tuple[str, ...] = ()
    members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # username → teams

    def of(self, agent: Agent) -> tuple[str, ...]:
        return self.members.get(agent.username, ())


def _shortcut(raw: str) -> str:
    # measured and checked as typed: lower() may lengthen a letter ("İ" is "i" and a combining dot)
    typed = raw.strip().removeprefix("/")
    if len(typed) > MAX_SHORTCUT:
        raise TooLong(f"shortcut: at most {MAX_SHORTCUT} characters", field="shortcut", max=MAX_SHORTCUT,
                      length=len(typed))
    if not SHORTCUT.fullmatch(typed):
        raise BadShortcut(f"shortcut {raw!r}: letters, digits, _ and - only, starting with a letter or digit",
                          shortcut=raw)
    return typed.lower()


def _bounded(name: str, value: str, most: int, allow: frozenset[str] = NAME) -> str:
    value = value.strip()
    if (bad := control_character(value, allow)) is not None:
        raise ControlCharacter(f"{name}: control character {bad[0]} at {bad[1]}", field=name, position=bad[1])
    if not value:
        raise EmptyField(f"{name}: must not be empty", field=name)
    if len(value) > most:
        raise TooLong(f"{name}: at most {most} characters, not {len(value)}", field=name, max=most,
                      length=len(value))
    return value


def _texts(raw: Mapping[str, str | None]) -> dict[Language, str]:
    unknown = sorted(set(raw) - set(LANGUAGES))
    if unknown:
        raise CannedError(f"texts: languages are ru and en, not {', '.join(unknown)}", field="texts")
    texts: dict[Language, str] = {}
    for lang in LANGUAGES:
        value = raw.get(lang)
        if value is None or not value.strip():
            continue  # a language left empty: the reply has no text in it
        text = _bounded(f"texts.{lang}", value, MAX_TEXT, TEXT)  # a reply has lines
        try:
            variables(text)
        except TemplateError as exc:
            raise BadText(exc, lang) from None
        texts[lang] = text
    if not texts:
        raise EmptyField("texts: give the text in Russian, English or both", field="texts")
    return texts


@dataclass(frozen=True, slots=True)
class Checked:
    shortcut: str
    title: str
    texts: dict[Language, str]


def checked(draft: Draft) -> Checked:
    """The draft normalised (shortcut lower-case without its ``/``, spaces
    trimmed, empty languages dropped), or the first rule it breaks."""
    return Checked(_shortcut(draft.shortcut), _bounded("title", draft.title, MAX_TITLE), _texts(draft.texts))


def text_in(texts: Mapping[Language, str], language: str | None) -> tuple[Language, str]:
    """The text in ``language`` when there is one, else the first there is."""
    for lang in LANGUAGES:
        if lang == language and lang in texts:
            return lang, texts[lang]
    lang = next(lang for lang in LANGUAGES if lang in texts)
    return lang, texts[lang]


def language_of_customer(last_inbound: Message | None, customer: Customer) -> Language | None:
    """The customer's language as the bot and the handoff notices judge it
    (``router.notices``); None when they never wrote and no profile says."""
    if last_inbound is not None:
        return answer_language(last_inbound, customer)
    return language_named(customer.attributes.get("language"))


def _lacking(text: str, values: Mapping[str, str]) -> list[str]:
    """The variables of ``text`` without a value here; a text that no longer
    parses (stored under an older grammar) lacks what breaks it."""
    try:
        return [v for v in variables(text) if v not in values]
    except TemplateError as exc:
        return [str(exc.details.get("variable") or exc.details.get("fragment"))]


@dataclass(frozen=True, slots=True)
class Context:
    """The conversation a reply is offered or filled for."""

    agent: Agent
    conversation: Conversation
    customer: Customer
    language: Language | None
    teams: Teams


class CannedReplies:
    def __init__(self, store: CannedStore, intents: Mapping[str, Intent] | None = None) -> None:
        self.store = store
        self.intents = intents or {}

    # -- writing ----------------------------------------------------------------------

    async def create(self, agent: Agent, scope: Scope, team: str | None, draft: Draft, teams: Teams,
                     now: datetime) -> CannedReply:
        good = checked(draft)
        if scope is Scope.TEAM:
            owner = self._team_to_write(agent, team, teams)
        elif team is not None:
            raise CannedError("team: only a team reply names a team", field="team")
        else:
            owner = agent.id
        reply = CannedReply(id=new_id("cnd"), scope=scope, owner=owner, shortcut=good.shortcut, title=good.title,
                            texts=good.texts, created_by=agent.id, created_at=now, updated_at=now)
        try:
            return await self.store.create_canned(reply)
        except ConflictError:
            raise self._duplicate(reply) from None

    async def update(self, agent: Agent, reply_id: str, draft: Draft, now: datetime) -> CannedReply:
        good = checked(draft)
        reply = await self._writable(agent, reply_id)
        changed = reply.model_copy(update={"shortcut": good.shortcut, "title": good.title, "texts": good.texts,
                                           "updated_at": now})
        try:
            return await self.store.update_canned(changed)
        except ConflictError:
            raise self._duplicate(changed) from None

    async def delete(self, agent: Agent, reply_id: str) -> None:
        await self._writable(agent, reply_id)
        await self.store.delete_canned(reply_id)

    @staticmethod
    def _team_to_write(agent: Agent, team: str | None, teams: Teams) -> str:
        if not _every_team(agent):
            raise Forbidden("your role may not write team replies (manage_team_replies); write a personal one instead")
        if team is None:
            raise EmptyField("team: a team reply names its team", field="team")
        if team not in teams.names:
            raise UnknownTeam(f"team {team!r} is not in teams.yaml (there: {', '.join(teams.names) or 'none'})",
                              team=team, known=list(teams.names))
        return team

    @staticmethod
    def _duplicate(reply: CannedReply) -> DuplicateShortcut:
        whose = "you have" if reply.scope is Scope.PERSONAL else f"team {reply.owner} has"
        return DuplicateShortcut(f"{whose} a reply /{reply.shortcut} already", shortcut=reply.shortcut,
                                 scope=reply.scope.value, team=reply.owner if reply.scope is Scope.TEAM else None)

    async def _writable(self, agent: Agent, reply_id: str) -> CannedReply:
        reply = await self.store.get_canned(reply_id)
        if reply.scope is Scope.PERSONAL and reply.owner != agent.id:
            raise NotFound(f"canned reply {reply_id}")  # another's personal reply is not even there
        if reply.scope is Scope.TEAM and not _every_team(agent):
            raise Forbidden("your role may not change team replies (manage_team_replies)")
        return reply

    # -- reading ----------------------------------------------------------------------

    async def listed(self, agent: Agent, teams: Teams) -> list[Listed]:
        """The management screen's list: the agent's own replies and the team
        replies they may use (an admin: every team's)."""
        admin = _every_team(agent)
        replies = await self.store.list_canned(agent.id, None if admin else teams.of(agent))
        mine = {r.shortcut: r.id for r in replies if r.scope is Scope.PERSONAL}
        return [Listed(reply=r, editable=r.scope is Scope.PERSONAL or admin,
                       shadowed_by=mine.get(r.shortcut) if r.scope is Scope.TEAM else None) for r in replies]

    async def _usable(self, ctx: Context) -> list[CannedReply]:
        """The replies the agent may use in this conversation, the hidden ones
        left out, each shortcut once: personal, the conversation's team,
        other teams by name."""
        teams = sorted({*ctx.teams.of(ctx.agent), *([ctx.conversation.team] if ctx.conversation.team else [])})
        replies = await self.store.list_canned(ctx.agent.id, teams)

        def rank(r: CannedReply) -> tuple[int, str]:
            if r.scope is Scope.PERSONAL:
                return 0, ""
            return (1 if r.owner == ctx.conversation.team else 2), r.owner

        kept: dict[str, CannedReply] = {}
        for reply in sorted(replies, key=rank):
            kept.setdefault(reply.shortcut, reply)
        return sorted(kept.values(), key=lambda r: r.shortcut)

    async def offered(self, ctx: Context) -> list[Offer]:
        """What the composer lists for this conversation: the agent's replies
        and the bot's answers, by shortcut, each with what it lacks here."""
        values = values_for(ctx.customer, ctx.agent, ctx.conversation)
        offers: list[Offer] = []
        for reply in await self._usable(ctx):
            lang, text = text_in(reply.texts, ctx.language)
            missing = _lacking(text, values)
            offers.append(Offer(id=reply.id, source=Source(reply.scope.value),
                                team=reply.owner if reply.scope is Scope.TEAM else None, shortcut=reply.shortcut,
                                title=reply.title, text=text, language=lang, missing=missing))
        human = {o.shortcut for o in offers}
        offers += [o for o in self._bot_offers(ctx) if o.shortcut not in human]
        return sorted(offers, key=lambda o: (o.shortcut, o.source is Source.BOT))

    def _bot_offers(self, ctx: Context) -> list[Offer]:
        """The bot's answers, each filled as the bot fills it (``{name|fallback}``) when this
        customer has every value it needs, else as written, with what is missing."""
        values = customer_values(ctx.customer)
        offers = []
        for name, intent in self.intents.items():
            lang, text = text_in(intent.answer, ctx.language)
            title = text_in(intent.title, ctx.language)[1]
            missing = bot_missing(text, values)
            offers.append(Offer(id=BOT_PREFIX + name, source=Source.BOT, shortcut=name.lower(), title=title,
                                text=text if missing else bot_fill(text, values), language=lang, missing=missing))
        return offers

    async def expand(self, ctx: Context, reply_id: str) -> Expanded:
        """The reply filled in for this conversation; ``Unfilled`` naming
        every variable this customer has no value for (nothing is filled)."""
        if reply_id.startswith(BOT_PREFIX):
            offer = next((o for o in self._bot_offers(ctx) if o.id == reply_id), None)
            if offer is None:
                raise NotFound(f"bot answer {reply_id.removeprefix(BOT_PREFIX)}")
            if offer.missing:  # all or nothing, as a person's reply
                raise Unfilled(MissingValue(offer.missing))
            return self._expanded(ctx, reply_id, offer.language, offer.text, {offer.language})
        reply = await self.store.get_canned(reply_id)
        self._check_usable(ctx, reply)
        lang, text = text_in(reply.texts, ctx.language)
        try:
            filled = fill(text, values_for(ctx.customer, ctx.agent, ctx.conversation))
        except TemplateError as exc:
            raise Unfilled(exc) from None
        return self._expanded(ctx, reply.id, lang, filled, set(reply.texts))

    @staticmethod
    def _expanded(ctx: Context, reply_id: str, lang: Language, text: str, has: set[Language]) -> Expanded:
        wanted = ctx.language if ctx.language is not None and ctx.language not in has else None
        return Expanded(id=reply_id, text=text, language=lang, wanted_language=wanted)

    @staticmethod
    def _check_usable(ctx: Context, reply: CannedReply) -> None:
        if reply.scope is Scope.PERSONAL:
            if reply.owner != ctx.agent.id:
                raise NotFound(f"canned reply {reply.id}")
            return
        if _every_team(ctx.agent) or reply.owner in (*ctx.teams.of(ctx.agent), ctx.conversation.team):
            return
        raise Forbidden(f"the reply /{reply.shortcut} is team {reply.owner}'s, and you are not in it",
                        team=reply.owner)


def _every_team(agent: Agent) -> bool:
    """Whether ``agent`` reads and writes every team's replies (the role's manage_team_replies)."""
    return may(agent.role, Permission.MANAGE_TEAM_REPLIES)


def teams_from(names: Sequence[str], members: Mapping[str, Sequence[str]]) -> Teams:
    return Teams(tuple(names), {user: tuple(ts) for user, ts in members.items()})
