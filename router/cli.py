"""The ``omnirouter`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from aiohttp import web

from router.accounts_cli import add_commands as add_accounts_commands
from router.app import create_app
from router.bot import BOT_FILE, BotError
from router.config import load_settings
from router.config_cli import add_commands as add_config_commands
from router.customers_cli import add_customer_commands
from router.heap import settle_heap
from router.redaction import install_log_filter
from router.rules.cli import add_commands as add_rules_commands
from router.store import StoreUnavailable
from router.yamlconf import ConfigError

log = logging.getLogger("omnirouter")


async def _settle_heap(app: web.Application) -> None:
    settle_heap()


def _run(args: argparse.Namespace) -> int:
    config_dir = Path(args.config)
    try:
        settings = load_settings(config_dir)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    if args.host:
        settings.server.host = args.host
    if args.port is not None:
        settings.server.port = args.port
    try:
        app = create_app(settings, config_dir)
    except ConfigError as exc:  # config/identity.yaml and the like, read when the app is built
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    app.on_startup.append(_settle_heap)
    log.info("omnirouter on http://%s:%d (console /, site chat /chat/)", settings.server.host, settings.server.port)
    # run_app turns SIGTERM/SIGINT into a graceful shutdown: handlers finish,
    # then cleanup_ctx stops components in reverse order
    try:
        web.run_app(
            app,
            host=settings.server.host,
            port=settings.server.port,
            shutdown_timeout=settings.server.shutdown_timeout,
            print=None,
            access_log=None,
        )
    except BotError as exc:  # the bot's matching model failed to load at start
        print(f"{config_dir / BOT_FILE}: {exc}", file=sys.stderr)
        return 1
    except StoreUnavailable as exc:  # a full disk, read-only files: no start that would say healthy
        print(f"{settings.store.path}: the store cannot be written: {exc.reason}; "
              f"start omnirouter again once it can (a service manager restarting it does)", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omnirouter", description="Omnichannel contact-centre message router")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING… (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start the service")
    run.add_argument("--config", default="config", help="configuration folder (default: config/)")
    run.add_argument("--host", help="listen address (default from config: 127.0.0.1)")
    run.add_argument("--port", type=int, help="listen port (default from config: 8080)")
    run.set_defaults(func=_run)
    add_rules_commands(sub)
    add_customer_commands(sub)
    add_config_commands(sub)
    add_accounts_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # on the handler just made: the app factory registers the secrets it reads
    install_log_filter()
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
