"""The kit's DuckDB connections, from one place: a memory cap and a spill folder outside the project.

DuckDB lets one connection use 80% of the machine's memory by default, and spills to ``.tmp`` in the current
folder (the project, when run through ``make``). At ten million customers the ingest alone reached 15.6 GB and
page 01 12.8 GB. Each connection of the kit is capped at a quarter of the machine's memory (at least 1 GB;
``RETENTION_KIT_DUCKDB_MEMORY``, e.g. ``8GB``, sets another cap) and spills beyond it into the system's temporary
folder (``TMPDIR``), which DuckDB empties when the connection closes. Results do not change: only where the
intermediate data live.
"""

from __future__ import annotations

import os
import tempfile

import duckdb

MEMORY_ENV = "RETENTION_KIT_DUCKDB_MEMORY"


def memory_cap() -> str:
    """The memory limit of a connection, as DuckDB reads it (``"6026MiB"``)."""
    configured = os.environ.get(MEMORY_ENV, "").strip()
    if configured:
        return configured
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: DuckDB's own default
        return "80%"
    return f"{max(1024, total // 4 // 2**20)}MiB"


def spill_folder() -> str:
    """Where DuckDB writes what does not fit under the cap: ``<temporary folder>/retention-kit-duckdb``."""
    return os.path.join(tempfile.gettempdir(), "retention-kit-duckdb")


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the kit's memory cap and spill folder."""
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{memory_cap()}'")
    con.execute(f"SET temp_directory = '{spill_folder()}'")
    return con
