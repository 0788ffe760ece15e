"""Every benchmark still imports after a change to the code it measures (they run outside the
suite, so a moved module would otherwise be found only when someone measures)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHES = sorted(p.stem for p in (ROOT / "bench").glob("*.py") if p.stem != "__init__")


def test_there_are_benchmarks() -> None:
    assert {"ingest", "storm", "ack", "delivery", "memory", "summary"} <= set(BENCHES)


@pytest.mark.parametrize("name", BENCHES)
def test_each_benchmark_imports(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    if not name.startswith("_") and (ROOT / "bench" / f"{name}.py").read_text().count("def main("):
        assert callable(module.main)
