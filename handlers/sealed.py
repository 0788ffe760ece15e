"""Modal metadata only we could have written, for the person the modal was opened for.

A modal carries its case id in `private_metadata`, and Slack returns it on submission. Nothing
in a submission is more trustworthy than the rest of the payload, so the id travels sealed:
an HMAC over the id, the person and the kind of modal (its callback_id), keyed from the bot
token (every replica has it). A submission naming another case, sent by someone else, or
carrying another kind of modal's id (a case id where a draft id belongs) is refused.
"""

from __future__ import annotations

import hashlib
import hmac


def modal_key(bot_token: str | None) -> bytes:
    return hashlib.sha256(b"webcare modal metadata:" + (bot_token or "").encode()).digest()


def seal(value: str, *, user: str, purpose: str, key: bytes) -> str:
    """`value` sealed for `user` in a modal of kind `purpose` (its callback_id)."""
    return f"{value}|{_mac(value, user, purpose, key)}"


def unseal(sealed: object, *, user: str, purpose: str, key: bytes) -> str | None:
    """The sealed value, or None when it was not sealed by us for `user` and `purpose`."""
    if not isinstance(sealed, str) or "|" not in sealed:
        return None
    value, _, mac = sealed.rpartition("|")
    return value if hmac.compare_digest(mac, _mac(value, user, purpose, key)) else None


def _mac(value: str, user: str, purpose: str, key: bytes) -> str:
    message = f"{user}\n{purpose}\n{value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]
