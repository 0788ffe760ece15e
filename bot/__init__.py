"""Webcare router: brand mentions in, routed to department channels, worked as cases in Slack."""
