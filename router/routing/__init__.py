"""Routing: where a conversation goes, and to whom.

``decide`` is the pipeline's routing step (rules.yaml through ``rules``, else
the default team); ``rules`` the rules and teams files, their engine, hot
reload, explain and replay; ``assignment`` the task that offers queued
conversations to agents. Nothing is imported here, so that the store's base
can name the slice's protocol without a cycle and ``omnirouter rules --help``
loads no rules engine."""
