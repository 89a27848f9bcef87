"""Private notes and @mentions in the console API (router/notes/). A note is
written beside a conversation for colleagues only: these routes never reach
the outbound path."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from agents_ui.endpoints import ApiError, current_agent, endpoint
from agents_ui.schemas import Body
from router.appkeys import BUS, ROUTER, STORE
from router.notes.models import MAX_NOTE_LENGTH, Mention, Note
from router.notes.service import NoteRefused, Notes, NotesStore


def _store(app: web.Application) -> NotesStore:
    """Of the store, the notes, their conversations and the agents a ``@name`` may mean."""
    return app[STORE]


def notes(request: web.Request) -> Notes:
    return Notes(_store(request.app), request.app[BUS], request.app[ROUTER].clock)


class NoteBody(Body):
    # checked by the service (router.notes.service.checked_text), each failure with its own code
    text: str


class NoteOut(BaseModel):
    note: Note


class NoteList(BaseModel):
    notes: list[Note]


class MentionList(BaseModel):
    mentions: list[Mention]
    unread: int


class MentionsRead(BaseModel):
    marked: int
    unread: int


@endpoint("GET", "/api/conversations/{id}/notes", "A conversation's private notes, oldest first (agents only: "
          "never sent to the customer)", response=NoteList, errors=((404, "no such conversation"),))
async def list_notes(request: web.Request, _: None) -> NoteList:
    return NoteList(notes=await notes(request).of_conversation(request.match_info["id"]))


@endpoint("POST", "/api/conversations/{id}/notes",
          "Write a private note in a conversation: seen by agents only, never sent to the customer. Each "
          "@username of an active colleague notifies them live (event note.mentioned, to their consoles only); "
          "an unknown @name stays plain text", body=NoteBody, response=NoteOut, status=201,
          errors=((404, "no such conversation"),
                  (422, f"code note_empty, note_too_long (over {MAX_NOTE_LENGTH} characters) or note_invalid")))
async def write_note(request: web.Request, body: NoteBody) -> NoteOut:
    try:
        note = await notes(request).write(request.match_info["id"], current_agent(request), body.text)
    except NoteRefused as exc:
        raise ApiError(422, exc.code, str(exc), details={"max": MAX_NOTE_LENGTH}) from None
    return NoteOut(note=note)


@endpoint("GET", "/api/mentions", "The notes that mention the agent who is logged in, newest first, and how many "
          "are unread", response=MentionList)
async def list_mentions(request: web.Request, _: None) -> MentionList:
    found, unread = await notes(request).mentions(current_agent(request))
    return MentionList(mentions=found, unread=unread)


@endpoint("POST", "/api/conversations/{id}/mentions/read", "The agent opened the conversation: its mentions of "
          "them are read (event mentions.read to their other consoles)", response=MentionsRead,
          errors=((404, "no such conversation"),))
async def read_mentions(request: web.Request, _: None) -> MentionsRead:
    agent = current_agent(request)
    service = notes(request)
    marked = await service.opened(request.match_info["id"], agent)
    return MentionsRead(marked=marked, unread=await service.store.unread_mentions(agent.id))
