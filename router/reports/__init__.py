"""Reports: figures counted from an append-only log of what happened to each
conversation (``conversation_events``), written by the database itself in
the transaction of each change (``schema``), read by range (``store``) and
counted by plain Python rules (``figures``)."""
