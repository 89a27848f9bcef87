"""The outbox: durable delivery of outbound messages.

``service`` holds the worker and its rules (retries with backoff, dead
letters, one recipient's messages in order), ``store`` the narrow store
protocol it needs (entries claimed by one node at a time, finished only by
it), ``leases`` the rules of those claims, ``sqlite`` and ``postgres`` the
SQL of each backend. Nothing is imported here, so that the store's base can
name the protocol without a cycle."""
