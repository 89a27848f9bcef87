"""What the nodes of a cluster share beyond the store: who runs each
singleton (a poller, the assigner's sweeps), the send pace of each
platform account, the login throttle, and each node's name.

``contract`` holds the narrow protocols and the one-node implementations
(SQLite: this node always leads, and pace and throttle are kept in
memory); ``router.connector`` re-exports what connectors use, so they never
import more of the core. The PostgreSQL implementations (``postgres_*``)
keep the shared state in the database every node writes to."""
