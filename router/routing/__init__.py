"""Routing: where a conversation goes, and to whom.

``decide`` is the pipeline's routing step (rules.yaml through ``rules``, else
the default team); ``rules`` the rules and teams files, their engine, hot
reload, explain and replay; ``assignment`` the task that offers queued
conversations to agents; ``service`` the rules a store's transaction asks
(capacity, the queue's serving order, a lapsed offer, idle time); ``store``
the narrow store protocol assignment needs, ``sqlite`` its SQL. Nothing is
imported here, so that the store's base can name the slice's protocol without
a cycle and ``omnirouter rules --help`` loads no rules engine."""
