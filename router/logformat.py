"""How the service's log lines look: set up by the command (``router.cli``)
and, from what the command set, in the store's writer process, whose lines
go to the same stderr."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configured_level() -> int | None:
    """The root logger's level when logging was set up in this process (a
    handler on the root), else None: a child process then leaves it alone."""
    root = logging.getLogger()
    return root.level if root.handlers else None


def configure(level: int) -> None:
    logging.basicConfig(level=level, format=FORMAT)
