"""Private notes and @mentions: what agents say to each other beside a
conversation. A note is no message: it lives in a table of its own
(``notes``), so no path that reads messages (the widget's history, the bot's
context, mail threading, the list's preview, the outbox, the SLA's first
response) can ever meet one, and the outbox's foreign key to ``messages``
refuses an entry for it at the database (DESIGN.md, invariant 8).

``service`` holds the rules (validation, who a ``@name`` mentions),
``store`` the narrow protocol, ``sqlite`` and ``postgres`` the SQL of each
backend, ``guard`` the last check before any connector. Nothing is imported
here, so that the store's base can name the protocol without a cycle."""
