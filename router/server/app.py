"""The application factory: builds the aiohttp app and ties every component's
lifecycle to it (started in order, stopped in reverse by ``cleanup_ctx``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from agents_ui import setup_console
from agents_ui.endpoints import JSON_BODY_BYTES, REQUEST_LINE_BYTES
from connectors import connector_class
from router.accounts.service import ADMIN_ENV
from router.aio import cancel_and_wait
from router.appkeys import (
    ASSIGNER,
    BOT_RELOADER,
    BUS,
    CONFIG_DIR,
    CONNECTORS,
    CONVERSATIONS,
    MERGER,
    METRICS,
    OUTBOX,
    ROUTER,
    RULES_RELOADER,
    SETTINGS,
    SIGNALS,
    STORE,
)
from router.bot import BOT_FILE, Bot, BotFile, load_bot_config, make_bot
from router.bot.reload import BotReloader, Install
from router.bus import EventBus
from router.client_address import trusted_proxy_middleware
from router.cluster.node import node_id
from router.config import Settings
from router.connector import Connector, HostBusy, HostFailed, HostUnavailable
from router.core import Router
from router.csat.config import load_csat_config
from router.fetch import FetchLimits, GuardedFetcher, allow_list
from router.hotreload import Reloader, watch
from router.identity.merging import Merger
from router.identity.service import IdentityRules, load_identity_config
from router.metrics import Metrics
from router.models import ConversationStatus
from router.outbox.service import OutboxWorker
from router.redaction import MIN_SECRET_LENGTH, install_log_filter, register
from router.reports.prometheus import report_metrics
from router.routing.assignment import Assigner
from router.routing.decide import Routing, assignment_policy, make_routing
from router.routing.rules import RulesRouting
from router.routing.rules.reload import RulesReloader
from router.server.cluster import (
    LEADERSHIP,
    NODE,
    cluster_ctx,
    config_differs,
    events_ctx,
    join_events,
    leading,
    make_leadership,
    share_state,
    sweeper_ctx,
)
from router.server.files import FILES, files_ctx, make_files
from router.server.search import search_ctx
from router.server.settings import start_problems
from router.server.startup import STARTUP, StartupTimes
from router.server.wallboard import wallboard_ctx
from router.server.webhooks import webhooks_ctx
from router.signals.service import Signals
from router.store.base import Store
from router.store.errors import StoreError, StoreUnavailable
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from router.yamlconf import ConfigError, present

log = logging.getLogger(__name__)

# seconds /healthz waits for the store's answer (it queues behind the writes in flight)
HEALTH_TIMEOUT = 5.0

__all__ = [
    "BUS", "CONFIG_DIR", "CONNECTORS", "METRICS", "OUTBOX", "ROUTER", "SETTINGS", "STARTUP", "STORE", "StartupTimes",
    "create_app",
]


DATABASE_URL = "OMNIROUTER_DATABASE_URL"


def make_store(settings: Settings, base_dir: Path) -> Store:
    """The configured store, not opened yet. ``ConfigError`` for PostgreSQL
    without its URL."""
    if settings.store.backend == "postgres":
        dsn = os.environ.get(DATABASE_URL, "").strip()
        if not dsn:
            raise ConfigError([f"store.backend is postgres: set {DATABASE_URL} to its libpq URL"
                               " (postgresql://user:password@host:5432/database)"])
        return PostgresStore(dsn, settings.store.pool_size)
    path = Path(settings.store.path)
    if not path.is_absolute() and settings.store.path != ":memory:":
        path = base_dir / path
    return SQLiteStore(path, settings.store.synchronous, settings.store.writer, settings.store.cache_mb,
                       settings.store.group_commit_ms / 1000)


def cache_dir(settings: Settings, base_dir: Path) -> Path | None:
    """Where computed things are kept (``store.cache``, else ``cache`` beside
    the database); None for a database in memory: nothing goes to disk."""
    if settings.store.cache:
        return base_dir / settings.store.cache
    if settings.store.path == ":memory:":
        return None
    return (base_dir / settings.store.path).parent / "cache"


def build_connectors(settings: Settings, router: Router) -> dict[str, Connector[Any]]:
    """The connectors configured to run. ``ConfigError`` for one that must not
    start as configured (a webhook mode without its secret); its secrets are
    registered for redaction before anything of it can log."""
    built: dict[str, Connector[Any]] = {}
    fetcher = GuardedFetcher(FetchLimits(
        allow_hosts=allow_list(settings.fetch.allow_hosts), max_bytes=settings.fetch.max_bytes,
        timeout=settings.fetch.timeout, max_redirects=settings.fetch.max_redirects))
    for name, section in settings.connectors.items():
        if not section.enabled:
            log.info("connector %s (%s) is disabled", name, section.type)
            continue
        cls = connector_class(section.type)
        options = cls.parse_options(section.options())
        _register_secrets(f"connector {name}", {env: os.environ.get(env) for env in options.secret_envs()})
        if (reason := options.disabled_reason()) is not None:
            log.info("connector %s (%s) is off until configured: %s", name, section.type, reason)
            continue
        built[name] = connector = cls(name, options, router)
        connector.public_url = settings.server.public_url
        connector.fetcher = fetcher
    if problems := start_problems(settings):
        raise ConfigError(problems)
    return built


def _register_secrets(owner: str, values: dict[str, str | None]) -> None:
    too_short = set(register(values.values()))
    for env, value in values.items():
        if value in too_short:
            log.warning("%s: %s is shorter than %d characters: too short to be kept out of the logs",
                        owner, env, MIN_SECRET_LENGTH)


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    app[STARTUP].mark("other")
    async with app[STORE]:
        app[STARTUP].mark("store")
        yield


def load_bot(config_dir: Path | None, cache: Path | None = None) -> tuple[Bot, BotFile] | None:
    """The bot of ``config_dir/bot.yaml`` (``ConfigError`` with file:line when
    it is invalid, ``BotError`` when its model is not installed); None
    without one: conversations sent to the bot then wait for an agent.
    ``cache``: a folder for what the bot computes from its examples."""
    path = config_dir / BOT_FILE if config_dir is not None else None
    if path is None or not present(path):
        return None
    config = load_bot_config(path)
    bot = make_bot(config, cache)
    log.info("bot from %s: %s, %d intent(s)", path, config.engine, len(config.intents))
    return bot, config


def _share_vocabulary(routing: Routing, bot: Bot, config: BotFile) -> None:
    """One vocabulary of asking for a person: the current rules file's with bot.yaml's."""
    if isinstance(routing, RulesRouting):
        routing.extra_human_request = tuple(config.human_request)
        bot.vocabulary = lambda: routing.human_request


def _install_bot(app: web.Application, routing: Routing) -> Install:
    """How a reloaded bot.yaml's bot is swapped in: with its phrases, in one step."""
    def install(bot: Bot, config: BotFile) -> None:
        _share_vocabulary(routing, bot, config)
        app[ROUTER].use_bot(bot, config)

    return install


async def _bot_ctx(app: web.Application) -> AsyncIterator[None]:
    desk = app[ROUTER].bot_desk
    if desk is None:
        yield
        return
    await desk.bot.__aenter__()  # an external bot's HTTP session, the builtin one's warm-up
    yield
    await desk.close()  # after the router drained its turns: the running bot, and those a reload replaced


async def _router_ctx(app: web.Application) -> AsyncIterator[None]:
    await app[ROUTER].ingest.resume()
    yield
    await app[ROUTER].ingest.drain(app[SETTINGS].server.shutdown_timeout)
    app[BUS].close()


async def _connectors_ctx(app: web.Application) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for connector in app[CONNECTORS].values():
            await stack.enter_async_context(connector)
        yield


async def _reload_ctx(app: web.Application) -> AsyncIterator[None]:
    # one watcher of the hot config files: rules.yaml with teams.yaml and csat.yaml, bot.yaml
    reloaders: list[Reloader] = [r for r in (app.get(RULES_RELOADER), app.get(BOT_RELOADER)) if r is not None]
    task = asyncio.create_task(watch(reloaders), name="config-reload") if reloaders else None
    yield
    if task is not None:
        await cancel_and_wait(task)


async def _signals_ctx(app: web.Application) -> AsyncIterator[None]:
    # keeps the memory of customers' open conversations true (a resolve forgets one)
    task = asyncio.create_task(app[SIGNALS].run(), name="signals")
    yield
    await cancel_and_wait(task)


async def _assigner_ctx(app: web.Application) -> AsyncIterator[None]:
    # its own task: ingest only publishes events, never waits for assignment. One node
    # of a cluster runs it (its rounds, the offers' timeouts, the SLA sweep, which
    # announces each breach once): the node that leads "assigner"
    async def assign() -> None:
        app[ASSIGNER].wakeup.set()  # conversations queued before a restart, or before this node led
        await app[ASSIGNER].run()

    task = asyncio.create_task(app[LEADERSHIP].run("assigner", assign), name="assigner")
    yield
    await cancel_and_wait(task)


async def _outbox_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[OUTBOX].run(), name="outbox")
    yield
    await cancel_and_wait(task)


async def _close_clients(app: web.Application) -> None:
    for connector in app[CONNECTORS].values():
        await connector.close_clients()


RETRY_AFTER = 5  # seconds a refused sender is asked to wait while the store is down


def unavailable_response(reason: str, error: str = "store_unavailable", retry_after: int = RETRY_AFTER
                         ) -> web.Response:
    """503 with the reason: nothing was stored, the sender may try again."""
    return web.json_response({"status": "unavailable", "error": error, "reason": reason},
                             status=503, headers={"Retry-After": str(retry_after)})


async def retry_after(_: web.Request, response: web.StreamResponse) -> None:
    """Every 503 the server sends says when to try again (a client, a load balancer, a platform
    redelivering): the ones that name no time of their own (``/healthz``, a file storage down, a
    connector's) are given ``RETRY_AFTER``."""
    if response.status == 503 and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(RETRY_AFTER)


@web.middleware
async def store_outage(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A store outage met by any handler (a webhook's message, a page) is a
    503 with the reason, not a 500 and a traceback per request: the outage is
    logged once by the store, as it starts and as it ends. A message the
    core could not take for another reason (``HostFailed``, logged by the
    core) is a 500 with the reason, without aiohttp's second traceback."""
    try:
        return await handler(request)
    except StoreUnavailable as exc:
        return unavailable_response(exc.reason)
    except HostBusy as exc:  # over the lag bound (router/ingest/pressure.py): the platform delivers it again
        return unavailable_response(exc.reason, "overloaded", exc.retry_after)
    except HostUnavailable as exc:
        return unavailable_response(exc.reason)
    except HostFailed as exc:
        # the core logged it with its traceback; the platform delivers again on a 5xx
        return web.json_response({"status": "failed", "error": "not_stored", "reason": exc.reason}, status=500)


async def healthz(request: web.Request) -> web.Response:
    """ok only when a message could be stored now: a load balancer or a
    service manager then stops sending to (or restarts) a server whose
    database is gone, instead of one that merely answers HTTP. With a bot,
    ``bot`` says whether it is ready or still warming up ("starting": its
    turns wait), which does not make the service unhealthy: messages are
    stored and acknowledged all the same."""
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            await request.app[STORE].ping()
    except (StoreError, TimeoutError) as exc:
        reason = str(exc) or f"the store did not answer within {HEALTH_TIMEOUT:g} s"
        log.debug("healthz: the store is unavailable: %s", reason)  # the store logs the outage, once
        return web.json_response({"status": "unavailable", "store": reason, "node": request.app[NODE]}, status=503)
    desk = request.app[ROUTER].bot_desk
    answer: dict[str, object] = {"status": "ok", "node": request.app[NODE]}
    if (leads := leading(request.app)) is not None:  # in a cluster: the singletons this node runs
        answer["leads"] = leads
    if differs := config_differs(request.app):  # nodes whose rules.yaml, teams.yaml... are not this one's
        answer["config_differs"] = differs
    return web.json_response(answer if desk is None else {**answer, "bot": desk.bot.readiness})


async def metrics(request: web.Request) -> web.Response:
    app = request.app
    counts = await app[STORE].count_conversations()
    await report_metrics(app).catch_up()  # the reports' figures, from the event log (router.reports.prometheus)
    m = app[METRICS]
    for status, count in counts.items():
        m.conversations.labels(status.value).set(count)
    m.queue_length.set(counts[ConversationStatus.QUEUED])
    return web.Response(body=m.render(), content_type="text/plain", charset="utf-8")


def _reloaders(app: web.Application, routing: Routing, bot: BotFile | None, cache: Path | None) -> None:
    """Who reloads the hot config files (``_reload_ctx`` watches them)."""
    if isinstance(routing, RulesRouting):  # reloads csat.yaml with the rules: it names their teams
        app[RULES_RELOADER] = RulesReloader(routing, app[BUS], surveys=app[ROUTER].surveys)
    desk = app[ROUTER].bot_desk
    if bot is not None and desk is not None:
        app[BOT_RELOADER] = BotReloader(app[CONFIG_DIR] / BOT_FILE, bot, lambda: desk.bot,
                                        _install_bot(app, routing), app[BUS], cache)


def _merger(app: web.Application, identity: IdentityRules) -> Merger:
    router = app[ROUTER]
    desk = router.bot_desk
    # the router's clock, read when used: tests and tools swap it later
    return Merger(app[STORE], app[BUS], identity, lambda: router.clock(),  # noqa: PLW0108
                  bot_turn=desk.schedule if desk is not None else None)


def create_app(
    settings: Settings, config_dir: Path | None = None, base_dir: Path | None = None,
    startup: StartupTimes | None = None,
) -> web.Application:
    """``base_dir`` anchors relative store paths (the working directory by default).
    Routing rules are read only from an explicit ``config_dir`` (``omnirouter
    run`` always gives one): without it, every conversation goes to the default team.
    Nothing is created here (no file, no folder): that waits for the app's start."""
    # first of all: every handler after it sees the client's address, not the proxy's
    middlewares: list[Middleware] = []
    if settings.server.trusted_proxies:
        middlewares.append(trusted_proxy_middleware(settings.server.trusted_proxies, settings.server.forwarded_header))
    middlewares.append(store_outage)
    app = web.Application(client_max_size=JSON_BODY_BYTES, middlewares=middlewares,
                          handler_args={"max_line_size": REQUEST_LINE_BYTES})
    # secrets are redacted from every log line from here on, whoever writes it
    install_log_filter()
    _register_secrets("console", {ADMIN_ENV: os.environ.get(ADMIN_ENV)})
    app[SETTINGS] = settings
    app[STARTUP] = startup or StartupTimes()
    app[CONFIG_DIR] = config_dir or Path("config")
    # every config file is read and checked first: a broken one (ConfigError,
    # file:line) stops the start before the store or anything else exists
    base_dir = base_dir or Path.cwd()
    identity = IdentityRules(load_identity_config(app[CONFIG_DIR]))
    routing = make_routing(settings.routing, config_dir)
    policy = assignment_policy(routing, config_dir)
    bot = load_bot(config_dir, cache_dir(settings, base_dir))
    csat = load_csat_config(config_dir)
    if bot is not None:
        _share_vocabulary(routing, *bot)
    app[STORE] = make_store(settings, base_dir)
    app[NODE] = node_id()
    app[LEADERSHIP] = make_leadership(app[STORE], app[NODE])
    app[BUS] = EventBus()
    app[METRICS] = Metrics(app[NODE])
    absent = settings.console.absent_minutes
    app[ASSIGNER] = Assigner(app[STORE], app[BUS], policy,
                             absent_after=timedelta(minutes=absent) if absent else None)
    if bot is None and isinstance(routing, RulesRouting) and routing.ruleset.sends_to_bot():
        log.warning("rules send conversations to the bot, but there is no %s: they wait for an agent", BOT_FILE)
    app[ROUTER] = Router(app[STORE], app[BUS], routing, app[METRICS], identity=identity,
                         bot=bot[0] if bot else None, bot_messages=bot[1].messages if bot else None,
                         bot_config=bot[1] if bot else None, csat=csat, lag_bound=settings.server.lag_bound,
                         # agents' takes, assignments, reopens and replies keep the capacity offers keep
                         capacity_of=app[ASSIGNER].capacity_of,
                         # who may answer a team's customers now: the site chat's status line
                         answerers=app[ASSIGNER].answerers)
    _reloaders(app, routing, bot[1] if bot else None, cache_dir(settings, base_dir))
    app[MERGER] = _merger(app, identity)
    app[CONVERSATIONS] = app[ROUTER].conversations
    app[CONNECTORS] = build_connectors(settings, app[ROUTER])
    app[SIGNALS] = Signals(app[STORE], app[BUS])
    app[SIGNALS].connect(app[CONNECTORS])
    app[FILES] = make_files(settings, app[STORE], base_dir)
    for connector in app[CONNECTORS].values():
        connector.leadership = app[LEADERSHIP]  # a poller runs once per cluster
        connector.signals = app[SIGNALS]  # where its customers' typing goes
        connector.files = app[FILES]
    share_state(app, settings)
    # the connectors take the core as their host, so what they are is handed to it after them, once
    app[ROUTER].connect(app[CONNECTORS])
    # the entries it sends are leased to this node's id: OMNIROUTER_NODE_ID, kept across a
    # restart, resumes its unfinished sends at once; a generated one after the leases run out
    app[OUTBOX] = OutboxWorker(
        app[STORE], app[BUS], app[CONNECTORS], settings.outbox, app[METRICS], app[ROUTER].outbox_wakeup,
        node=app[NODE],
    )
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    join_events(app)
    for connector in app[CONNECTORS].values():
        connector.setup_routes(app)
    app.cleanup_ctx.extend([
        _store_ctx, cluster_ctx, events_ctx, webhooks_ctx, _bot_ctx, _signals_ctx, _router_ctx, files_ctx,
        _connectors_ctx,
        _outbox_ctx, _assigner_ctx, _reload_ctx, sweeper_ctx, search_ctx,
        wallboard_ctx,
    ])
    app.on_shutdown.append(_close_clients)
    app.on_response_prepare.append(retry_after)
    setup_console(app)
    return app
