"""The notes' rules without a database: what a note may say, and whom its
``@names`` mention."""

from __future__ import annotations

import pytest

from router.models import Agent, Role, utcnow
from router.notes.models import MAX_MENTIONS, MAX_NOTE_LENGTH
from router.notes.service import NoteRefused, checked_text, mentioned_names, resolve_mentions


def agent(username: str) -> Agent:
    return Agent(id=f"agt_{username}", username=username, display_name=username.title(), role=Role.AGENT,
                 created_at=utcnow())


@pytest.mark.parametrize(("text", "names"), [
    ("@bob look", ["bob"]),
    ("look, @bob.", ["bob"]),  # the sentence's full stop is not the name's
    ("(@bob) and @Cid, @bob again", ["bob", "cid"]),  # once each, any case
    ("@anna.k please", ["anna.k"]),
    ("write to bob@example.com", []),  # an address mentions nobody
    ("@@bob", []),
    ("no mention @", []),
    ("@ivan_petrov-2: call back", ["ivan_petrov-2"]),
])
def test_mentioned_names(text: str, names: list[str]) -> None:
    assert mentioned_names(text) == names


def test_unknown_names_stay_text_and_the_author_is_not_notified() -> None:
    ann, bob = agent("ann"), agent("bob")
    assert resolve_mentions("@ann @bob @nobody", ann, [ann, bob]) == [bob]
    assert resolve_mentions("@ann remember", ann, [ann, bob]) == []


def test_a_note_notifies_at_most_so_many() -> None:
    everyone = [agent(f"a{i}") for i in range(MAX_MENTIONS + 5)]
    text = " ".join(f"@{a.username}" for a in everyone)
    assert len(resolve_mentions(text, agent("ann"), everyone)) == MAX_MENTIONS


@pytest.mark.parametrize(("text", "code"), [
    ("", "note_empty"), (" \t\n", "note_empty"), ("x" * (MAX_NOTE_LENGTH + 1), "note_too_long"),
    ("nul\x00here", "note_invalid"),
])
def test_a_note_that_cannot_be_stored_says_why(text: str, code: str) -> None:
    with pytest.raises(NoteRefused) as refused:
        checked_text(text)
    assert refused.value.code == code


def test_a_note_is_stored_without_its_surrounding_blanks() -> None:
    assert checked_text("  hi @bob \n") == "hi @bob"
    assert checked_text("x" * MAX_NOTE_LENGTH) == "x" * MAX_NOTE_LENGTH
