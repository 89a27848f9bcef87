"""Live signals of a conversation: who is typing (ephemeral, never stored),
what each agent has read (their unread counts, on every device), and whether
an agent has seen the customer's last message (the widget's "Seen")."""
