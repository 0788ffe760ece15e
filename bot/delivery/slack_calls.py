"""Talking to Slack for the outbox: one call within the shared budget, Slack's answers turned
into Retry (when, and why) or Dead (why it never will), and finding a post an earlier try may
already have made (each carries its job id in message metadata), so nothing is posted twice."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import metrics
from bot.delivery.slack_budget import SlackBudget
from storage.outbox_job import Job
from storage.statuses import JobKind

SLACK_DOWN_MAX_BACKOFF = 8.0  # a 5xx or a timeout: try again soon once Slack is back
MAX_BACKOFF = 300.0
METADATA_EVENT = "webcare_outbox_job"
# Slack errors that will not fix themselves by retrying: the job is parked as dead.
PERMANENT_HINTS = {
    "channel_not_found": "the channel does not exist or the bot cannot see it: check its ID",
    "is_archived": "the channel is archived",
    "invalid_blocks": "Slack rejected the card layout",
    "msg_too_long": "the message is too long",
    "invalid_auth": "SLACK_BOT_TOKEN is not valid",
    "not_authed": "SLACK_BOT_TOKEN is missing",
    "account_inactive": "the bot token was revoked",
    "missing_scope": "the app lacks a scope: reinstall it from manifest.yml",
}


class Retry(Exception):
    """Try the job again after `delay` seconds; `reason` is logged and kept on the job."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay
        self.reason = reason


class Dead(Exception):
    """The job cannot be delivered, ever: it is parked as dead with the reason."""


async def find_posted(
    call: Callable[..., Awaitable[dict]], job: Job, *, thread_ts: str | None, now: datetime
) -> tuple[str, str] | None:
    """Look in the channel (or the thread) for a message this job already posted."""
    # Slack's ts are Slack's wall clock, the job's times are ours (tests pin ours): carry
    # the job's age across instead of comparing the two clocks, with 5 min for skew. From
    # when the job was queued, not its last retry: a retry can come long after the post.
    age = (now - (job.created_at or job.not_before)).total_seconds()
    oldest = time.time() - age - 300
    where: dict[str, object] = {"channel": job.channel}
    if thread_ts:
        where["ts"] = thread_ts
    response = await call(
        job,
        "conversations_replies" if thread_ts else "conversations_history",
        **where,
        oldest=f"{oldest:.6f}",
        include_all_metadata=True,
        limit=200,
    )
    for message in response.get("messages", []):
        meta = message.get("metadata") or {}
        payload = meta.get("event_payload") or {}
        if meta.get("event_type") == METADATA_EVENT and payload.get("job_id") == job.id:
            return job.channel, message["ts"]
    return None


async def slack_call(
    client: AsyncWebClient,
    budget: SlackBudget | None,
    job: Job,
    method: str,
    *,
    retry_base: float,
    **kwargs: object,
) -> dict:
    """Call Slack for a job, within the shared budget; Retry (when, why) or Dead (why not)."""
    dotted = method.replace("_", ".")
    if budget is not None:
        await budget.turn(dotted, refresh=job.kind is JobKind.UPDATE_CARD)
    try:
        response = await getattr(client, method)(**kwargs)
        return response.data  # type: ignore[no-any-return]
    except SlackApiError as exc:
        status = exc.response.status_code
        error = str(exc.response.get("error", "")) if exc.response.data else ""
        if status == 429:
            metrics.RATE_LIMITED.labels(channel=job.channel).inc()
            metrics.RATE_LIMITED_BY_METHOD.labels(method=dotted).inc()
            retry_after = float(exc.response.headers.get("Retry-After", 1) or 1)
            raise Retry(retry_after, f"ratelimited: Slack asked to wait {retry_after:g}s") from None
        if status >= 500:
            raise Retry(_slack_down(job, retry_base), f"slack {status}") from None
        if error == "not_in_channel":  # chat:write.public posts, but history needs a member
            await _join(client, job)
            raise Retry(0, "joined the channel") from None
        hint = PERMANENT_HINTS.get(error)
        if hint or error:
            raise Dead(f"{error}: {hint}" if hint else error) from None
        raise Retry(backoff(job.attempts, base=retry_base), f"slack {status}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Retry(_slack_down(job, retry_base), f"network: {exc!r}") from None


def backoff(attempts: int, *, base: float, cap: float = MAX_BACKOFF) -> float:
    """Exponential backoff with jitter, capped at five minutes unless told otherwise."""
    return random.uniform(0.5, 1.0) * min(cap, base * 2.0**attempts)


def _slack_down(job: Job, retry_base: float) -> float:
    # Slack's outages are short: waiting minutes after it is back would leave the team
    # without cards. One look per channel every few seconds meanwhile costs Slack little.
    return backoff(job.attempts, base=retry_base, cap=SLACK_DOWN_MAX_BACKOFF)


async def _join(client: AsyncWebClient, job: Job) -> None:
    try:
        await client.conversations_join(channel=job.channel)
    except SlackApiError as exc:
        raise Dead(
            f"not_in_channel: invite the bot to {job.channel} with /invite "
            f"({exc.response.get('error')})"
        ) from None


def is_direct_message(channel: str) -> bool:
    """DMs are addressed by user id (U…/W…) or DM channel id (D…)."""
    return channel[:1] in ("U", "W", "D")
