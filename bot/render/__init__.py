"""Every Block Kit message, modal and App Home view the bot shows, built with
slack_sdk.models; the case card and the action ids of its buttons live in cards.py."""
