"""Thin Slack listeners: parse the payload, call the bot core, render, respond.

Reading this file shows every entry point Slack can reach.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, drafts, errors, events, views


def register_listeners(app: AsyncApp) -> None:
    actions.register(app)
    drafts.register(app)
    commands.register(app)
    events.register(app)
    views.register(app)
    errors.register(app)
