"""An answer in a resolved thread within the reopen window (rules.yaml's
``reopen``): it reopens the conversation of the thread it answers, even when
the customer has a later resolved one; someone else's answer in it opens a
new conversation of theirs. Real SQLite store and bus."""

from __future__ import annotations

from router.core import Router
from router.models import Agent, ConversationStatus
from router.routing.decide import DefaultTeamRouting
from router.routing.rules.schema import Reopen
from tests.router.test_threads import agent, mail, router

__all__ = ["agent", "router"]  # the fixtures, shared with test_threads


def _window(router: Router, seconds: float) -> None:
    assert isinstance(router.routing, DefaultTeamRouting)
    router.routing.reopen = Reopen(within=seconds)


async def _handled_and_resolved(router: Router, agent: Agent, external_id: str) -> str:
    accepted = await router.on_message(mail(external_id))
    assert accepted.conversation_id is not None
    await router.conversations.assign(accepted.conversation_id, agent)
    await router.conversations.resolve(accepted.conversation_id, agent)
    return accepted.conversation_id


async def test_an_answer_in_a_resolved_thread_reopens_that_threads_conversation(router: Router, agent: Agent) -> None:
    older = await _handled_and_resolved(router, agent, "m1@x")
    # a later message (not in that thread) would have reopened the older; with a window of 0 it opens a new one
    _window(router, 0)
    later = await _handled_and_resolved(router, agent, "m2@x")
    assert later != older
    _window(router, 24 * 3600)
    again = await router.on_message(mail("m3@x", replies_to=["m1@x"]))
    assert again.conversation_id == older
    assert (await router.store.get_conversation(older)).status is ConversationStatus.QUEUED
    assert (await router.store.get_conversation(later)).status is ConversationStatus.RESOLVED


async def test_someone_elses_answer_in_a_resolved_thread_opens_a_conversation_of_theirs(
    router: Router, agent: Agent
) -> None:
    thread = await _handled_and_resolved(router, agent, "m1@x")
    other = await router.on_message(mail("m2@y", "boris@example.com", replies_to=["m1@x"]))
    assert other.conversation_id not in (None, thread)
    assert (await router.store.get_conversation(thread)).status is ConversationStatus.RESOLVED
    [stored] = await router.store.list_messages(other.conversation_id or "", 10)
    assert stored.core.follows_conversation == thread
