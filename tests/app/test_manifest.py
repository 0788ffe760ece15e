"""manifest.yml: valid for Slack, and in step with what the code calls and listens to."""

from __future__ import annotations

import ast
import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from jsonschema.validators import validator_for
from slack_sdk.web.async_client import AsyncWebClient

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "manifest.yml"
SOURCE_DIRS = ("bot", "handlers")
# Slack's manifest schema lives in a shared/ folder beside the clone, not in the project.
SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "slack" / "manifest.schema.1.0.0.json"

# Bot scopes each Web API method needs (docs.slack.dev/reference/methods/<method>). Every method
# the code calls must be listed here: add new ones with the scopes from Slack's method page.
METHOD_SCOPES: dict[str, frozenset[str]] = {
    "auth_test": frozenset(),
    "chat_postMessage": frozenset({"chat:write"}),
    "chat_update": frozenset({"chat:write"}),
    "chat_postEphemeral": frozenset({"chat:write"}),
    # Department channels may be public or private: both history scopes.
    "conversations_history": frozenset({"channels:history", "groups:history"}),
    "conversations_replies": frozenset({"channels:history", "groups:history"}),
    "conversations_join": frozenset({"channels:join"}),
    "conversations_open": frozenset({"im:write"}),
    "users_info": frozenset({"users:read"}),
    "views_publish": frozenset(),
    "views_open": frozenset(),
    "views_update": frozenset(),
    "views_push": frozenset(),
    "files_upload_v2": frozenset({"files:write"}),
    "files_getUploadURLExternal": frozenset({"files:write"}),
    "files_completeUploadExternal": frozenset({"files:write"}),
}

# Every Web API method slack_sdk knows, by its Python name (chat_postMessage, ...).
API_METHODS = frozenset(name for name in vars(AsyncWebClient) if not name.startswith("_"))
# Bolt listener arguments that call the Web API themselves.
BOLT_HELPERS = {"say": "chat_postMessage"}
# Bolt registrations that need settings.interactivity.is_enabled.
INTERACTIVE_LISTENERS = {"action", "view", "view_submission", "view_closed", "shortcut", "options"}


def load_manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def load_schema() -> dict[str, Any]:
    if not SCHEMA.is_file():
        pytest.skip(f"Slack's manifest schema is not at {SCHEMA} (shared/ beside the clone)")
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def schema_errors(schema: dict[str, Any], manifest: dict[str, Any]) -> list[str]:
    cls = validator_for(schema, default=Draft7Validator)
    cls.check_schema(schema)
    errors = cls(schema).iter_errors(manifest)
    return sorted(f"{error.json_path}: {error.message}" for error in errors)


def source_files() -> list[Path]:
    return sorted(path for folder in SOURCE_DIRS for path in (ROOT / folder).rglob("*.py"))


def api_methods_in(tree: ast.AST) -> set[str]:
    """Web API methods named in code: `client.chat_update(`, `getattr(client, "chat_update")`,
    a method name passed around as a string (`self._call(job, "chat_postMessage", ...)`),
    `api_call("chat.update")`, and Bolt's `say(...)`."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in API_METHODS:
            found.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = node.value.replace(".", "_") if "." in node.value else node.value
            if name in API_METHODS:
                found.add(name)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in BOLT_HELPERS
        ):
            found.add(BOLT_HELPERS[node.func.id])
    return found


def listener_registrations(tree: ast.AST) -> Iterator[tuple[str, ast.expr | None]]:
    """(kind, first argument) for each `app.<kind>(...)` registration, decorators included."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = node.func.value
        is_app = (isinstance(receiver, ast.Name) and receiver.id == "app") or (
            isinstance(receiver, ast.Attribute) and receiver.attr == "app"
        )
        if is_app:
            yield node.func.attr, node.args[0] if node.args else None


def code_scan() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(Web API method -> files calling it, listener kind -> names registered for it)."""
    methods: dict[str, set[str]] = {}
    listeners: dict[str, set[str]] = {}
    for path in source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = str(path.relative_to(ROOT))
        for method in api_methods_in(tree):
            methods.setdefault(method, set()).add(where)
        for kind, arg in listener_registrations(tree):
            if kind in {"event", "command"}:
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    pytest.fail(
                        f"{where}:{getattr(arg, 'lineno', '?')}: app.{kind}(...) without a "
                        "literal name; this test cannot check it against manifest.yml"
                    )
                listeners.setdefault(kind, set()).add(arg.value)
            else:
                listeners.setdefault(kind, set())
    return methods, listeners


# --- the manifest is valid for Slack -----------------------------------------------------------


def test_manifest_is_valid_for_slack() -> None:
    manifest = load_manifest()
    errors = schema_errors(load_schema(), manifest)
    assert not errors, "manifest.yml does not match Slack's schema:\n" + "\n".join(errors)
    major = manifest.get("_metadata", {}).get("major_version", 1)
    assert major == 1, f"manifest.yml is major_version {major}; this test checks version 1"


def test_manifest_details_the_schema_does_not_enforce() -> None:
    info = load_manifest()["display_information"]
    # The schema spells this check "regex", which JSON Schema ignores.
    color = info.get("background_color", "#000")
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", color), color


def _command_without_description(manifest: dict[str, Any]) -> None:
    del manifest["features"]["slash_commands"][0]["description"]


def _unknown_top_level_key(manifest: dict[str, Any]) -> None:
    manifest["setting"] = {"socket_mode_enabled": True}


def _unknown_setting(manifest: dict[str, Any]) -> None:
    manifest["settings"]["socket_mode"] = True


@pytest.mark.parametrize(
    ("break_it", "where"),
    [
        (_command_without_description, "$.features.slash_commands[0]"),
        (_unknown_top_level_key, "$"),
        (_unknown_setting, "$.settings"),
    ],
    ids=["command-without-description", "unknown-top-level-key", "unknown-setting"],
)
def test_schema_rejects_a_broken_manifest(break_it: Any, where: str) -> None:
    """The validation above can fail: broken copies of the manifest are rejected."""
    schema = load_schema()
    broken = copy.deepcopy(load_manifest())
    break_it(broken)
    errors = schema_errors(schema, broken)
    assert errors, f"{break_it.__name__}: Slack's schema accepted a broken manifest"
    assert any(error.startswith(f"{where}: ") for error in errors), errors


# --- the manifest matches the code -------------------------------------------------------------


def test_scanner_finds_the_ways_code_calls_slack() -> None:
    tree = ast.parse(
        "async def f(client, app, say, self):\n"
        "    await client.chat_postMessage(channel='C1', text='x')\n"
        "    await self._call(job, 'conversations_history', channel='C1')\n"
        "    await getattr(self.client, 'users_info')(user='U1')\n"
        "    await client.api_call('views.publish')\n"
        "    await say('hi')\n"
        "    app.event('app_home_opened')(f)\n"
        "    app.command('/webcare')(f)\n"
        "    log.info('case_claim chat_postMessage failed')\n"
    )
    assert api_methods_in(tree) == {
        "chat_postMessage",
        "conversations_history",
        "users_info",
        "views_publish",
    }
    assert [kind for kind, _ in listener_registrations(tree)] == ["event", "command"]


def test_slash_commands_are_declared() -> None:
    _, listeners = code_scan()
    features = load_manifest()["features"]
    declared = {command["command"] for command in features.get("slash_commands", [])}
    assert "/webcare" in listeners.get("command", set()), "handlers no longer register /webcare"
    assert "/webcare" in declared
    missing = listeners.get("command", set()) - declared
    assert not missing, f"commands the code handles but manifest.yml lacks: {sorted(missing)}"
    if declared:
        assert "commands" in load_manifest()["oauth_config"]["scopes"]["bot"]


def test_every_web_api_call_has_its_scopes() -> None:
    methods, _ = code_scan()
    assert "chat_postMessage" in methods, "found no chat_postMessage call: is the scanner broken?"
    unknown = {
        method: sorted(files) for method, files in methods.items() if method not in METHOD_SCOPES
    }
    assert not unknown, (
        "the code calls Web API methods that METHOD_SCOPES in tests/app/test_manifest.py does not "
        f"list; add them with the bot scopes Slack documents for them: {unknown}"
    )
    declared = set(load_manifest()["oauth_config"]["scopes"]["bot"])
    missing = {
        method: sorted(METHOD_SCOPES[method] - declared)
        for method in sorted(methods)
        if METHOD_SCOPES[method] - declared
    }
    assert not missing, f"manifest.yml lacks bot scopes these calls need: {missing}"


def test_events_and_interactivity_are_subscribed() -> None:
    methods, listeners = code_scan()
    settings = load_manifest()["settings"]
    bot_events = set(settings.get("event_subscriptions", {}).get("bot_events", []))
    events = listeners.get("event", set())
    assert "app_home_opened" in events, "handlers no longer listen to app_home_opened"
    missing = events - bot_events
    assert not missing, f"events the code listens to but manifest.yml lacks: {sorted(missing)}"
    if INTERACTIVE_LISTENERS & listeners.keys():
        assert settings.get("interactivity", {}).get("is_enabled") is True
    if "views_publish" in methods:
        assert load_manifest()["features"]["app_home"]["home_tab_enabled"] is True
