"""A unit of work that says what the store's writer process has imported;
in a module of its own, which imports nothing, so asking changes nothing."""

from __future__ import annotations

import sqlite3
import sys


def loaded(conn: sqlite3.Connection) -> list[str]:
    return sorted(sys.modules)
