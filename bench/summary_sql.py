"""Which DuckDB SQL computes the RFM summary fastest? Variants side by side on the same file.

Usage (from the project folder; the logs come from ``bench/run.py``)::

    .venv/bin/python bench/summary_sql.py                      # 1m log, 7 interleaved repeats
    .venv/bin/python bench/summary_sql.py --sizes 1m,10m --repeat 3

Variants (all read only the three needed columns of the Parquet file):

``scan``
    ``count(*), min(date), sum(amount)`` -- the cost of reading the file, a floor.
``one_level_no_day_collapse``
    one hash aggregation per customer, *without* combining same-day lines (wrong when a
    customer has several lines on one day) -- the cost of the customer aggregation alone.
``two_level``
    the textbook SQL: group by customer and day, then by customer (the kit before this change;
    ``analysis.summary`` still uses it for periods longer than ``MAX_BITMAP_DAYS``).
``kit``
    what ``analysis.summary`` runs now: one aggregation per customer with a day bitmap
    (``bitstring_agg``) for the exact number of purchase days, plus a joined look at the first
    day of the customers with same-day lines.
``*_to_pandas``
    the same plus ``ORDER BY customer_id`` and the conversion to the pandas frame that
    ``rfm_summary`` returns (object strings for the ids).

Each repeat runs every variant once, in turn, so a busy machine slows all of them alike.
Writes ``bench/results_summary_sql.json`` and prints medians and transactions per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from run import SIZES, ensure_log  # noqa: E402


def variants(path: Path, observation_end: dt.date) -> dict[str, tuple[str, str]]:
    """name -> (kind, SQL); kind 'fetch' = aggregate on the DuckDB side, 'pandas' = full result to pandas."""
    import duckdb

    import analysis.summary as summary

    src = "read_parquet('" + str(path).replace("'", "''") + "')"
    end = f"DATE '{observation_end.isoformat()}'"
    lines = f"(SELECT customer_id, CAST(date AS DATE) AS date, amount FROM {src} WHERE CAST(date AS DATE) <= {end})"
    con = duckdb.connect()
    kit = summary._customer_periods_sql(con, src, observation_end)
    two_level = summary._period_sql(src, None, end, 7.0)
    one_level = (f"SELECT customer_id, min(date), max(date), count(*), {summary.exact_sum_sql('amount')},"
                 f" arg_min(amount, date) FROM {lines} GROUP BY customer_id")
    return {
        "scan": ("fetch", f"SELECT count(*), min(date), sum(amount) FROM {lines}"),
        "one_level_no_day_collapse": ("fetch", f"SELECT max(COLUMNS(*)) FROM ({one_level})"),
        "two_level": ("fetch", f"SELECT max(COLUMNS(*)) FROM ({two_level})"),
        "kit": ("fetch", f"SELECT max(COLUMNS(*)) FROM ({kit})"),
        "two_level_to_pandas": ("pandas", f"SELECT * FROM ({two_level}) ORDER BY customer_id"),
        "kit_to_pandas": ("pandas", f"SELECT * FROM ({kit}) ORDER BY customer_id"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1m")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: DuckDB's, = cores)")
    parser.add_argument("--cache", type=Path, default=HERE / "cache")
    parser.add_argument("--out", type=Path, default=HERE / "results_summary_sql.json")
    args = parser.parse_args(argv)
    import duckdb

    out = {"command": " ".join(["bench/summary_sql.py", *(argv if argv is not None else sys.argv[1:])]),
           "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "duckdb": duckdb.__version__, "cpus": os.cpu_count(), "sizes": {}}
    for label in args.sizes.split(","):
        path, meta = ensure_log(SIZES[label], args.cache)
        end = dt.date.fromisoformat(meta["observation_end"])
        runs: dict[str, list[float]] = {}
        con = duckdb.connect()
        if args.threads:
            con.execute(f"SET threads = {args.threads}")
        todo = variants(path, end)
        loads = []
        for _ in range(args.repeat):
            loads.append(os.getloadavg()[0])
            for name, (kind, sql) in todo.items():
                t0 = time.perf_counter()
                rel = con.sql(sql)
                rel.df() if kind == "pandas" else rel.fetchall()
                runs.setdefault(name, []).append(time.perf_counter() - t0)
        n_tx = meta["n_transactions"]
        res = {"n_transactions": n_tx, "n_customers": meta["n_customers"], "load_avg_1min": loads, "variants": {}}
        print(f"\n{label}: {n_tx:,} transactions, median of {args.repeat}")
        for name, times in runs.items():
            med = statistics.median(times)
            res["variants"][name] = {"seconds_median": med, "seconds_min": min(times), "runs": times,
                                     "transactions_per_second": n_tx / med}
            print(f"  {name:<28}{med:>8.3f} s {n_tx / med / 1e6:>8.1f} M transactions/s  (min {min(times):.3f} s)")
        out["sizes"][label] = res
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
