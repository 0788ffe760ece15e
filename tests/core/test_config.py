"""The config file: a team finds every mistake, with the place in the file that holds it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from bot.core.config import load_config, parse_config
from bot.core.config.base import ConfigError
from tests.conftest import CONFIG

EXAMPLE = Path(__file__).resolve().parents[2] / "webcare.example.yml"


def _problems(data: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, source="webcare.yml")
    return caught.value.problems


def _config(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(CONFIG)
    data.update(changes)
    return data


def test_the_shipped_example_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert config.default_department == "webcare"
    assert {d.key for d in config.departments} >= {"webcare", "billing"}


def test_errors_name_the_file_and_the_path_inside_it() -> None:
    data = _config()
    data["rules"] = [
        *data["rules"],
        {"name": "x", "match": {"keywords": "not a list"}, "department": "billing"},
    ]
    assert _problems(data) == ["webcare.yml: rules[2].match.keywords: Input should be a valid list"]


def test_every_problem_is_reported_at_once() -> None:
    data = _config()
    data["departments"][0]["channel"] = "#general"
    data["departments"][1]["contacts"] = ["anna"]
    data["departments"][2]["sla_minutes"] = 0
    problems = _problems(data)
    assert len(problems) == 3
    assert problems[0].startswith("webcare.yml: departments[0].channel: '#general' is not a Slack")
    assert problems[1].startswith(
        "webcare.yml: departments[1].contacts: 'anna' is not a Slack user"
    )
    assert problems[2].startswith("webcare.yml: departments[2].sla_minutes:")


def test_a_rule_for_an_unknown_department_is_named() -> None:
    data = _config()
    data["rules"][1]["department"] = "billling"
    (problem,) = _problems(data)
    assert problem.startswith("webcare.yml: rules[1].department: unknown department 'billling'")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"default_department": "sales"}, "default_department 'sales' is not one of"),
        ({"rules": [{"name": "r", "match": {}, "department": "billing"}]}, "rules[0].match"),
        (
            {"rules": [{"name": "r", "match": {"regex": "(unclosed"}, "department": "billing"}]},
            "rules[0].match.regex: regular expression does not compile",
        ),
        (
            {"rules": [{"name": "r", "match": {"sources": ["tiktok"]}, "department": "billing"}]},
            "unknown source 'tiktok'",
        ),
        ({"business_hours": {"timezone": "Europe/Amsterdm"}}, "unknown time zone"),
        ({"business_hours": {"hours": {"mon": "18:00-09:00"}}}, "close before they open"),
        ({"business_hours": {"hours": {"monday": "09:00-17:00"}}}, "unknown weekday 'monday'"),
        ({"business_hours": {"holidays": "XX"}}, "no public-holiday calendar"),
        # `webcare check` said ok, and `webcare serve` died building the calendar.
        ({"business_hours": {"hours": {}}}, "business_hours: no opening hours on any weekday"),
        ({"business_hours": {"hours": {"mon": None}}}, "no opening hours on any weekday"),
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
    ],
)
def test_common_mistakes_get_a_clear_message(change: dict[str, Any], expected: str) -> None:
    assert any(expected in problem for problem in _problems(_config(**change)))


def test_a_missing_or_broken_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"copy webcare\.example\.yml"):
        load_config(tmp_path / "webcare.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("departments:\n  - key: a\n   name: b\n")
    with pytest.raises(ConfigError, match=r"broken.yml: line 3, column 4: not valid YAML"):
        load_config(broken)
    empty = tmp_path / "empty.yml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(empty)


def test_sources_of_each_kind_are_checked_where_they_are_written() -> None:
    sources = [
        {"name": "alerts", "url": "https://www.google.com/alerts/feeds/1/2"},  # type: rss
        {"name": "masto", "type": "mastodon", "instance": "mastodon.social"},
        {"name": "sky", "type": "bluesky", "handle": "acme.bsky.social", "app_password": "x"},
        {"name": "tiktok", "type": "tiktok"},
    ]
    problems = _problems(_config(sources=sources, source_alerts={"channel": "#alerts"}))
    assert "webcare.yml: sources[1].instance: Input should be a valid URL" in problems[0]
    assert "webcare.yml: sources[1].access_token: Field required" in problems
    assert any(p.startswith("webcare.yml: sources[2].app_password:") for p in problems)
    assert "webcare.yml: sources[3]: type must be rss, mastodon or bluesky" in problems
    assert any(p.startswith("webcare.yml: source_alerts.channel: '#alerts'") for p in problems)


def test_secrets_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    source = {
        "name": "masto",
        "type": "mastodon",
        "instance": "https://mastodon.social",
        "access_token": "${MASTODON_TOKEN}",
    }
    path = tmp_path / "webcare.yml"
    path.write_text(yaml.safe_dump(_config(sources=[source])))
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("MASTODON_TOKEN", raising=False)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        f"{path}: sources[0].access_token: environment variable MASTODON_TOKEN is not set "
        "(set it, or add it to .env)"
    ]
    (tmp_path / ".env").write_text("MASTODON_TOKEN=from-dot-env-123\n")
    assert load_config(path).sources[0].access_token == "from-dot-env-123"  # type: ignore[union-attr]
    monkeypatch.setenv("MASTODON_TOKEN", "from-the-environment")
    assert load_config(path).sources[0].access_token == "from-the-environment"  # type: ignore[union-attr]


def test_the_readmes_source_examples_are_valid_as_written() -> None:
    import re

    import yaml

    from bot.core.config import expand_env

    readme = (EXAMPLE.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    examples = [yaml.safe_load(b) for b in blocks if b.startswith(("sources:", "source_alerts:"))]
    assert len(examples) >= 4  # feeds, Mastodon, Bluesky, alerts
    env = {"MASTODON_TOKEN": "token-1234567890", "BLUESKY_APP_PASSWORD": "abcd-efgh-ijkl-mnop"}
    for example in examples:
        parse_config(expand_env(_config(**example), source="README.md", env=env), source="README")


def test_an_unset_secret_is_reported_with_the_files_other_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    sources = [
        {
            "name": "m",
            "type": "mastodon",
            "instance": "https://m.example",
            "access_token": "${TOKEN_X}",
        },
        {"name": "sky", "type": "bluesky", "handle": "acme.bsky.social"},
    ]
    path = tmp_path / "webcare.yml"
    path.write_text(yaml.safe_dump(_config(sources=sources)))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOKEN_X", raising=False)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        f"{path}: sources[0].access_token: environment variable TOKEN_X is not set "
        "(set it, or add it to .env)",
        f"{path}: sources[1].app_password: Field required",
    ]
