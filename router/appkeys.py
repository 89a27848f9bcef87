"""Typed keys of the app state, shared by the app factory and the console
(the server's own, such as its start-up times, live in ``router/server/``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from router.bot.reload import BotReloader
from router.bus import EventBus
from router.config import Settings
from router.connector import Connector
from router.conversations.service import Conversations
from router.core import Router
from router.files.service import Files
from router.identity.merging import Merger
from router.metrics import Metrics
from router.outbox.service import OutboxWorker
from router.routing.assignment import Assigner
from router.routing.rules.reload import RulesReloader
from router.signals.service import Signals
from router.store.base import Store
from router.wallboard.live import LiveWallboard
from router.webhooks.service import Webhooks, WebhookTap
from router.webhooks.worker import WebhookWorker

SETTINGS = web.AppKey("settings", Settings)
CONFIG_DIR = web.AppKey("config_dir", Path)
STORE = web.AppKey("store", Store)
BUS = web.AppKey("bus", EventBus)
METRICS = web.AppKey("metrics", Metrics)
ROUTER = web.AppKey("router", Router)
MERGER = web.AppKey("merger", Merger)
CONVERSATIONS = web.AppKey("conversations", Conversations)
CONNECTORS = web.AppKey("connectors", Mapping[str, Connector[Any]])
OUTBOX = web.AppKey("outbox", OutboxWorker)
FILES = web.AppKey("files", Files)
ASSIGNER = web.AppKey("assigner", Assigner)
SIGNALS = web.AppKey("signals", Signals)
WALLBOARD = web.AppKey("wallboard", LiveWallboard)
WEBHOOKS = web.AppKey("webhooks", Webhooks)
WEBHOOK_TAP = web.AppKey("webhook_tap", WebhookTap)
WEBHOOK_WORKER = web.AppKey("webhook_worker", WebhookWorker)
# set only when routing by rules.yaml
RULES_RELOADER = web.AppKey("rules_reloader", RulesReloader)
# set only when a bot.yaml was there at start
BOT_RELOADER = web.AppKey("bot_reloader", BotReloader)
