"""SQL that both backends run, with their own placeholders filled in
(``str.format``): the statements whose text is the same in SQLite and PostgreSQL."""

# a session alive and seen at a console since {seen}: somebody is at work there (an open console
# socket marks its session seen every minute; router.accounts.store.seen_sessions)
_AT_A_CONSOLE = """EXISTS (SELECT 1 FROM sessions s WHERE s.agent_id = {agent} AND s.expires_at > {now}
    AND s.seen_at >= {seen})"""

# assigned to an agent offline since before the bound (no presence row: never seen online) and at
# no console (an agent who works offline, taking conversations by hand, keeps them; one logged out,
# whose sessions expired, or whose consoles were all closed a while, is nobody), and the customer
# wrote after the agent's last reply (none: since it was assigned)
STRANDED = """
    UPDATE conversations SET status = 'queued', agent_id = NULL, assigned_at = NULL, opened_at = NULL,
        preferred_agent_id = agent_id, updated_at = {now}
    WHERE status = 'assigned' AND agent_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM agent_presence p WHERE p.agent_id = conversations.agent_id
            AND (p.presence <> 'offline' OR p.changed_at >= {bound}))
      AND NOT """ + _AT_A_CONSOLE.replace("{agent}", "conversations.agent_id") + """
      AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id AND m.direction = 'in'
        AND m.created_at > coalesce((SELECT max(o.created_at) FROM messages o WHERE o.conversation_id = conversations.id
            AND o.direction = 'out' AND o.author = 'agent'), {never}))
    RETURNING id, preferred_agent_id
"""

# online or away, unchanged since before {seen} and at no console since then (the browser or the
# laptop closed without a logout, the session left to expire): offline, as a logout would make them
ABSENT = """
    UPDATE agent_presence SET presence = 'offline', changed_at = {now}
    WHERE presence <> 'offline' AND changed_at < {seen}
      AND NOT """ + _AT_A_CONSOLE.replace("{agent}", "agent_presence.agent_id") + """
    RETURNING *
"""
