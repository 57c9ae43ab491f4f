"""Which DuckDB SQL computes the RFM summary fastest? Variants side by side on the same file.

Usage (from the project folder; the logs come from ``bench/run.py``)::

    .venv/bin/python bench/summary_sql.py                      # 1m log, 7 interleaved repeats
    .venv/bin/python bench/summary_sql.py --sizes 1m,10m --repeat 3

Variants (all read only the three needed columns of the Parquet file):

``scan``
    ``count(*), min(date), sum(amount)`` -- the cost of reading the file, a floor.
``group_count``, ``group_count_hash_key``
    ``GROUP BY customer_id`` with ``count(*)`` only, keyed by the string or by its 64-bit
    ``hash`` -- the cost of the hash table alone (does an integer key help?).
``one_level_no_day_collapse``
    one hash aggregation per customer, *without* combining same-day lines (wrong when a
    customer has several lines on one day) -- the cost of the customer aggregation alone.
``two_level``
    the textbook SQL: group by customer and day, then by customer (the kit before the bitmap;
    ``analysis.data.summary`` still uses it for periods longer than ``MAX_BITMAP_DAYS``).
``kit_fixup_all``
    the kit before issue #7's summary work: one aggregation per customer with a day bitmap
    (``bitstring_agg``), plus a second scan joined on (customer, first day) for *every*
    customer with several lines on some day (15 % of the customers in the simulated logs).
``kit``
    what ``analysis.data.summary`` runs now: the same aggregation plus ``min(date, 2)``, so the
    second scan is needed only for customers with several lines on their *first* day (none in
    the simulated logs, none in the purchases table that ``ingest`` writes: DuckDB then skips
    the second scan).
``kit_hugeint_bitmap``
    ``kit`` with the day bitmap as ``bit_or`` over 120-day ``HUGEINT`` words instead of
    ``bitstring_agg`` (5 aggregates for the simulated 546 days).
``*_to_pandas``, ``kit_to_arrow``
    the same plus ``ORDER BY customer_id`` and the conversion to the pandas frame that
    ``rfm_summary`` returns (object strings for the ids), or to an Arrow table (no Python strings).

Each repeat runs every variant once, in turn, so a busy machine slows all of them alike.
Writes ``bench/results_summary_sql.json`` and prints medians, transactions per second and
the process CPU time (user + system, both threads; steadier than wall time on a busy machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from run import SIZES, ensure_log  # noqa: E402


def variants(path: Path, observation_end: dt.date) -> dict[str, tuple[str, str]]:
    """name -> (kind, SQL); kind 'fetch' = aggregate on the DuckDB side, 'pandas'/'arrow' = full result."""
    import duckdb

    import analysis.data.summary as summary

    src = "read_parquet('" + str(path).replace("'", "''") + "')"
    end = f"DATE '{observation_end.isoformat()}'"
    lines = f"(SELECT customer_id, CAST(date AS DATE) AS date, amount FROM {src} WHERE CAST(date AS DATE) <= {end})"
    con = duckdb.connect()
    kit = summary._customer_periods_sql(con, src, observation_end)
    flag_now = "WHERE second_line_date = first_purchase"
    assert flag_now in kit, "analysis.data.summary changed: update the kit_fixup_all variant"
    kit_fixup_all = kit.replace(flag_now, "WHERE n_purchases < n_lines")
    bitmap = kit[kit.index("bit_count(bitstring_agg("):kit.index(" AS n_purchases")]
    first_day = con.execute(f"SELECT min(date) FROM {lines}").fetchall()[0][0]
    n_words = (observation_end - first_day).days // 120 + 1
    day = f"date_diff('day', DATE '{first_day}', date)"
    words = " + ".join(
        f"CAST(bit_count(bit_or(CASE WHEN {day} // 120 = {k} THEN CAST(1 AS HUGEINT) << CAST({day} % 120 AS HUGEINT)"
        f" END)) AS INTEGER)" for k in range(n_words))
    kit_hugeint = kit.replace(bitmap, f"({words})")
    two_level = summary._period_sql(src, None, end, 7.0)
    one_level = (f"SELECT customer_id, min(date), max(date), count(*), {summary.exact_sum_sql('amount')},"
                 f" arg_min(amount, date) FROM {lines} GROUP BY customer_id")
    return {
        "scan": ("fetch", f"SELECT count(*), min(date), sum(amount) FROM {lines}"),
        "group_count": ("fetch", f"SELECT max(n) FROM (SELECT customer_id, count(*) AS n FROM {lines} GROUP BY 1)"),
        "group_count_hash_key": ("fetch", f"SELECT max(n) FROM (SELECT hash(customer_id), count(*) AS n FROM {lines}"
                                          " GROUP BY 1)"),
        "one_level_no_day_collapse": ("fetch", f"SELECT max(COLUMNS(*)) FROM ({one_level})"),
        "two_level": ("fetch", f"SELECT max(COLUMNS(*)) FROM ({two_level})"),
        "kit_fixup_all": ("fetch", f"SELECT max(COLUMNS(*)) FROM ({kit_fixup_all})"),
        "kit": ("fetch", f"SELECT max(COLUMNS(*)) FROM ({kit})"),
        "kit_hugeint_bitmap": ("fetch", f"SELECT max(COLUMNS(*)) FROM ({kit_hugeint})"),
        "two_level_to_pandas": ("pandas", f"SELECT * FROM ({two_level}) ORDER BY customer_id"),
        "kit_fixup_all_to_pandas": ("pandas", f"SELECT * FROM ({kit_fixup_all}) ORDER BY customer_id"),
        "kit_to_pandas": ("pandas", f"SELECT * FROM ({kit}) ORDER BY customer_id"),
        "kit_to_arrow": ("arrow", f"SELECT * FROM ({kit}) ORDER BY customer_id"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1m")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: DuckDB's, = cores)")
    parser.add_argument("--variants", default=None, help="comma-separated subset of the variants (default: all)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a DuckDB setting for every variant, e.g. --set preserve_insertion_order=false")
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
        for setting in args.set:
            name, value = setting.split("=", 1)
            con.execute(f"SET {name} = {value}")
        todo = variants(path, end)
        if args.variants:
            todo = {name: todo[name] for name in args.variants.split(",")}
        loads = []
        cpu: dict[str, list[float]] = {}
        for _ in range(args.repeat):
            loads.append(os.getloadavg()[0])
            for name, (kind, sql) in todo.items():
                c0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                rel = con.sql(sql)
                rel.df() if kind == "pandas" else rel.arrow() if kind == "arrow" else rel.fetchall()
                runs.setdefault(name, []).append(time.perf_counter() - t0)
                c1 = resource.getrusage(resource.RUSAGE_SELF)
                cpu.setdefault(name, []).append(c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime)
        n_tx = meta["n_transactions"]
        res = {"n_transactions": n_tx, "n_customers": meta["n_customers"], "load_avg_1min": loads,
               "settings": args.set, "variants": {}}
        print(f"\n{label}: {n_tx:,} transactions, median of {args.repeat}")
        for name, times in runs.items():
            med = statistics.median(times)
            cpu_med = statistics.median(cpu[name])
            res["variants"][name] = {"seconds_median": med, "seconds_min": min(times), "runs": times,
                                     "cpu_seconds_median": cpu_med, "transactions_per_second": n_tx / med}
            print(f"  {name:<28}{med:>8.3f} s {n_tx / med / 1e6:>8.1f} M transactions/s  (min {min(times):.3f} s,"
                  f" CPU {cpu_med:.2f} s)")
        out["sizes"][label] = res
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
