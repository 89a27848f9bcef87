"""A node of a cluster, in the app: on PostgreSQL each node links its event
bus and its connectors' ``Peers`` to the others (``router.cluster``); on
SQLite, one node, nothing of this runs."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from router.appkeys import BUS, CONNECTORS, STORE
from router.cluster import node_id
from router.cluster.pg_bus import PgCluster
from router.store.postgres import PostgresStore

CLUSTER = web.AppKey("cluster", PgCluster)


def join_cluster(app: web.Application) -> None:
    """Before the connectors mount their routes (they register their topics then)."""
    store = app[STORE]
    if not isinstance(store, PostgresStore):
        return
    app[CLUSTER] = cluster = PgCluster(store.dsn, node_id(), app[BUS])
    for connector in app[CONNECTORS].values():
        connector.peers = cluster


async def cluster_ctx(app: web.Application) -> AsyncIterator[None]:
    """After the store (its migrations made the event log), before what publishes; on the way
    out what the node published last still goes to the others."""
    cluster = app.get(CLUSTER)
    if cluster is None:
        yield
        return
    async with cluster:
        yield
