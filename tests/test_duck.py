"""The kit's DuckDB connections (analysis.data.duck): a memory cap and a spill folder outside the project (#13)."""

from __future__ import annotations

import os
import tempfile

from analysis.data import duck


def _setting(con, name: str) -> str:
    return con.execute(f"SELECT current_setting('{name}')").fetchall()[0][0]


def test_a_connection_is_capped_at_a_quarter_of_the_memory_and_spills_to_the_temporary_folder(monkeypatch):
    monkeypatch.delenv(duck.MEMORY_ENV, raising=False)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    expected_mb = max(1024, total // 4 // 2**20)
    assert duck.memory_cap() == f"{expected_mb}MiB"
    con = duck.connect()
    limit = _setting(con, "memory_limit")  # DuckDB writes it back in its own unit, e.g. '5.8 GiB'
    number, unit = limit.split()
    in_mb = float(number) * {"MiB": 1, "GiB": 1024, "MB": 1e6 / 2**20, "GB": 1e9 / 2**20}[unit]
    assert abs(in_mb - expected_mb) / expected_mb < 0.02, limit  # written with one decimal
    assert _setting(con, "temp_directory") == os.path.join(tempfile.gettempdir(), "retention-kit-duckdb")


def test_the_cap_can_be_set(monkeypatch):
    monkeypatch.setenv(duck.MEMORY_ENV, "2GB")
    assert duck.memory_cap() == "2GB"
    assert _setting(duck.connect(), "memory_limit") in ("1.8 GiB", "1.9 GiB", "2.0 GB", "1.8GiB", "1.9GiB")
