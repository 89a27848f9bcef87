"""Outbound webhooks: an admin subscribes a URL to event types; each event
of those types is queued once per subscription in a durable table of its own
and POSTed, signed, with retries, a dead letter, and in order per conversation.

``types`` holds the models and the event names integrators see, ``events``
how the core's bus events become webhook events, ``signing`` the signature,
``guard`` the SSRF guard, ``service`` the rules (subscriptions, the tap that
queues events), ``worker`` the sender, ``store`` the narrow store protocol,
``sqlite`` and ``postgres`` the SQL of each backend. Nothing is imported here,
so that the store's base can name the protocol without a cycle."""
