"""POST /ingest/webhook: signed mentions in, 202 only once they are committed."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import orjson
from aiohttp import web

from bot.core import metrics
from bot.core.outage import OUTAGE, is_unavailable
from bot.intake.ingest import Ingestor
from bot.intake.mentions import MentionError, parse_body, parse_mentions
from bot.intake.repair import Note, repair

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
# A database that does not answer gets the sender a 503 after this long, not a hanging request.
STORE_TIMEOUT = 10.0
MAX_SKEW = 300  # seconds a timestamp may differ from our clock


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Webcare-Signature` value for a body sent at `timestamp`."""
    message = b"v1:" + timestamp.encode() + b":" + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _error(status: int, message: str, field: str | None = None) -> web.Response:
    metrics.WEBHOOK_REJECTED.labels(status=str(status)).inc()
    body: dict[str, object] = {"error": message}
    if status == 400:
        body["field"] = field
    return web.json_response(body, status=status)


def webhook_handler(*, ingestor: Ingestor, secret: str | None):  # type: ignore[no-untyped-def]
    """The aiohttp handler, bound to an ingestor and the shared secret."""

    # HMAC state after the key and "v1:": each request copies it instead of starting over.
    signer = hmac.new((secret or "").encode(), b"v1:", hashlib.sha256)

    async def handle(request: web.Request) -> web.Response:
        if not secret:
            return _error(503, "webhook disabled: set WEBHOOK_SECRET to accept mentions")
        if (request.content_length or 0) > MAX_BODY:
            return _error(413, f"body over {MAX_BODY} bytes; send smaller arrays")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"body over {MAX_BODY} bytes; send smaller arrays")
        except Exception as exc:  # e.g. a gzip body that does not decode: before any auth
            # Nothing more to read: aiohttp would otherwise try the rest of the broken body
            # after the answer, and log a traceback for it.
            # The connection is closed after the answer: its stream cannot be trusted.
            request.content.feed_eof()
            refused = _error(400, f"the body could not be read ({type(exc).__name__})")
            refused.force_close()
            return refused
        problem = _check_signature(request, body, signer)
        if problem:
            return _error(401, problem)
        notes: list[Note] = []
        mentions = parse_body(body)
        if mentions is None:  # not a clean mention: read it the careful way, and repair it
            try:
                payload = json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                return _error(400, f"body is not valid JSON: {exc}", None)
            except RecursionError:
                return _error(400, "body is not valid JSON: nested too deeply", None)
            payload, notes = repair(payload, now=ingestor.clock.now())
            try:
                mentions = parse_mentions(payload)
            except MentionError as exc:
                return _error(400, exc.message, exc.field)
        try:
            result = await ingestor.ingest(mentions, give_up_after=STORE_TIMEOUT)
        except Exception as exc:
            if not is_unavailable(exc):
                log.exception("storing %d webhook mentions failed", len(mentions))
                return _error(503, "storing failed; nothing was stored, send again later")
            OUTAGE.failed(exc, doing="storing webhook mentions")
            # After a timeout the commit may still land: the sender's retry is then answered
            # as duplicates, so nothing is lost and nothing is stored twice.
            return _error(503, "database unavailable; send again later (duplicates are recognised)")
        OUTAGE.ok()
        answer: dict[str, object] = {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "case_ids": result.case_ids,
        }
        if notes:
            answer["normalised"] = [n.as_json() for n in notes]
        return web.Response(body=orjson.dumps(answer), status=202, content_type="application/json")

    return handle


def _check_signature(request: web.Request, body: bytes, signer: hmac.HMAC) -> str | None:
    """Why the request is not properly signed, or None when it is."""
    timestamp = request.headers.get("X-Webcare-Timestamp", "")
    signature = request.headers.get("X-Webcare-Signature", "")
    if not timestamp or not signature:
        return "missing X-Webcare-Timestamp or X-Webcare-Signature header"
    try:
        sent_at = int(timestamp)
    except ValueError:
        return "X-Webcare-Timestamp must be unix seconds"
    if abs(time.time() - sent_at) > MAX_SKEW:
        return f"stale request: X-Webcare-Timestamp is more than {MAX_SKEW} s off"
    mac = signer.copy()  # = sign(secret, timestamp, body)
    mac.update(timestamp.encode() + b":")
    mac.update(body)
    # As bytes: a header with non-ASCII characters (or bytes that are not UTF-8, which aiohttp
    # keeps as surrogates) is a bad signature, not an error.
    sent = signature.encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(b"v1=" + mac.hexdigest().encode(), sent):
        return "bad signature"
    return None
