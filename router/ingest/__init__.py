"""Ingest: an inbound message from a connector to a stored, routed message.

``service`` holds the pipeline (dedupe, persist, identity, conversation,
route), ``store`` the narrow store protocol it needs, ``sqlite`` its SQL.
Nothing is imported here, so that the store's base can name the protocol
without a cycle."""
