"""Where the team stands: status per department, reports over a period and
spike detection."""
