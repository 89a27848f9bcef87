"""Agents as admins manage them: an account's life (created, renamed, given a
role, deactivated and reactivated with its history kept), the teams, skills
and capacity an admin sets for one agent in the console over teams.yaml's
entry, and how agents come online when they sign in.

``service`` holds the rules (plain Python: who may do what, the last admin,
a password's strength, the settings' shapes), ``store`` the narrow store
protocol, ``sqlite`` and ``postgres`` its SQL, ``profiles`` how a console
profile and teams.yaml combine for assignment, ``admin`` the actions that
publish what they changed. Nothing is imported here, so that the store's base
can name the protocol without a cycle."""
