"""Identity: who a customer is, across channels.

``service`` holds the key rules (normalised phone/email keys, what joins
profiles), ``verification`` the one-time codes, ``selfservice`` and
``phone_ask`` the bot's offers to link a claimed phone, ``claim_hints`` the
matches shown to agents, ``customers`` the CRM writes and imports,
``contacts`` the channels a customer was last seen on; the ``sqlite_*``
modules are their SQL. Nothing is imported here, so that the store's base can
name the slice's protocols without a cycle."""
