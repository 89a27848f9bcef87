"""Hot reload of bot.yaml, as rules.yaml's (``router.routing.rules.reload``).

A changed file is loaded and checked completely off the event loop, and its
bot built there too: the builtin bot's matcher embeds the examples (with the
running bot's model, the cache folder's vectors for the examples it knows,
the new ones embedded: seconds for a new model, less for an edit). Only then
is it swapped in, in one step on the event loop (``install``): the next turn
answers with it, a turn in flight finishes with the bot it began with
(``router.bot.desk``). An invalid file is refused with its ``file:line``
problems, the running bot stays, and the problems are kept for the console.

Only a bot that ran from the start is reloaded: a bot.yaml that goes while
the service runs is refused (the running bot stays), and one that appears
where there was none applies at the next start."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from router import events
from router.bot import make_bot
from router.bot.base import Bot, BotError
from router.bot.config import BotFile, load_bot_config
from router.bot.faq import FaqBot
from router.bus import EventBus
from router.hotreload import stamp
from router.models import utcnow
from router.yamlconf import ConfigError

log = logging.getLogger(__name__)


@dataclass
class BotStatus:
    path: str
    loaded_at: datetime
    # the problems of the last attempt, when it was refused
    problems: list[str] = field(default_factory=list)
    refused_at: datetime | None = None


@dataclass(frozen=True)
class _Loaded:
    config: BotFile
    bot: Bot | None  # None: the same as the running file (touched, or fixed back)


# swaps a new bot in (entered already): the desk's bot, its messages, the vocabulary the rules share
Install = Callable[[Bot, BotFile], None]


class BotReloader:
    def __init__(
        self, path: Path, config: BotFile, current: Callable[[], Bot], install: Install, bus: EventBus,
        cache: Path | None = None, clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.path = path
        self.config = config  # the running bot's
        self.current = current
        self.install = install
        self.bus = bus
        self.cache = cache
        self.clock = clock
        self._seen = stamp([path])
        self.status = BotStatus(str(path), clock())
        self.started_at = self.status.loaded_at

    def _load_if_changed(self) -> _Loaded | ConfigError | None:
        """Blocking (the file, the model): run off the event loop. None when nothing changed."""
        seen = stamp([self.path])
        if seen == self._seen:
            return None
        self._seen = seen
        if seen[0] is None:
            return ConfigError([f"{self.path}: the file is gone: the running bot stays until the next start, "
                                "which starts without a bot"])
        try:
            config = load_bot_config(self.path)
        except ConfigError as exc:
            return exc
        if config == self.config:
            return _Loaded(config, None)
        running = self.current()
        try:
            bot = make_bot(config, self.cache, running.encoder if isinstance(running, FaqBot) else None)
            if isinstance(bot, FaqBot):
                bot.load()  # the matcher, its examples embedded: the seconds are spent here, not in a turn
        except BotError as exc:
            return ConfigError([f"{self.path}: {exc}"])
        return _Loaded(config, bot)

    async def _apply(self, loaded: _Loaded | ConfigError | None) -> bool:
        """On the event loop: swap the new bot in, or keep the running one and say why."""
        if loaded is None:
            return False
        if isinstance(loaded, ConfigError):
            self.status.problems, self.status.refused_at = loaded.problems, self.clock()
            log.error("bot not reloaded, the running bot stays:\n%s", "\n".join(loaded.problems))
            self.bus.publish(events.bot_refused(len(loaded.problems)))
            return False
        if loaded.bot is None:
            if self.status.problems:
                log.info("%s is the running bot's again", self.path)
                self.status = BotStatus(str(self.path), self.clock())
            return False
        bot = await loaded.bot.__aenter__()
        self.install(bot, loaded.config)  # one step: the next turn answers with all of the new file
        self.config = loaded.config
        self.status = BotStatus(str(self.path), self.clock())
        log.info("bot reloaded from %s: %s, %d intent(s)", self.path, loaded.config.engine,
                 len(loaded.config.intents))
        self.bus.publish(events.bot_reloaded(len(loaded.config.intents)))
        return True

    async def reload(self) -> bool:
        """Reload now if bot.yaml changed since the last look; True when a new bot answers."""
        return await self._apply(await asyncio.to_thread(self._load_if_changed))

