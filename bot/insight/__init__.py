"""Where the team stands: status per department, reports over a period, spike detection and
how far behind Slack each channel is."""
