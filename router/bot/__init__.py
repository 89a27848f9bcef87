"""The bot: answers simple questions, hands the rest to people with context."""

from pathlib import Path

from router.bot.base import Bot, BotError, BotReply, BotTurn, HandoffReason, NoBot, ReplyKind
from router.bot.config import BOT_FILE, BotFile, load_bot_config
from router.bot.desk import BotDesk
from router.bot.faq import FaqBot
from router.bot.rasa import RasaBot
from router.bot.semantic import Encoder

__all__ = [
    "BOT_FILE", "Bot", "BotDesk", "BotError", "BotFile", "BotReply", "BotTurn", "FaqBot", "HandoffReason", "NoBot",
    "RasaBot", "ReplyKind", "load_bot_config", "make_bot",
]


def make_bot(config: BotFile | None, cache: Path | None = None, encoder: Encoder | None = None) -> Bot:
    """The bot bot.yaml asks for; ``NoBot`` without one. ``cache``: a folder
    for what the builtin bot computes from its examples (None: nothing kept);
    ``encoder``: an embedding model loaded already (a reload's)."""
    if config is None:
        return NoBot()
    if config.engine == "external":
        assert config.external is not None  # checked when the file loaded
        return RasaBot(config.external, config.human_request)
    return FaqBot(config, encoder=encoder, cache=cache)
