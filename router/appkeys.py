"""Typed keys of the app state, shared by the app factory and the console."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aiohttp import web

from connectors.base import Connector
from router.bus import EventBus
from router.config import Settings
from router.core import Router
from router.metrics import Metrics
from router.outbox.service import OutboxWorker
from router.routing.assignment import Assigner
from router.routing.rules.reload import RulesReloader
from router.startup import StartupTimes
from router.store import Store

SETTINGS = web.AppKey("settings", Settings)
CONFIG_DIR = web.AppKey("config_dir", Path)
STORE = web.AppKey("store", Store)
BUS = web.AppKey("bus", EventBus)
METRICS = web.AppKey("metrics", Metrics)
ROUTER = web.AppKey("router", Router)
CONNECTORS = web.AppKey("connectors", Mapping[str, Connector])
OUTBOX = web.AppKey("outbox", OutboxWorker)
ASSIGNER = web.AppKey("assigner", Assigner)
# set only when routing by rules.yaml
RULES_RELOADER = web.AppKey("rules_reloader", RulesReloader)
STARTUP = web.AppKey("startup", StartupTimes)
