"""This node's name: ``OMNIROUTER_NODE_ID``, or one made up at start.

It labels the node's metrics, its ``/healthz`` answer, its database
connections (``application_name``) and its log lines about leading a
singleton, so an operator can tell the nodes of a cluster apart."""

from __future__ import annotations

import os
import secrets
import socket

from router.yamlconf import ConfigError

NODE_ENV = "OMNIROUTER_NODE_ID"
MAX_LENGTH = 63  # PostgreSQL's application_name keeps 63 bytes


def node_id(environ: dict[str, str] | None = None) -> str:
    """The configured id, or ``<host>-<6 hex digits>``: a new one at each
    start, which is what a node that keeps no name is. ``ConfigError`` for
    one that cannot label a metric or a connection."""
    given = (os.environ if environ is None else environ).get(NODE_ENV, "").strip()
    if not given:
        host = socket.gethostname().split(".", 1)[0][:40] or "node"
        return f"{host}-{secrets.token_hex(3)}"
    if len(given.encode()) > MAX_LENGTH or not given.isprintable():
        raise ConfigError([f"{NODE_ENV} must be printable and at most {MAX_LENGTH} bytes: {given[:80]!r}"])
    return given
