"""One writer of case status: bot.cases.state_machine decides every change of a case's status.

Read from the source: no other module writes a case status (a dict key or keyword `status` with
a case status as its value, or an SQL `SET status = '…'`), and only the state machine calls the
storage functions that write a case change. A new path that chose a status itself (as send-back,
reply-sent, move and the customer's return once did) fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from storage.statuses import CaseStatus

ROOT = Path(__file__).resolve().parents[2]
STATE_MACHINE = ROOT / "bot" / "cases" / "state_machine.py"
WRITERS = ("apply_change", "move_case")
STATUSES = {str(status) for status in CaseStatus}
_SQL_SET = re.compile(
    r"(\bSET\s+status\s*=\s*'|\bstatus\s*=\s*'(" + "|".join(STATUSES) + r")'\s*,)", re.I
)


def _modules() -> list[Path]:
    found = [
        path
        for folder in ("bot", "handlers", "storage")
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts
    ]
    assert len(found) > 50
    return found


def _is_case_status(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in STATUSES
    # CaseStatus.NEW, S.NEW (imported under another name), any enum member named like one
    return isinstance(node, ast.Attribute) and node.attr.lower() in STATUSES


def _status_writes(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            lines += [
                value.lineno
                for key, value in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant)
                and key.value == "status"
                and _is_case_status(value)
            ]
        elif isinstance(node, ast.keyword) and node.arg == "status":
            if _is_case_status(node.value):
                lines.append(node.value.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            lines += [node.lineno] if _SQL_SET.search(node.value) else []
    return lines


def _writer_calls(tree: ast.AST) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) in WRITERS
    ]


@pytest.mark.parametrize("rule", ["status values", "case-change writers"])
def test_only_the_state_machine_sets_a_case_status(rule: str) -> None:
    offenders = []
    for path in _modules():
        if path == STATE_MACHINE:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        if rule == "status values":
            lines = _status_writes(tree)
        elif path.parent.name == "transitions" and path.parent.parent.name == "storage":
            continue  # where the writers are defined (and call each other)
        else:
            lines = _writer_calls(tree)
        offenders += [f"{path.relative_to(ROOT)}:{line}" for line in lines]
    assert offenders == []


def test_the_check_finds_a_status_set_outside_the_state_machine() -> None:
    """The scan sees each way a status could be written (a check that cannot fail proves
    nothing)."""
    written = """
values = {"status": CaseStatus.CLAIMED}
conn.execute(update(CASES).values(status="new"))
SQL = "UPDATE cases SET status = 'reopened', resolved_at = NULL"
SQL2 = " mention_count = ?, status = 'reopened', owner_id = NULL"
apply_change(conn, case=case, values={}, event="x", actor="u", now=now)
"""
    tree = ast.parse(written)
    assert sorted(_status_writes(tree)) == [2, 3, 4, 5]
    assert _writer_calls(tree) == [6]
    kept = """
jobs = {"status": "pending"}
drafts = update(DRAFTS).values(status=DraftStatus.SENT)
WHERE = "status IN ('new') OR (status = 'resolved' AND resolved_at >= ?)"
"""
    assert _status_writes(ast.parse(kept)) == []
