"""What every part builds on: the team's config, time (clock, business hours), texts
in English and Dutch, metrics, and telling a database outage from a bug."""
