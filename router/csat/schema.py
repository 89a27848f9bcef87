"""The surveys' table, for each backend's migration (one script each,
appended to router/store/migrations.py and router/store/pg_migrations.py)."""

from __future__ import annotations

# SQLite: times as fixed-width UTC text (router.store.rows.ts)
SQLITE = """
CREATE TABLE csat_surveys (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL UNIQUE REFERENCES conversations(id),
    customer_id TEXT NOT NULL,
    agent_id TEXT,
    team TEXT,
    channel TEXT NOT NULL,
    language TEXT NOT NULL,
    asked_at TEXT NOT NULL,
    question_message_id TEXT,
    rating INTEGER CHECK (rating BETWEEN 1 AND 5),
    answered_at TEXT,
    comment TEXT,
    commented_at TEXT,
    reasked INTEGER NOT NULL DEFAULT 0,
    closed_at TEXT
);
CREATE INDEX csat_surveys_asked ON csat_surveys(asked_at, id);
"""

POSTGRES = """
CREATE TABLE csat_surveys (
    id text PRIMARY KEY,
    conversation_id text NOT NULL UNIQUE REFERENCES conversations(id),
    customer_id text NOT NULL,
    agent_id text,
    team text,
    channel text NOT NULL,
    language text NOT NULL,
    asked_at timestamptz NOT NULL,
    question_message_id text,
    rating integer CHECK (rating BETWEEN 1 AND 5),
    answered_at timestamptz,
    comment text,
    commented_at timestamptz,
    reasked boolean NOT NULL DEFAULT false,
    closed_at timestamptz
);
CREATE INDEX csat_surveys_asked ON csat_surveys(asked_at, id);
"""

# the customer a survey is read as is its conversation's (a merge moves conversations to the survivor)
COLUMNS = ("s.id, s.conversation_id, c.customer_id, s.agent_id, s.team, s.channel, s.language, s.asked_at,"
           " s.question_message_id, s.rating, s.answered_at, s.comment, s.commented_at, s.reasked, s.closed_at")
FROM = "csat_surveys s JOIN conversations c ON c.id = s.conversation_id"
# open to typed answers: asked (its question is in the outbox: a survey claimed but never asked takes
# nothing), not closed, and a rating or a comment still to come
AWAITING = ("s.question_message_id IS NOT NULL AND s.closed_at IS NULL AND (s.rating IS NULL OR s.comment IS NULL)")
