"""Several nodes against one database telling each other what happened.

Each node keeps its in-process ``EventBus`` (``router.bus``): its console
websockets, its assigner and its metrics subscribe there. With a cluster, what
a node publishes also goes to every other node, whose subscribers get it as
if it had happened there; and a connector whose clients hold a connection to
one node (the site chat's sockets) reaches the others through ``Peers``
(``router.connector``).

- ``pg_bus.PgCluster``: on PostgreSQL, an event log table appended to by a
  connection of its own, with NOTIFY at commit (ids only) and a LISTEN
  connection of its own on each node (``bench/bus_notify.py`` measured why
  not Redis).
- On SQLite there is one node: nothing here runs, the bus stays in-process.
"""

from __future__ import annotations

import os
import socket
import uuid

NODE_ID_ENV = "OMNIROUTER_NODE_ID"


def node_id() -> str:
    """This node's name in the cluster: ``OMNIROUTER_NODE_ID``, or the host's
    name with a random suffix (two processes on one machine are two nodes)."""
    given = os.environ.get(NODE_ID_ENV, "").strip()
    return given or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
