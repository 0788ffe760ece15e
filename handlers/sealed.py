"""Modal metadata only we could have written, for the person the modal was opened for.

A modal carries its case id in `private_metadata`, and Slack returns it on submission. Nothing
in a submission is more trustworthy than the rest of the payload, so the id travels sealed:
an HMAC over the id and the person, keyed from the bot token (every replica has it). A
submission naming another case, or sent by someone else, is refused.
"""

from __future__ import annotations

import hashlib
import hmac


def modal_key(bot_token: str | None) -> bytes:
    return hashlib.sha256(b"webcare modal metadata:" + (bot_token or "").encode()).digest()


def seal(value: str, *, user: str, key: bytes) -> str:
    return f"{value}|{_mac(value, user, key)}"


def unseal(sealed: object, *, user: str, key: bytes) -> str | None:
    """The sealed value, or None when it was not sealed by us for `user`."""
    if not isinstance(sealed, str) or "|" not in sealed:
        return None
    value, _, mac = sealed.rpartition("|")
    return value if hmac.compare_digest(mac, _mac(value, user, key)) else None


def _mac(value: str, user: str, key: bytes) -> str:
    return hmac.new(key, f"{user}\n{value}".encode(), hashlib.sha256).hexdigest()[:32]
