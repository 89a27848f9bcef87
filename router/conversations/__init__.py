"""Conversations: agents' actions (reply, assign, hand to the bot, resolve)
and the one way a message goes out (``outbound``: compose, enqueue, publish,
wake the outbox). ``service`` holds the rules, ``store`` the narrow store
protocol they need, ``sqlite`` its SQL. Nothing is imported here, so that the
store's base can name the protocol without a cycle."""
