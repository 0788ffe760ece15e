"""Work on a case: the state machine (the one writer of case status), forwarding,
drafts and replies, follow-up, crisis mode and the personal-data check."""
