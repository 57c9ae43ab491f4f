"""The console lines of a run, from one place: in a backfill each line starts with its run's as-of date,
because ``make -j2`` interleaves the output of two runs."""

from __future__ import annotations

import contextlib

#: Put before every console line (the as-of date in runs of a backfill).
_prefix = ""


def echo(message: str) -> None:
    """Print ``message`` (one or more lines) to the console at once, each line prefixed."""
    lines = message.split("\n")
    print("\n".join(f"{_prefix}{line}" if line.strip() else line for line in lines), flush=True)


@contextlib.contextmanager
def prefixed(prefix: str):
    """Prefix every console line with ``prefix`` inside the block (restored after it)."""
    global _prefix
    previous, _prefix = _prefix, prefix
    try:
        yield
    finally:
        _prefix = previous
