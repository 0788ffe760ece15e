"""The config file: a team finds every mistake, with the place in the file that holds it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, load_config, parse_config
from tests.conftest import CONFIG

EXAMPLE = Path(__file__).resolve().parents[1] / "webcare.example.yml"


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
