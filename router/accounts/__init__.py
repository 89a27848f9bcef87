"""Console accounts: agents, their passwords and their login sessions.

``service`` holds the rules (argon2 hashing, session tokens, the first admin),
``store`` the narrow store protocol they need, ``sqlite`` its SQL. Nothing is
imported here, so that the store's base can name the protocol without a cycle
and ``omnirouter --help`` loads no argon2."""
