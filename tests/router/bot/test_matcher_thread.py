"""Questions waiting for the bot's model wait in the bot's own queue: the
event loop's worker threads (a file being written, the store's large
batches) stay free for everyone else meanwhile."""

from __future__ import annotations

import asyncio
import os

from router.bot import FaqBot, HandoffReason
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

    async def inside() -> bool:
        return held.entered.is_set()

    await eventually(inside, "a question inside the model")
    async with asyncio.timeout(HANG):
        assert await asyncio.to_thread(lambda: "written") == "written"
    assert not any(task.done() for task in asking)  # still waiting for the model

    held.release.set()
    async with asyncio.timeout(HANG):
        replies = await asyncio.gather(*asking)
    assert not held.on_a_loop, "the embedding ran on the event loop"
    # each question answered by the matcher (what it decided is the matching tests' business)
    assert all(reply.reason is not HandoffReason.BOT_FAILED and reply.candidates for reply in replies)
