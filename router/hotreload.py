"""The hot config files' one watcher: a simple mtime poll of rules.yaml,
teams.yaml and csat.yaml (``router.routing.rules.reload``) and bot.yaml
(``router.bot.reload``). Each reloader reads and checks its changed files
off the event loop and swaps the result in on it; this loop only asks each
of them in turn, so a slow one (the bot's matcher embeds its examples)
delays the next look, never the loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

# seconds between two looks at the files
INTERVAL = 1.0


def stamp(paths: Sequence[Path]) -> tuple[tuple[int, int] | None, ...]:
    """What says a file changed: its mtime and size, None while it is absent."""
    stamps: list[tuple[int, int] | None] = []
    for path in paths:
        try:
            st = path.stat()
        except FileNotFoundError:
            stamps.append(None)
            continue
        stamps.append((st.st_mtime_ns, st.st_size))
    return tuple(stamps)


class Reloader(Protocol):
    async def reload(self) -> bool:
        """Load a changed file off the event loop and swap it in (or refuse
        it and say why); True when new config is active."""
        ...


async def watch(reloaders: Sequence[Reloader], interval: float = INTERVAL) -> None:
    """Ask every reloader, every ``interval`` seconds, until cancelled."""
    while True:
        await asyncio.sleep(interval)
        for reloader in reloaders:
            try:
                await reloader.reload()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in one must not stop the others' reloads, nor this loop
                log.exception("reloading the config failed (%s)", type(reloader).__name__)
