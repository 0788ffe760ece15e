"""Getting it into Slack: the outbox worker, what each job says, the scheduler,
the shared Slack budget and how far behind each channel is."""
