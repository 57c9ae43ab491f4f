"""Shared fixtures: tiny handmade transaction files and the project paths."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"

# A handmade log. Hand-computed summaries are in the tests that use it.
#  A:   2020-01-01 10 + 5 (same day -> one purchase of 15), 2020-01-08 20, 2020-01-22 30
#  007: 2020-01-15 40                      (id with a leading zero: stays "007")
#  B:   2020-01-10 8, 2020-02-05 12
TINY_CSV = """customer_id,date,amount
A,2020-01-01,10
A,2020-01-01,5
A,2020-01-08,20
A,2020-01-22,30
007,2020-01-15,40
B,2020-01-10,8
B,2020-02-05,12
"""


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.csv"
    path.write_text(TINY_CSV)
    return path


@pytest.fixture
def write_csv(tmp_path: Path):
    """Write ``text`` to a CSV file in tmp_path and return its path."""

    def _write(text: str, name: str = "tx.csv") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write


@pytest.fixture(autouse=True, scope="session")
def _kit_cache_of_the_session(tmp_path_factory):
    """The kit's cache folder (analysis.runs.incremental.CACHE_ENV) is one of the test session, for the tests and
    the runs they start, not the user's."""
    import os

    before = os.environ.get("RETENTION_KIT_CACHE")
    os.environ["RETENTION_KIT_CACHE"] = str(tmp_path_factory.mktemp("kit-cache"))
    yield
    if before is None:
        os.environ.pop("RETENTION_KIT_CACHE", None)
    else:
        os.environ["RETENTION_KIT_CACHE"] = before
