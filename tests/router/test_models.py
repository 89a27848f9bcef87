"""Ids: unguessable, never repeated, across threads and forked processes; a
message's in the order they were made."""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from router.models import Attachment, IdentityRef, InboundMessage, new_id, new_ordered_id

ID = re.compile(r"^msg_[0-9a-f]{20}$")
ORDERED = re.compile(r"^msg_(?P<ms>[0-9a-f]{12})(?P<random>[0-9a-f]{20})$")


def test_ids_are_80_random_bits_with_a_readable_prefix() -> None:
    ids = [new_id("msg") for _ in range(5000)]  # several refills of the pool
    assert all(ID.match(i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_threads_never_hand_out_the_same_id() -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        batches = list(pool.map(lambda _: [new_id("msg") for _ in range(3000)], range(8)))
    ids = [i for batch in batches for i in batch]
    assert len(set(ids)) == len(ids)


def test_a_forked_child_does_not_repeat_its_parents_next_ids() -> None:
    new_id("msg")  # the parent's pool is filled and part used
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, then gone without pytest's clean-up
        os.write(write, " ".join(new_id("msg") for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    parent = {new_id("msg") for _ in range(50)}
    assert len(child) == 50
    assert not child & parent


def test_ordered_ids_sort_by_when_they_were_made_and_keep_80_random_bits() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_ordered_id("msg") for _ in range(5000)]
    after = time.time_ns() // 1_000_000
    parts = [ORDERED.match(i) for i in ids]
    assert all(parts)
    stamps = [int(p["ms"], 16) for p in parts if p]
    assert before <= stamps[0] and stamps[-1] <= after
    assert stamps == sorted(stamps)  # so each insert lands on the index's last page
    assert len({p["random"] for p in parts if p}) == len(ids)


@pytest.mark.parametrize(("given", "shown"), [
    ("Договор №5.pdf", "Договор №5.pdf"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\anna\\Desktop\\скан.jpg", "скан.jpg"),
    # U+202E (right-to-left override) shows "счёт\u202efdp.exe" as "счётexe.pdf"
    ("счёт\u202efdp.exe", "счётfdp.exe"),
    ("a\x00b\r\nc.txt", "abc.txt"),
    ("x" * 10_000 + ".pdf", "x" * 251 + ".pdf"),
    ("  ..  ", None),
    (None, None),
])
def test_an_attachments_name_from_a_platform_or_a_mail_is_safe_to_show_and_save(
        given: str | None, shown: str | None) -> None:
    """Mail and platforms give a file's name as its sender wrote it: a path that
    climbs out of a folder, a bidi override that turns an .exe into a .pdf on
    the agent's screen, 10 KB of name. Every connector's attachments pass here."""
    assert Attachment(kind="document", name=given).name == shown


@pytest.mark.parametrize(("given", "shown"), [
    ("Анна", "Анна"),
    # U+202E (right-to-left override) shows "\u202eevil" as "live"; LRM, isolates, NUL, a line break
    ("\u202eevil", "evil"),
    ("\u2067An\u200fna\u2069 \x00Smith\n", "Anna Smith"),
    ("👩\u200d💻 Anna", "👩\u200d💻 Anna"),  # the joiner of an emoji sequence is kept
    ("\u202e\u200e  ", None),
    (None, None),
])
def test_a_customers_name_from_any_connector_is_shown_as_written(given: str | None, shown: str | None) -> None:
    """A name is the customer's to choose, whatever they put in it: every connector's
    ``sender_name`` passes here, as agents' names are checked (router.controls)."""
    message = InboundMessage(channel="webchat", external_id="m1", sender=IdentityRef(kind="webchat", value="v"),
                             sender_name=given)
    assert message.sender_name == shown
