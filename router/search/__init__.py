"""Search and views (issue 22, item 5): full-text search over messages,
customers and conversations in Russian and English with word forms, the
conversations' labels, and snoozing a conversation until a time."""
