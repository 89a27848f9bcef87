"""The live wallboard: what the contact centre looks like now (queues, waits,
agents, SLA breaches, the bot, valuable customers waiting), computed on a
timer while someone watches and pushed to the supervisors' consoles."""
