"""SQL that both backends run, with their own placeholders filled in
(``str.format``): the statements whose text is the same in SQLite and PostgreSQL."""

# assigned to an agent offline since before the bound (no presence row: never seen online) and signed
# in nowhere (an agent who works offline, taking conversations by hand, keeps them), and the customer
# wrote after the agent's last reply (none: since it was assigned)
STRANDED = """
    UPDATE conversations SET status = 'queued', agent_id = NULL, assigned_at = NULL, opened_at = NULL,
        preferred_agent_id = agent_id, updated_at = {now}
    WHERE status = 'assigned' AND agent_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM agent_presence p WHERE p.agent_id = conversations.agent_id
            AND (p.presence <> 'offline' OR p.changed_at >= {bound}))
      AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.agent_id = conversations.agent_id AND s.expires_at > {now})
      AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id AND m.direction = 'in'
        AND m.created_at > coalesce((SELECT max(o.created_at) FROM messages o WHERE o.conversation_id = conversations.id
            AND o.direction = 'out' AND o.author = 'agent'), {never}))
    RETURNING id, preferred_agent_id
"""
