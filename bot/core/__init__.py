"""What every part builds on: the team's config file, time (clock, business hours), texts in
English and Dutch, metrics, web links, and telling a database outage from a bug."""
