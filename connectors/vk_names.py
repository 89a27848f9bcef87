"""Senders' names for the VK connector, from ``users.get``.

A VK event carries a user id, not a name. A name is cached once known, and the
lookups of many new senders are folded into one call (VK takes up to 1000 ids).
The calls are paced here, on the loop, and the ids are taken only once a call
may start: ids that come in while it waits for its turn join it, instead of
waiting a whole interval more for the next (behind vk-api's sleep in its thread,
a burst of new senders waited 1-2 s, and past ``NAME_WAIT`` lost their names).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import requests
import vk_api

log = logging.getLogger(__name__)

NAME_WAIT = 2.0  # a message is stored without a name rather than held longer
MAX_NAMES = 50_000
MAX_USERS_PER_CALL = 1000

UsersGet = Callable[[str, dict[str, Any]], Awaitable[Any]]


class Names:
    """Cached names, each new one looked up at most ``per_second`` calls a second."""

    def __init__(self, call: UsersGet, per_second: float) -> None:
        self._call = call
        self._interval = 1.0 / per_second
        self._next_call = 0.0  # the loop's clock: when the next users.get may start
        self._known: OrderedDict[int, str | None] = OrderedDict()
        self._waiting: dict[int, list[asyncio.Future[str | None]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def get(self, user_id: int) -> str | None:
        if user_id in self._known:
            self._known.move_to_end(user_id)
            return self._known[user_id]
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(user_id, []).append(future)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._fetch(), name="vk-users-get")
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation (gh-86296)
            async with asyncio.timeout(NAME_WAIT):
                return await asyncio.shield(future)
        except TimeoutError:
            log.info("vk: no name for user %d within %gs, storing the message without it", user_id, NAME_WAIT)
            return None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _fetch(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            if (wait := self._next_call - loop.time()) > 0:
                log.debug("vk: users.get waits %.1fs for its turn, for %d sender(s) so far", wait, len(self._waiting))
                await asyncio.sleep(wait)
            ids = list(self._waiting)[:MAX_USERS_PER_CALL]
            batch = {i: self._waiting.pop(i) for i in ids}
            try:
                names = await self._lookup(ids)
            finally:
                # counted from the answer, as vk-api counts its own pace: its sleep then never waits
                self._next_call = loop.time() + self._interval
            for user_id, futures in batch.items():
                name = names.get(user_id)
                if user_id in names:
                    self._remember(user_id, name)
                for future in futures:
                    if not future.done():
                        future.set_result(name)

    async def _lookup(self, ids: list[int]) -> dict[int, str | None]:
        try:
            users = await self._call("users.get", {"user_ids": ",".join(map(str, ids))})
        except (vk_api.VkApiError, requests.RequestException) as exc:
            log.warning("vk: users.get for %d user(s) failed: %s", len(ids), exc)
            return {}
        names: dict[int, str | None] = {i: None for i in ids}
        for user in users if isinstance(users, list) else []:
            full = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
            names[int(user["id"])] = full[:256] or None
        return names

    def _remember(self, user_id: int, name: str | None) -> None:
        self._known[user_id] = name
        while len(self._known) > MAX_NAMES:
            self._known.popitem(last=False)
