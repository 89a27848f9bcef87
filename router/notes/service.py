"""The rules of private notes: what a note may say, whom its ``@names``
mention, and who hears of it. A note goes to the store and to the consoles'
event bus, never to the outbound path: nothing here imports it."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from router import events
from router.accounts.store import AccountStore
from router.bus import EventBus
from router.conversations.store import ConversationStore
from router.models import Agent, new_id
from router.notes.guard import NOTE_ID_PREFIX
from router.notes.models import MAX_MENTIONS, MAX_NOTE_LENGTH, Mention, Note
from router.notes.store import NoteStore

log = logging.getLogger(__name__)

# ``@username`` (usernames are ``[a-z0-9._-]``), not inside a word or an address (ann@example.com);
# a trailing dot ends the sentence, not the name
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9._-]{1,64})")
MENTIONS_LIMIT = 100  # the Mentions view lists the latest so many
NOTES_LIMIT = 500  # a conversation's notes shown with its thread


class NotesStore(NoteStore, ConversationStore, AccountStore, Protocol):
    """What the notes need of the store: the notes, the conversation they are
    written in, and the agents a ``@name`` may mean."""


class NoteRefused(ValueError):
    """A note that cannot be stored as written (empty, too long, a NUL, a lone surrogate)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def mentioned_names(text: str) -> list[str]:
    """The ``@names`` of ``text``, lower-cased, once each, in order of appearance."""
    seen: dict[str, None] = {}
    for match in MENTION.finditer(text):
        seen.setdefault(match.group(1).rstrip(".").lower(), None)
    return list(seen)


def is_active(agent: Agent) -> bool:
    """May the agent be notified? A deactivated account is not."""
    return agent.active


def resolve_mentions(text: str, author: Agent, agents: Iterable[Agent]) -> list[Agent]:
    """The agents ``text`` mentions: an unknown name stays plain text, the
    author's own name notifies nobody, a deactivated agent is not notified."""
    by_name = {a.username.lower(): a for a in agents}
    found = [by_name[name] for name in mentioned_names(text) if name in by_name]
    return [a for a in found if a.id != author.id and is_active(a)][:MAX_MENTIONS]


def checked_text(text: str) -> str:
    """The note's words as stored, or ``NoteRefused`` saying why not."""
    text = text.strip()
    if not text:
        raise NoteRefused("note_empty", "a note needs some text")
    if len(text) > MAX_NOTE_LENGTH:
        raise NoteRefused("note_too_long", f"a note has at most {MAX_NOTE_LENGTH} characters")
    if "\x00" in text:
        raise NoteRefused("note_invalid", "a note cannot contain a NUL character")
    if not is_unicode(text):
        raise NoteRefused("note_invalid", "a note cannot contain a lone surrogate (text that is not Unicode)")
    return text


def is_unicode(text: str) -> bool:
    """Is ``text`` storable as UTF-8? JSON's ``"\\ud800"`` decodes to a lone
    surrogate, which neither SQLite's writer nor asyncpg can encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Notes:
    def __init__(self, store: NotesStore, bus: EventBus, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock

    async def write(self, conversation_id: str, author: Agent, text: str) -> Note:
        """Store a note in the conversation (``NotFound`` for an unknown one)
        and tell the consoles: every one shows it in the thread, and each
        mentioned agent's is told it was mentioned."""
        text = checked_text(text)
        conversation = await self.store.get_conversation(conversation_id)
        mentioned = resolve_mentions(text, author, await self.store.list_agents())
        note = Note(id=new_id(NOTE_ID_PREFIX), conversation_id=conversation.id, agent_id=author.id,
                    agent_name=author.display_name, text=text, created_at=self.clock(),
                    mentions=[a.id for a in mentioned])
        await self.store.add_note(note)
        # ids only in the log: a note's words are the agents' and may quote the customer
        log.info("agent %s wrote note %s in conversation %s (mentions %d)", author.username, note.id,
                 conversation.id, len(mentioned))
        self.bus.publish(events.note_created(note))
        for agent in mentioned:
            mention = Mention(note=note, agent_id=agent.id, customer_id=conversation.customer_id,
                              customer_name=conversation.customer_name)
            self.bus.publish(events.note_mentioned(mention))
        return note

    async def of_conversation(self, conversation_id: str) -> list[Note]:
        conversation = await self.store.get_conversation(conversation_id)
        return await self.store.conversation_notes(conversation.id, NOTES_LIMIT)

    async def mentions(self, agent: Agent) -> tuple[list[Mention], int]:
        """The agent's Mentions view (newest first) and their unread count."""
        return await self.store.agent_mentions(agent.id, MENTIONS_LIMIT), await self.store.unread_mentions(agent.id)

    async def opened(self, conversation_id: str, agent: Agent) -> int:
        """The agent opened the conversation: its mentions of them are read.
        Their other consoles (tabs, nodes) update the badge from the event."""
        conversation = await self.store.get_conversation(conversation_id)
        marked = await self.store.mark_mentions_read(agent.id, conversation.id, self.clock())
        if marked:
            unread = await self.store.unread_mentions(agent.id)
            self.bus.publish(events.mentions_read(agent.id, conversation.id, unread))
        return marked
