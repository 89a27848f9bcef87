"""Canned replies: team and personal replies an agent inserts with ``/``.

``template`` parses and fills the ``{customer.name}``-style variables,
``service`` holds the rules (who may write which reply, which ones an agent
sees in a conversation, the bot's answers offered beside them), ``store`` the
narrow store protocol, ``sqlite`` and ``postgres`` its SQL. Nothing is
imported here, so that the store's base can name the protocol without a cycle."""
