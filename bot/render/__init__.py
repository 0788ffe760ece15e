"""Every Block Kit message, modal and App Home view the bot shows, built with slack_sdk.models:
the case card in cards.py, every action id in action_ids.py, mrkdwn escaping in mrkdwn.py."""
