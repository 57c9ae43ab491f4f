"""The as-of dates of a series of periodic runs (``make backfill``).

Standard library only: the Makefile calls this module with the system Python
before the project's environment exists.

Usage::

    python -m analysis.periods --from 1998-01-01 --to 1998-06-30 --every month

prints one date per line, oldest first:

* ``month``: every last day of a month between FROM and TO (both included);
* ``quarter``: every last day of a calendar quarter (31 March, 30 June, 30 September,
  31 December) between FROM and TO;
* ``week``: FROM, FROM + 7 days, ... up to TO.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import sys

from analysis.errors import ConfigError

EVERY = ("month", "quarter", "week")


def parse_date(text: str, what: str) -> dt.date:
    """An ISO date (YYYY-MM-DD), or a ConfigError (a ValueError) that says which argument was wrong."""
    try:
        return dt.date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise ConfigError(f"{what} must be a date written YYYY-MM-DD, not {text!r}") from None


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def period_ends(start: dt.date, end: dt.date, every: str) -> list[dt.date]:
    """The as-of dates from ``start`` to ``end`` (both included), oldest first."""
    if every not in EVERY:
        raise ConfigError(f"EVERY must be one of {', '.join(EVERY)}, not {every!r}")
    if end < start:
        raise ConfigError(f"TO ({end}) is before FROM ({start})")
    if every == "week":
        return [start + dt.timedelta(days=7 * k) for k in range((end - start).days // 7 + 1)]
    step = 3 if every == "quarter" else 1
    out = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        if month % step == 0:
            day = _month_end(year, month)
            if start <= day <= end:
                out.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.periods", description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="start", required=True, help="first possible as-of date, YYYY-MM-DD")
    parser.add_argument("--to", dest="end", required=True, help="last possible as-of date, YYYY-MM-DD")
    parser.add_argument("--every", default="month", help="month (default), quarter or week")
    args = parser.parse_args(argv)
    try:
        dates = period_ends(parse_date(args.start, "FROM"), parse_date(args.end, "TO"), args.every.strip().lower())
    except ValueError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    if not dates:
        print(f"ERROR: there is no {args.every} end between {args.start} and {args.end}", file=sys.stderr)
        return 2
    print("\n".join(d.isoformat() for d in dates))
    return 0


if __name__ == "__main__":
    sys.exit(main())
