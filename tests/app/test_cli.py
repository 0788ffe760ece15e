"""The `webcare` command as an operator uses it: clear messages, no surprises."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from bot.app.cli import main
from tests.conftest import CONFIG, mention

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh directory like a newcomer's checkout: the example env and a config."""
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "DATABASE_URL",
        "WEBCARE_CONFIG",
        "WEBHOOK_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    (tmp_path / "webcare.yml").write_text(yaml.safe_dump(CONFIG))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _jsonl(path: Path, lines: list[object]) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def test_serve_without_tokens_says_what_to_fill_in(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN" in err and "SLACK_APP_TOKEN" in err and ".env" in err
    assert "OAuth & Permissions" in err


def test_serve_with_a_broken_config_lists_the_problems(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    broken = {**CONFIG, "default_department": "sales"}
    (workdir / "webcare.yml").write_text(yaml.safe_dump(broken))
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "webcare.yml: (top level): default_department 'sales' is not one of" in err


def test_a_bad_setting_is_named(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBCARE_LANGUAGE", "fr")
    assert main(["check"]) == 2
    assert "WEBCARE_LANGUAGE" in capsys.readouterr().err


def test_route_is_a_dry_run_that_explains_each_decision(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = _jsonl(
        workdir / "m.jsonl",
        [
            mention("1", text="Storing bij de app"),
            mention("2", text="factuur"),
            "{nope",
            mention("3", text="Hallo"),
        ],
    )
    assert main(["route", str(file)]) == 1  # one bad line
    out = capsys.readouterr().out.splitlines()
    assert out[0] == 'line 1: x/1 -> outages [urgent] by Outage: keyword "storing"'
    assert out[1] == 'line 2: x/2 -> billing [normal] by Billing: keyword "factuur"'
    assert out[2].startswith("line 3: REJECTED: not valid JSON")
    assert (
        out[3]
        == "line 4: x/3 -> webcare [normal] by (default): no rule matched: default department"
    )
    assert not (workdir / "webcare.db").exists()  # nothing stored


def test_route_reads_mentions_as_the_webhook_does(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An RFC 2822 date and an author link with a space are repaired, not refused."""
    odd = mention("1", text="<p>factuur</p>", created_at="Tue, 24 Nov 2026 10:00:00 +0100")
    odd["author"] = {"handle": "anna", "url": "https://a b"}
    assert main(["route", str(_jsonl(workdir / "m.jsonl", [odd]))]) == 0
    assert capsys.readouterr().out.startswith("line 1: x/1 -> billing [normal] by Billing")


def test_import_stores_what_is_valid_reports_the_rest_and_is_idempotent(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = _jsonl(
        workdir / "m.jsonl",
        [mention("1"), {"source": "x"}, mention("2", author={"handle": "bram"})],
    )
    assert main(["import", str(file)]) == 1
    captured = capsys.readouterr()
    assert "line 2: REJECTED: external_id: Field required" in captured.err
    assert captured.out.startswith("2 stored, 0 already known, 1 rejected; 2 case(s)")
    assert main(["import", str(file)]) == 1
    assert capsys.readouterr().out.startswith("0 stored, 2 already known, 1 rejected")


def test_db_upgrade_creates_the_schema(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert (workdir / "webcare.db").exists()


def test_the_bot_starts_without_loading_the_chart_library() -> None:
    """matplotlib and numpy are some 50 MB of memory and more than half a second of start-up
    for the report chart alone: `webcare serve` loads them when a chart is asked for."""
    import subprocess
    import sys

    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, bot.app.cli, bot.app.runtime;"
            " print(sorted({'matplotlib', 'numpy'} & set(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert loaded.stdout.strip() == "[]"
