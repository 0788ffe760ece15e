"""Thin Slack listeners: parse the payload, call the bot core, render, respond."""
