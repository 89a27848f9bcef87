"""The pipeline's lag gauge and the admission it controls
(router/ingest/pressure.py), on a clock the test moves: the service's own
behaviour under overload is tests/connectors/test_backpressure.py."""

from __future__ import annotations

import asyncio
from collections import deque

from router.connector import WEBHOOK_PATIENCE
from router.ingest.pressure import FIRST_RATE, HEADROOM, Pressure


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_lag_is_the_age_of_the_oldest_message_in_the_pipeline() -> None:
    clock = Clock()
    pressure = Pressure(2.0, clock)
    first = pressure.enter()
    clock.now += 1.0
    pressure.enter()
    clock.now += 2.5
    assert pressure.lag() >= 3.5 and pressure.over()
    assert pressure.retry_after() == 4  # about what the backlog takes to clear, in whole seconds
    pressure.leave(first)
    assert 2.5 <= pressure.lag() < 3.5


def test_a_crowd_let_in_at_once_is_over_the_bound_by_the_wait_it_makes() -> None:
    clock = Clock()
    pressure = Pressure(1.0, clock)
    # two seconds of work (with the headroom) before any was measured
    crowd = [pressure.enter() for _ in range(int(FIRST_RATE * 2 / HEADROOM))]
    assert pressure.over()
    for key in crowd[: int(FIRST_RATE * 1.5 / HEADROOM)]:
        pressure.leave(key)
    assert not pressure.over()


def test_the_rate_is_counted_over_busy_time_so_a_burst_at_light_load_is_no_alarm() -> None:
    clock = Clock()
    pressure = Pressure(1.0, clock)
    for _ in range(30):  # light load: one message at a time, 25 ms each, 25 ms apart
        key = pressure.enter()
        clock.now += 0.025
        pressure.leave(key)
        clock.now += 0.025
    assert abs(pressure.rate() - 40) < 1  # what it gets through while busy, not the 20 a second offered
    burst = [pressure.enter() for _ in range(15)]
    assert not pressure.over()  # 0.75 s of work, with the headroom
    burst += [pressure.enter() for _ in range(10)]
    assert pressure.over()  # 1.25 s


def test_a_group_commit_is_no_measure_of_the_rate() -> None:
    clock = Clock()
    pressure = Pressure(1.0, clock)
    keys = [pressure.enter() for _ in range(40)]
    clock.now += 0.001
    for key in keys:  # forty messages through in one commit of a millisecond
        pressure.leave(key)
    assert pressure.rate() == FIRST_RATE


async def test_room_answers_at_once_under_the_bound_and_lets_waiters_in_as_messages_leave() -> None:
    clock = Clock()
    pressure = Pressure(1.0, clock)
    assert await pressure.room(0)
    stuck = pressure.enter()
    clock.now += 5
    assert not await pressure.room(0)  # a webhook's patience: refused at once
    waiters = [asyncio.create_task(pressure.room(None)) for _ in range(2)]
    await asyncio.sleep(0)
    assert pressure.waiting == 2 and not any(w.done() for w in waiters)
    pressure.leave(stuck)
    assert await asyncio.wait_for(waiters[0], 60)  # the first to come, first in
    assert await asyncio.wait_for(waiters[1], 60)
    assert pressure.waiting == 0


async def test_webhooks_take_turns_with_a_crowd_of_patient_senders() -> None:
    """Webhooks (a short patience: the platform waits for the answer) are let in
    while hundreds of patient senders (site chat, pollers) wait too, not only
    once the whole crowd is through."""
    clock = Clock()  # never moves: the lag is the wait the pipeline's crowd makes
    pressure = Pressure(1.0, clock)
    inside = deque(pressure.enter() for _ in range(int(FIRST_RATE / HEADROOM)))
    assert pressure.over()
    let_in: list[str] = []

    async def sender(kind: str, patience: float | None) -> None:
        if await pressure.room(patience):
            let_in.append(kind)
            inside.append(pressure.enter())

    senders = [asyncio.create_task(sender("chat", None)) for _ in range(200)]
    senders += [asyncio.create_task(sender("webhook", WEBHOOK_PATIENCE)) for _ in range(5)]
    await asyncio.sleep(0)
    assert pressure.waiting == 205
    for _ in range(20):  # twenty places freed, one at a time
        pressure.leave(inside.popleft())
        for _ in range(3):
            await asyncio.sleep(0)
    assert let_in.count("webhook") == 5, let_in
    assert let_in.count("chat") >= 10  # the patient ones still get their turns
    for task in senders:
        task.cancel()
    await asyncio.gather(*senders, return_exceptions=True)
    assert pressure.waiting == 0


async def test_senders_that_gave_up_are_skipped_and_no_longer_counted() -> None:
    clock = Clock()
    pressure = Pressure(1.0, clock)
    inside = [pressure.enter() for _ in range(int(FIRST_RATE / HEADROOM))]
    gone = [asyncio.create_task(pressure.room(None)) for _ in range(1000)]
    await asyncio.sleep(0)
    last = asyncio.create_task(pressure.room(None))
    await asyncio.sleep(0)
    for task in gone:  # a thousand tabs closed while they waited
        task.cancel()
    await asyncio.gather(*gone, return_exceptions=True)
    assert pressure.waiting == 1
    pressure.leave(inside[0])
    assert await asyncio.wait_for(last, 60)  # the one still waiting is let in at the first place freed
    assert pressure.waiting == 0


async def test_a_place_freed_while_a_cancelled_sender_has_not_yet_left_is_kept_for_the_next() -> None:
    """A sender's task cancelled (a webhook's client hung up, a tab closed) is
    out of the queue at once but off the count only when its task runs next: a
    message leaving in between must neither fail (it once raised IndexError in
    the pipeline's own callback) nor lose the place."""
    clock = Clock()
    pressure = Pressure(1.0, clock)
    inside = [pressure.enter() for _ in range(int(FIRST_RATE / HEADROOM))]
    waiter = asyncio.create_task(pressure.room(None))
    await asyncio.sleep(0)
    assert pressure.waiting == 1
    waiter.cancel()
    pressure.leave(inside[0])  # before the cancelled task has run again
    await asyncio.gather(waiter, return_exceptions=True)
    assert waiter.cancelled() and pressure.waiting == 0
    pressure.leave(inside[1])
    assert await asyncio.wait_for(pressure.room(None), 60)  # the next sender gets in
