"""``omnirouter run``: the service on its port.

The order is what a person at the terminal needs: the configuration is read
and checked (``file:line`` errors), then the port is bound (one clear line
when it is taken), and only then is anything created (the database and
``var/``, the admin account). Whatever takes long and is not needed to
store and acknowledge a message (the bot's embedding model) warms up after
the port answers; a message that comes meanwhile waits for the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from router.bot import BOT_FILE, BotError
from router.cluster.postgres_leadership import NodeIdTaken
from router.config import Settings
from router.heap import settle_heap
from router.server.app import DATABASE_URL, STARTUP, STORE, StartupTimes, create_app
from router.server.bad_requests import quiet_bad_requests
from router.server.cluster import NODE
from router.server.settings import load_settings, missing_main_file
from router.store.errors import SchemaTooNew, StoreMisconfigured, StoreUnavailable
from router.yamlconf import ConfigError

log = logging.getLogger("omnirouter")

# aiohttp's default
BACKLOG = 128


class BindError(Exception):
    """The listening socket could not be had; the message is for the terminal."""


async def _settle_heap(app: web.Application) -> None:
    settle_heap()


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``, or ``BindError`` saying why
    and what to do. Before anything else is created: a second start on a
    taken port must change nothing."""
    where = f"{host}:{port}"
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                      flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise BindError(f"cannot listen on {where}: unknown address {host!r} ({exc.strerror}); "
                        "check server.host or use --host") from None
    try:
        # SO_REUSEADDR as aiohttp sets it: a restart need not wait for old connections' TIME_WAIT
        return socket.create_server(address, family=family, backlog=BACKLOG)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise BindError(f"{where} is already in use: another program (or another omnirouter) listens "
                            "there; stop it, or use --port to choose another port") from None
        if exc.errno == errno.EACCES:
            raise BindError(f"cannot listen on {where}: permission denied (ports below 1024 need privileges); "
                            "use --port to choose another port") from None
        raise BindError(f"cannot listen on {where}: {exc.strerror or exc}; check server.host or use --host, "
                        "--port") from None


def _settings(args: argparse.Namespace, config_dir: Path) -> Settings:
    settings = load_settings(config_dir)
    if (problem := missing_main_file(config_dir)) is not None:
        raise ConfigError([problem])
    if args.host:
        settings.server.host = args.host
    if args.port is not None:
        settings.server.port = args.port
    return settings


def _event_loop(choice: str) -> asyncio.AbstractEventLoop:
    """The server's event loop (``server.event_loop``): libuv's where chosen and installed, else asyncio's."""
    if choice == "uvloop":
        try:
            import uvloop  # noqa: PLC0415 - none is built for Windows: asyncio's loop there
        except ImportError:
            log.warning("server.event_loop is uvloop, which is not installed here: running on asyncio's loop"
                        " (server.event_loop: asyncio says so without this line)")
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _loop_name(loop: asyncio.AbstractEventLoop) -> str:
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def _announcer(app: web.Application, sock: socket.socket) -> Callable[[str], None]:
    """run_app calls its ``print`` once every site is started: the moment the
    port answers, which is when the listening line is true."""
    times = app[STARTUP]
    host, port = sock.getsockname()[:2]

    def listening(_banner: str) -> None:
        times.mark("other")
        log.info("omnirouter on http://%s:%d (console /, site chat /chat/), node %s, started in %s, on %s",
                 host, port, app[NODE], times.summary(), _loop_name(asyncio.get_running_loop()))

    return listening


def run(args: argparse.Namespace, started: float) -> int:
    """``started``: ``time.perf_counter()`` when the command began (the
    imports of this module count in the start-up)."""
    times = StartupTimes(started)
    times.mark("imports")
    quiet_bad_requests()
    config_dir = Path(args.config)
    try:
        settings = _settings(args, config_dir)
        app = create_app(settings, config_dir, startup=times)
    except ConfigError as exc:  # any config file, identity.yaml and bot.yaml included
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except BotError as exc:  # the bot's model is not installed
        print(f"{config_dir / BOT_FILE}: {exc}", file=sys.stderr)
        return 1
    times.mark("config")
    try:
        sock = bind(settings.server.host, settings.server.port)
    except BindError as exc:
        print(f"omnirouter: {exc}", file=sys.stderr)
        return 1
    app.on_startup.append(_settle_heap)
    # run_app turns SIGTERM/SIGINT into a graceful shutdown: handlers finish,
    # then cleanup_ctx stops components in reverse order
    try:
        web.run_app(app, sock=sock, shutdown_timeout=settings.server.shutdown_timeout,
                    print=_announcer(app, sock), access_log=None, loop=_event_loop(settings.server.event_loop))
    except NodeIdTaken as exc:  # two nodes of one name would send each other's replies again
        print(f"omnirouter: {exc}", file=sys.stderr)
        return 1
    except StoreMisconfigured as exc:  # only PostgreSQL's URL can be malformed: nothing was tried
        print(f"{DATABASE_URL}: {exc}; set it to the database's libpq URL "
              "(postgresql://user:password@host:5432/database)", file=sys.stderr)
        return 1
    except SchemaTooNew as exc:  # a rollback: a newer omnirouter migrated the database; nothing was changed
        print(exc, file=sys.stderr)
        return 1
    except StoreUnavailable as exc:  # a full disk, read-only files, the database away: no start that would say healthy
        # where the store is: the file, or the database's DSN without its password
        print(f"{app[STORE].where}: the store cannot be written: {exc.reason}; "
              "start omnirouter again once it can (a service manager restarting it does)", file=sys.stderr)
        return 1
    return 0
