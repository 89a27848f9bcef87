"""Questions waiting for the bot's model wait in the bot's own queue: the
event loop's worker threads (a file being written, the store's large
batches) stay free for everyone else meanwhile."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from router.bot import BotError, FaqBot, HandoffReason
from router.bot.config import BotFile
from router.bot.e5 import E5Encoder
from tests.conftest import HANG, eventually
from tests.router.bot.conftest import turn
from tests.router.bot.test_off_loop import HeldEncoder

# asyncio's default executor has this many threads (concurrent.futures.ThreadPoolExecutor's default)
LOOP_WORKERS = min(32, (os.cpu_count() or 1) + 4)


async def test_questions_waiting_for_the_model_leave_the_loops_worker_threads_free(
    shipped: BotFile, encoder: E5Encoder,
) -> None:
    held = HeldEncoder(encoder)
    bot = FaqBot(shipped, encoder=held)
    await asyncio.to_thread(bot.load)  # the examples embedded without a hold
    held.hold = True
    # more questions than the loop has worker threads, the first one held inside the model
    asking = [asyncio.create_task(bot.respond(turn(f"сколько стоит доставка в город номер {n}?")))
              for n in range(LOOP_WORKERS + 1)]
    try:
        async def inside() -> bool:
            return held.entered.is_set()

        await eventually(inside, "a question inside the model")
        async with asyncio.timeout(HANG):
            assert await asyncio.to_thread(lambda: "written") == "written"
        assert not any(task.done() for task in asking)  # still waiting for the model
        # nothing of the model is needed to see that a customer wants a person: answered meanwhile
        async with asyncio.timeout(HANG):
            asked = await bot.respond(turn("позовите человека пожалуйста"))
        assert asked.reason is HandoffReason.ASKED_FOR_HUMAN
    finally:
        held.release.set()  # a failed assertion must not leave the held questions waiting out HANG
    async with asyncio.timeout(HANG):
        replies = await asyncio.gather(*asking)
    assert not held.on_a_loop, "the embedding ran on the event loop"
    # each question answered by the matcher (what it decided is the matching tests' business)
    assert all(reply.reason is not HandoffReason.BOT_FAILED and reply.candidates for reply in replies)


async def test_the_matcher_thread_ends_when_the_bot_closes_and_a_late_turn_starts_none(
    shipped: BotFile, encoder: E5Encoder,
) -> None:
    bot = FaqBot(shipped, encoder=encoder)
    others = set(threading.enumerate())  # other tests' bots may hold matcher threads of their own
    async with bot:
        await bot.ready()
        await bot.respond(turn("сколько стоит доставка?"))
        first = [t for t in set(threading.enumerate()) - others if t.name.startswith("bot-matcher")]
        assert first
    for thread in first:
        await asyncio.to_thread(thread.join, HANG)  # shut down on close
        assert not thread.is_alive()
    before = set(threading.enumerate())
    with pytest.raises(BotError):
        await bot.respond(turn("сколько стоит доставка?"))  # a late turn: the desk hands it to people
    assert not [t.name for t in set(threading.enumerate()) - before if t.name.startswith("bot-matcher")]
