"""Identity: who a customer is, across channels.

``service`` holds the key rules (normalised phone/email keys, what joins
profiles), ``rules`` the rules every backend's transactions apply (what a
merge keeps and folds and an unmerge gives back, who a key names, what a
claim or a proof does, a code's throttles and outcomes) and
``rules_upsert`` those of a CRM's write by keys, ``merging`` agents'
merges and their undoing, ``verification`` the one-time codes,
``selfservice`` and ``phone_ask`` the bot's offers to link a claimed
phone, ``claim_hints`` the matches shown to agents, ``customers`` the CRM
writes and imports, ``contacts`` the channels a customer was last seen on.
``types`` and ``errors`` are what the store takes and raises, ``store`` the
four narrow store protocols, the ``sqlite*`` modules their SQL. Nothing is
imported here, so that the store's base can name the slice's protocols
without a cycle."""
