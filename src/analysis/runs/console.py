"""The console lines of a run, from one place: in a backfill each line starts with its run's as-of date,
because ``make -j2`` interleaves the output of two runs."""

from __future__ import annotations

import contextlib
import sys
import threading

#: Put before every console line (the as-of date in runs of a backfill).
_prefix = ""
_lock = threading.Lock()  # two pages at once (analysis.runs.schedule) echo from two threads


def echo(message: str) -> None:
    """Print ``message`` (one or more lines) to the console at once, each line prefixed: text and line end in one
    write, so that lines echoed from two threads never run into each other (print writes them separately)."""
    lines = message.split("\n")
    text = "\n".join(f"{_prefix}{line}" if line.strip() else line for line in lines) + "\n"
    with _lock:
        sys.stdout.write(text)
        sys.stdout.flush()


@contextlib.contextmanager
def prefixed(prefix: str):
    """Prefix every console line with ``prefix`` inside the block (restored after it)."""
    global _prefix
    previous, _prefix = _prefix, prefix
    try:
        yield
    finally:
        _prefix = previous
