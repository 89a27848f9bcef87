"""Satisfaction surveys (CSAT): after an agent resolves a conversation, the
customer is asked for a 1-5 rating and an optional comment on their channel,
at most once per conversation; the answers are stored for the agent and for
reports."""
