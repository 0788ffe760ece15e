"""Work on a case: the state machine (the one writer of case status), the card's buttons,
forwarding and moving, drafts, follow-up, crisis mode and the personal-data check."""
