"""What the nodes of a cluster share beyond the store: who runs each
singleton (a poller, the assigner's sweeps), the send pace of each
platform account, the login throttle, and each node's name.

``contract`` holds the narrow protocols and the one-node implementations
(SQLite: this node always leads, and pace and throttle are kept in
memory); ``router.connector`` re-exports what connectors use, so they never
import more of the core. The PostgreSQL implementations (``postgres_*``)
keep the shared state in the database every node writes to.

Events cross nodes too: each node keeps its in-process ``EventBus``
(``router.bus``), where its console websockets, its assigner and its metrics
subscribe; what a node publishes also reaches every other node's, and a
connector whose clients hold a connection to one node (the site chat's
sockets) reaches the others through ``Peers`` (``router.connector``).
``pg_bus.PgCluster`` does it on PostgreSQL: an event log table appended to by
a connection of its own, with NOTIFY at commit (ids only), and a LISTEN
connection of its own on each node. Why not Redis: ``bench/bus_notify.py``
measured the store's commits at 103 % (the same within the noise) with the
events appended and notified this way, and at 52 % with NOTIFY inside the
store's own transactions (PostgreSQL serialises notifying commits): so the
store's transactions never notify, and no second server is needed. On SQLite
(one node) the bus stays in-process."""
