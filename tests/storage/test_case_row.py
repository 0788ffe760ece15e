"""CaseRow names every column of `cases`, and both ways of reading a case hand them over."""

from __future__ import annotations

import inspect

from storage.case_row import CaseRow
from storage.tables import CASES
from storage.transitions.sqlite import CaseRow as RawCaseRow


def test_the_case_row_type_names_every_column_of_cases() -> None:
    typed = {name for name, _ in inspect.getmembers(CaseRow, lambda m: isinstance(m, property))}
    assert typed == set(CASES.c.keys())
    assert set(RawCaseRow._fields) == typed  # the raw SQLite path's rows
