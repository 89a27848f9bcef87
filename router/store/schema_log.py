"""What a store says when it brings its schema up to date, for both backends."""

from __future__ import annotations

import logging


def log_migration(log: logging.Logger, where: str, version: int, latest: int) -> None:
    """One line for the whole of it (each migration's own is DEBUG): a new store's start
    logged each of its 34 migrations, a screenful before the line that says where it listens."""
    if version == 0:
        log.info("creating the store's schema (version %d) in %s", latest, where)
    elif version < latest:
        log.info("migrating the store's schema from version %d to %d in %s", version, latest, where)
