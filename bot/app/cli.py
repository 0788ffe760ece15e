"""The `webcare` command: serve, check, route, import, db upgrade."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.app.settings import Settings, load_settings
from bot.core.config import WebcareConfig, load_config
from bot.core.config.base import ConfigError
from bot.intake.mentions import MentionError, MentionIn, parse_mentions
from bot.intake.repair import repair
from bot.intake.routing import Router

MISSING_TOKENS_HELP = """\
Fill these in .env (start from .env.example: cp .env.example .env):
  SLACK_BOT_TOKEN=xoxb-...     Slack app > OAuth & Permissions > Bot User OAuth Token
and one of
  SLACK_APP_TOKEN=xapp-...     Socket Mode: Basic Information > App-Level Tokens
                               (create one with the scope connections:write)
  SLACK_SIGNING_SECRET=...     HTTP mode: Basic Information > App Credentials
The README's quickstart shows where each one is."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings()
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            name = ".".join(str(p) for p in error["loc"]).upper()
            print(f"webcare: setting {name}: {error['msg']}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.webcare_log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return int(args.run(args, settings) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="webcare", description=__doc__)
    sub = parser.add_subparsers(metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the bot (web server, Slack, outbox)")
    serve.set_defaults(run=_serve)
    check = sub.add_parser("check", help="validate settings and config; test the Slack token")
    check.set_defaults(run=_check)
    route = sub.add_parser("route", help="dry run: where each mention in a JSONL file would go")
    route.add_argument("file", type=Path)
    route.set_defaults(run=_route)
    imp = sub.add_parser("import", help="store the mentions of a JSONL file (cards follow)")
    imp.add_argument("file", type=Path)
    imp.set_defaults(run=_import)
    report = sub.add_parser("report", help="figures for a period, as JSON or CSV (stdout)")
    report.add_argument("--since", required=True, type=_moment, help="start (2026-11-01)")
    report.add_argument("--until", type=_moment, help="end, exclusive (default: now)")
    report.add_argument("--department", help="only this department (key)")
    report.add_argument("--format", choices=("json", "csv"), default="json")
    report.add_argument("--cases", action="store_true", help="one CSV row per case instead")
    report.set_defaults(run=_report)
    sources = sub.add_parser("sources", help="the polled feeds and how they are doing")
    sources.set_defaults(run=_sources)
    sources_sub = sources.add_subparsers(metavar="ACTION")
    try_one = sources_sub.add_parser("test", help="fetch a feed once: what would come in, where")
    try_one.add_argument("name")
    try_one.set_defaults(run=_sources_test)
    box = sub.add_parser("outbox", help="messages Slack refused for good (parked as dead)")
    box.set_defaults(run=_outbox)
    box_sub = box.add_subparsers(metavar="ACTION")
    retry = box_sub.add_parser("retry", help="send parked messages again (all, or these ids)")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID")
    retry.set_defaults(run=_outbox_retry)
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="migrate the schema to the newest version")
    upgrade.set_defaults(run=_db_upgrade)
    return parser


def _config(settings: Settings) -> WebcareConfig | None:
    try:
        return load_config(settings.webcare_config)
    except ConfigError as exc:
        print(f"webcare: the config has {len(exc.problems)} problem(s):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return None


def _serve(_args: argparse.Namespace, settings: Settings) -> int:
    missing = settings.missing_for_serve()
    if missing:
        print("webcare: cannot start, these settings are missing:", file=sys.stderr)
        for name in missing:
            print(f"  {name}", file=sys.stderr)
        print(MISSING_TOKENS_HELP, file=sys.stderr)
        return 2
    config = _config(settings)
    if config is None:
        return 2
    from bot.app.commands import serve

    return asyncio.run(serve(settings, config))


def _check(_args: argparse.Namespace, settings: Settings) -> int:
    from bot.app.commands import check

    config = _config(settings)
    return asyncio.run(check(settings, config))


def _read_jsonl(path: Path) -> Iterator[tuple[int, MentionIn | str]]:
    """(line number, mention) per line, or (line number, error) for a line that is unusable."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                # Read as the webhook reads it: what can be a case is repaired, not refused.
                payload, _notes = repair(json.loads(line), now=datetime.now(UTC))
                yield number, parse_mentions(payload)[0]
            except json.JSONDecodeError as exc:
                yield number, f"not valid JSON: {exc}"
            except MentionError as exc:
                yield number, exc.message


def _route(args: argparse.Namespace, settings: Settings) -> int:
    config = _config(settings)
    if config is None:
        return 2
    router, bad = Router(config), 0
    try:
        for number, item in _read_jsonl(args.file):
            if isinstance(item, str):
                bad += 1
                print(f"line {number}: REJECTED: {item}")
                continue
            decision = router.route(item := router.with_language(item))
            rule = decision.rule or "(default)"
            print(
                f"line {number}: {item.source}/{item.external_id} -> {decision.department} "
                f"[{decision.priority}] by {rule}: {decision.reason}"
            )
    except OSError as exc:
        print(f"webcare: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    return 1 if bad else 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    config = _config(settings)
    if config is None:
        return 2
    from bot.app.commands import import_mentions

    try:
        parsed = list(_read_jsonl(args.file))
    except OSError as exc:
        print(f"webcare: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    bad = [(n, e) for n, e in parsed if isinstance(e, str)]
    for number, error in bad:
        print(f"line {number}: REJECTED: {error}", file=sys.stderr)
    mentions = [m for _n, m in parsed if not isinstance(m, str)]
    result = asyncio.run(import_mentions(settings, config, mentions))
    print(
        f"{result.accepted} stored, {result.duplicates} already known, {len(bad)} rejected; "
        f"{len(result.case_ids)} case(s). `webcare serve` posts the new cards."
    )
    return 1 if bad else 0


def _sources(_args: argparse.Namespace, settings: Settings) -> int:
    config = _config(settings)
    if config is None:
        return 2
    if not config.sources:
        print("no sources configured (see README, Feeds)")
        return 0
    from bot.app.commands import source_states

    states = asyncio.run(source_states(settings))
    for source in config.sources:
        state = states.get(source.name)
        if state is None:
            status = "never polled"
        elif state.failures:
            status = f"FAILING ({state.failures}x): {state.last_error}"
        else:
            status = f"ok, last success {state.last_success_at:%Y-%m-%d %H:%M} UTC"
        seen = state.items_seen if state else 0
        print(
            f"{source.name}  {source.type} {_where(source)}  every {source.interval_seconds}s  "
            f"{seen} items  {status}"
        )
    return 0


def _outbox(_args: argparse.Namespace, settings: Settings) -> int:
    from bot.app.commands import dead_jobs

    jobs = asyncio.run(dead_jobs(settings))
    if not jobs:
        print("nothing parked: every message reached Slack or is on its way")
        return 0
    for job in jobs:
        print(f"{job.id}  {job.kind}  {job.channel}  {job.last_error or '?'}")
    print(f"{len(jobs)} parked; `webcare outbox retry` sends them again (the bot must run)")
    return 0


def _outbox_retry(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app.commands import retry_dead_jobs

    queued, skipped = asyncio.run(retry_dead_jobs(settings, args.ids))
    print(f"{queued} queued again" + (f", {skipped} not parked (any more)" if skipped else ""))
    return 0


def _where(source: Any) -> str:
    """What a source listens to, in one line (no secrets)."""
    if source.type == "rss":
        return str(source.url)
    account = str(source.instance) if source.type == "mastodon" else source.handle
    searches = f" search {', '.join(source.search)}" if source.search else ""
    return f"{account}{' notifications' if source.notifications else ''}{searches}"


def _sources_test(args: argparse.Namespace, settings: Settings) -> int:
    config = _config(settings)
    if config is None:
        return 2
    feed = next((f for f in config.sources if f.name == args.name), None)
    if feed is None:
        known = ", ".join(f.name for f in config.sources) or "none"
        print(f"webcare: no source {args.name!r}; configured: {known}", file=sys.stderr)
        return 2
    from bot.app.commands import try_source

    try:
        lines = asyncio.run(try_source(config, feed))
    except Exception as exc:
        print(f"webcare: {feed.name} could not be read: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines) if lines else f"{feed.name}: no entries")
    return 0


def _moment(text: str) -> datetime:
    """A date or date-time on the command line; without an offset it is the team's zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-01") from None
    return moment


def _report(args: argparse.Namespace, settings: Settings) -> int:
    config = _config(settings)
    if config is None:
        return 2
    from bot.app.commands import export_report

    if args.department and args.department not in {d.key for d in config.departments}:
        known = ", ".join(d.key for d in config.departments)
        print(f"webcare: unknown department {args.department!r}; known: {known}", file=sys.stderr)
        return 2
    print(asyncio.run(export_report(settings, config, args)), end="")
    return 0


def _db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    from bot.app.commands import upgrade_database

    asyncio.run(upgrade_database(settings))
    print("database schema is up to date")
    return 0
