"""Getting it out: the outbox worker and what each job says in Slack, the scheduler, the shared
Slack budget, and publishing approved replies on the platforms."""
