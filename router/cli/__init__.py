"""The ``omnirouter`` command.

Only the command line is built here: ``omnirouter --help`` answers at once.
Each command imports what it needs in its handler (each module that adds
commands exposes an ``add_commands(sub)`` that imports nothing heavy):
``accounts`` (agents set-password), ``customers`` (import), ``config``
(check), ``rules`` (check, schema, facts, explain, replay), ``db`` (migrate,
copy). ``run`` starts the server (``router/server/``)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from router import logformat
from router.cli import accounts, config, customers, db
from router.cli import rules as rules_cli
from router.redaction import install_log_filter

# when the command began: `omnirouter run` logs where its start-up time went
STARTED = time.perf_counter()


def _run(args: argparse.Namespace) -> int:
    from router.server.serve import run  # noqa: PLC0415 - the whole service: only for `run`

    return run(args, STARTED)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535: the system took 99999 as 34463 without a word."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is no port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is no port (0 to 65535)")
    return port


def add_run_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="start the service")
    run.add_argument("--config", default="config", help="configuration folder (default: config/)")
    run.add_argument("--host", help="listen address (default from config: 127.0.0.1)")
    run.add_argument("--port", type=_port, help="listen port (default from config: 8080)")
    run.set_defaults(func=_run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omnirouter", description="Omnichannel contact-centre message router")
    # a name logging does not know was taken as INFO without a word
    parser.add_argument("--log-level", default="INFO", type=str.upper, choices=LOG_LEVELS,
                        help="DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_command(sub)
    rules_cli.add_commands(sub)
    customers.add_customer_commands(sub)
    config.add_commands(sub)
    accounts.add_commands(sub)
    db.add_commands(sub)
    return parser


# libraries that log each request at INFO: quiet below --log-level DEBUG
CHATTY_LOGGERS = ("twilio.http_client", "twilio.async_http_client")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logformat.configure(getattr(logging, args.log_level))  # the store's writer process logs as set here
    if getattr(logging, args.log_level) > logging.DEBUG:
        # twilio's client writes ten INFO lines of headers for every message sent
        for chatty in CHATTY_LOGGERS:
            logging.getLogger(chatty).setLevel(logging.WARNING)
    # on the handler just made: the app factory registers the secrets it reads
    install_log_filter()
    try:
        result: int = args.func(args)
        sys.stdout.flush()  # here, not at exit: a closed pipe is then still ours to say nothing of
    except BrokenPipeError:
        # the reader went away (``omnirouter rules explain … | head``): not our failure, and no
        # traceback; Python's own flush at exit would report it again, so stdout is pointed at nothing
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # what a shell reports for a process a closed pipe ended (128 + SIGPIPE)
    return result

