"""Per-customer RFM summaries in the vocabulary of the BG/NBD literature.

All summaries are computed in DuckDB SQL from the purchases table written by
:func:`analysis.data.ingest.ingest_transactions` (one row per customer and purchase
day), so purchases on the same day count once. Definitions (Fader, Hardie &
Lee 2005, "Counting your customers the easy way"):

``frequency``
    number of repeat purchase days (purchase days minus one);
``recency``
    time from the first to the last purchase;
``T``
    time from the first purchase to the end of the period;
``monetary_value``
    mean amount of the repeat purchase days (0 for customers without one).

Time is in days (``time_unit="D"``) or in weeks of exactly seven days
(``time_unit="W"``, days / 7 as in the papers; not calendar weeks).

Speed: the summary is one hash aggregation per customer over the lines as they come,
instead of the textbook SQL that groups by customer and day first (2.5-3x faster end to
end on 1M-10M customers, see ``bench/README.md``). Purchase days are counted exactly with
a bitmap of days per customer (``bitstring_agg``); the first day's amount is the amount of
its line (``arg_min``), and only customers with several lines on their first day (found with
``min(date, 2)``) get a second, joined look at that day's total; DuckDB skips that second scan
when there are none. Periods longer than ``MAX_BITMAP_DAYS`` use the two-level SQL instead.
Both give identical results. A run's ``purchases.parquet`` has one row per customer and purchase
day already (the ingest's output); with ``one_row_per_day`` the rows are counted and the first
row's amount is taken, without the bitmap: the same values in half the time.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import duckdb
import pandas as pd

from analysis.data import duck
from analysis.data.frames import indexed_by_customer

DAYS_PER_UNIT = {"D": 1.0, "W": 7.0}

SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value"]

_log = logging.getLogger(__name__)

MAX_BITMAP_DAYS = 2048
"""Longest period (in days) counted with a per-customer bitmap (2048 bits = 256 bytes per customer)."""


def days_per_unit(time_unit: str) -> float:
    """Number of days in one model time unit ("D" or "W")."""
    try:
        return DAYS_PER_UNIT[time_unit]
    except KeyError:
        raise ValueError(f"time_unit must be 'D' or 'W', not {time_unit!r}") from None


def exact_sum_sql(expression: str) -> str:
    """SQL for a sum of DOUBLE values whose result does not depend on the order of the rows.

    DuckDB adds floating-point numbers in whatever order its threads deliver the rows, so
    the last bits of ``sum(amount)`` can change from one run to the next. Adding them as
    ``DECIMAL(38, 10)`` (exact integer arithmetic, amounts rounded to 10 decimals) and
    converting the total back to DOUBLE gives the same bytes on every run, at about the
    same speed.
    """
    return f"CAST(sum(CAST({expression} AS DECIMAL(38, 10))) AS DOUBLE)"


def purchases_relation(con: duckdb.DuckDBPyConnection, purchases: str | Path | pd.DataFrame) -> str:
    """Make ``purchases`` queryable in ``con`` and return the SQL name to select from.

    ``purchases`` is a Parquet path or a DataFrame with ``customer_id, date, amount``.
    """
    if isinstance(purchases, pd.DataFrame):
        con.register("purchases_df", purchases)
        return "purchases_df"
    return "read_parquet('" + str(purchases).replace("'", "''") + "')"


def _date(value: dt.date | str | pd.Timestamp) -> str:
    return "DATE '" + pd.Timestamp(value).date().isoformat() + "'"


def _period_sql(source: str, start: str | None, end: str, unit_days: float, suffix: str = "") -> str:
    """Per-customer summary of the purchases with start < date <= end (start=None: no lower bound)."""
    lower = f"AND CAST(date AS DATE) > {start}" if start else ""
    return f"""
        SELECT customer_id,
               min(date) AS first_purchase,
               max(date) AS last_purchase,
               count(*) AS n_purchases{suffix},
               {exact_sum_sql('amount')} AS revenue{suffix},
               arg_min(amount, date) AS first_amount
        FROM (SELECT customer_id, CAST(date AS DATE) AS date, {exact_sum_sql('amount')} AS amount
              FROM {source} WHERE CAST(date AS DATE) <= {end} {lower}
              GROUP BY ALL)
        GROUP BY customer_id
    """


def _iso(value: dt.date | str | pd.Timestamp) -> dt.date:
    return pd.Timestamp(value).date()


def _customer_periods_sql(
    con: duckdb.DuckDBPyConnection, source: str, split: dt.date, end: dt.date | None = None,
    one_row_per_day: bool = False,
) -> str:
    """SQL with one row per customer who bought on or before ``split``.

    Columns ``customer_id, first_purchase, last_purchase, n_purchases`` (purchase days),
    ``revenue, first_amount`` (total of the first purchase day) over ``date <= split``; with
    ``end``, also ``n_purchases_holdout, revenue_holdout`` over ``split < date <= end``.
    ``one_row_per_day``: see :func:`rfm_summary`.
    """
    last = end or split
    lines = (f"(SELECT customer_id, CAST(date AS DATE) AS date, amount FROM {source}"
             f" WHERE CAST(date AS DATE) <= {_date(last)})")
    first_day = con.execute(f"SELECT min(date) FROM {lines}").fetchall()[0][0]
    span = (split - first_day).days + 1 if first_day is not None else 0
    span_holdout = (end - split).days if end else 0
    if not 0 < span <= MAX_BITMAP_DAYS or span_holdout > MAX_BITMAP_DAYS:
        # two-level SQL: purchase days first, then customers
        cal = _period_sql(source, None, _date(split), 1.0)
        if end is None:
            return cal
        hold = _period_sql(source, _date(split), _date(end), 1.0, suffix="_holdout")
        return (f"SELECT c.*, h.n_purchases_holdout, h.revenue_holdout FROM ({cal}) AS c"
                f" LEFT JOIN ({hold}) AS h USING (customer_id)")
    s = _date(split)
    in_cal = f"date <= {s}" if end else "TRUE"
    cal_filter = f"FILTER (WHERE {in_cal})" if end else ""

    def cal_only(expr: str) -> str:
        return expr if end is None else f"CASE WHEN {in_cal} THEN {expr} END"

    if one_row_per_day:  # each row is a purchase day: the bitmap's count is the row count, the first line the first day
        return _one_row_per_day_sql(lines, s, end is not None, cal_only)

    holdout = ""
    if end is not None:
        holdout = f""",
               bit_count(bitstring_agg(date_diff('day', {s}, date) - 1, 0, {span_holdout - 1})
                         FILTER (WHERE date > {s})) AS n_purchases_holdout,
               {exact_sum_sql(f"CASE WHEN date > {s} THEN amount END")} AS revenue_holdout"""
    return f"""
        WITH agg AS MATERIALIZED (
            SELECT customer_id,
                   min(date) AS first_purchase,
                   max({cal_only('date')}) AS last_purchase,
                   count({cal_only('1')}) AS n_lines,
                   bit_count(bitstring_agg(date_diff('day', {_date(first_day)}, date), 0, {span - 1})
                             {cal_filter}) AS n_purchases,
                   {exact_sum_sql(cal_only('amount'))} AS revenue,
                   arg_min(amount, date) AS first_line_amount,
                   min(date, 2)[2] AS second_line_date{holdout}
            FROM {lines}
            GROUP BY customer_id
            HAVING min(date) <= {s}),
        first_day_total AS (  -- customers with several lines on their first day: its total
            SELECT l.customer_id, {exact_sum_sql('l.amount')} AS first_amount
            FROM {lines} AS l
            JOIN (SELECT customer_id, first_purchase FROM agg WHERE second_line_date = first_purchase) AS d
              ON l.customer_id = d.customer_id AND l.date = d.first_purchase
            GROUP BY l.customer_id)
        SELECT agg.* EXCLUDE (n_lines, first_line_amount, second_line_date),
               coalesce(first_day_total.first_amount,
                        -- one line on the first day: its amount, rounded like a day total when the
                        -- customer has several lines on another day (as the exact sum would give)
                        CASE WHEN agg.n_purchases < agg.n_lines
                             THEN CAST(CAST(agg.first_line_amount AS DECIMAL(38, 10)) AS DOUBLE)
                             ELSE agg.first_line_amount END) AS first_amount
        FROM agg LEFT JOIN first_day_total USING (customer_id)
    """


def _one_row_per_day_sql(lines: str, s: str, holdout: bool, cal_only) -> str:
    """:func:`_customer_periods_sql` for purchases with one row per customer and purchase day (a run's
    ``purchases.parquet``): the same columns and values as the bitmap query, which with such rows counts each
    row once and takes the first row's amount, without the bitmap of days and the second-smallest date per
    customer (at a million customers 0.3 s instead of 0.6 s a summary). The holdout columns are NULL where the
    bitmap's are: for customers without a holdout purchase. ``cal_only``: an expression restricted to the
    calibration period (that query's own)."""
    extra = ""
    if holdout:
        extra = f""",
               nullif(count(*) FILTER (WHERE date > {s}), 0) AS n_purchases_holdout,
               {exact_sum_sql(f"CASE WHEN date > {s} THEN amount END")} AS revenue_holdout"""
    return f"""
        SELECT customer_id,
               min(date) AS first_purchase,
               max({cal_only('date')}) AS last_purchase,
               count({cal_only('1')}) AS n_purchases,
               {exact_sum_sql(cal_only('amount'))} AS revenue{extra},
               arg_min(amount, date) AS first_amount
        FROM {lines}
        GROUP BY customer_id
        HAVING min(date) <= {s}
    """


def rfm_summary(
    purchases: str | Path | pd.DataFrame,
    observation_end: dt.date | str,
    time_unit: str = "W",
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    one_row_per_day: bool = False,
) -> pd.DataFrame:
    """Summarise every customer's purchases up to and including ``observation_end``.

    Parameters
    ----------
    purchases
        Parquet path or DataFrame with ``customer_id, date, amount``.
    observation_end
        Last day of the period (inclusive).
    time_unit
        ``"D"`` or ``"W"`` (days / 7).
    one_row_per_day
        ``purchases`` has one row per customer and purchase day, as the ingest writes a run's
        ``purchases.parquet``: a faster query with the same result.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (string), with ``frequency, recency, T, monetary_value``
        and the descriptive columns ``first_purchase, last_purchase, n_purchases, revenue,
        days_since_last``.
    """
    con = con or duck.connect()
    unit = days_per_unit(time_unit)
    source = purchases_relation(con, purchases)
    end = _date(observation_end)
    sql = f"""
        SELECT CAST(customer_id AS VARCHAR) AS customer_id,
               CAST(n_purchases - 1 AS DOUBLE) AS frequency,
               date_diff('day', first_purchase, last_purchase) / {unit} AS recency,
               date_diff('day', first_purchase, {end}) / {unit} AS "T",
               CASE WHEN n_purchases > 1 THEN (revenue - first_amount) / (n_purchases - 1) ELSE 0.0 END
                   AS monetary_value,
               first_purchase, last_purchase, n_purchases, revenue,
               date_diff('day', last_purchase, {end}) AS days_since_last
        FROM ({_customer_periods_sql(con, source, _iso(observation_end), one_row_per_day=one_row_per_day)})
        ORDER BY customer_id
    """
    _log.info("summary: reading purchases up to %s", observation_end)
    df = _by_customer(con, sql)
    _log.info("summary: %s customers", f"{len(df):,}")
    return df


def calibration_holdout_summary(
    purchases: str | Path | pd.DataFrame,
    calibration_end: dt.date | str,
    observation_end: dt.date | str,
    time_unit: str = "W",
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    one_row_per_day: bool = False,
) -> pd.DataFrame:
    """Split each customer's history at ``calibration_end``.

    Customers whose first purchase is after ``calibration_end`` are not included: the
    models are fitted on the calibration period and judged on what the same customers
    did afterwards. ``one_row_per_day``: as in :func:`rfm_summary`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id``: ``frequency, recency, T, monetary_value`` over the
        calibration period, and ``frequency_holdout`` (purchase days in the holdout, all
        of them repeat purchases), ``monetary_value_holdout`` (their mean amount, 0 if
        none) and ``duration_holdout`` (length of the holdout in ``time_unit``).
    """
    if pd.Timestamp(calibration_end) >= pd.Timestamp(observation_end):
        raise ValueError(f"calibration_end {calibration_end} must be before observation_end {observation_end}")
    con = con or duck.connect()
    unit = days_per_unit(time_unit)
    source = purchases_relation(con, purchases)
    cal, end = _date(calibration_end), _date(observation_end)
    sql = f"""
        SELECT CAST(cal.customer_id AS VARCHAR) AS customer_id,
               CAST(cal.n_purchases - 1 AS DOUBLE) AS frequency,
               date_diff('day', cal.first_purchase, cal.last_purchase) / {unit} AS recency,
               date_diff('day', cal.first_purchase, {cal}) / {unit} AS "T",
               CASE WHEN cal.n_purchases > 1 THEN (cal.revenue - cal.first_amount) / (cal.n_purchases - 1)
                    ELSE 0.0 END AS monetary_value,
               CAST(coalesce(cal.n_purchases_holdout, 0) AS DOUBLE) AS frequency_holdout,
               coalesce(cal.revenue_holdout / cal.n_purchases_holdout, 0.0) AS monetary_value_holdout,
               date_diff('day', {cal}, {end}) / {unit} AS duration_holdout,
               cal.first_purchase
        FROM ({_customer_periods_sql(con, source, _iso(calibration_end), _iso(observation_end),
                                     one_row_per_day=one_row_per_day)}) AS cal
        ORDER BY customer_id
    """
    return _by_customer(con, sql)


#: Column types that come out of Arrow into pandas as DuckDB's own ``df()`` gives them (dates: see
#: :func:`_by_customer`); a query with another type is converted by ``df()``.
_ARROW_AS_DF = {"VARCHAR", "DOUBLE", "BIGINT", "INTEGER", "BOOLEAN", "DATE"}


def _by_customer(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """The result of ``sql`` as DuckDB's ``df()`` gives it, indexed by its ``customer_id``, through Arrow
    (:func:`analysis.data.frames.indexed_by_customer`): DuckDB's conversion made a Python string of each id itself
    and took 0.35-0.65 s of a summary's 0.7-1.0 s at a million customers, Arrow's 0.16-0.29 s. Dates become
    ``datetime64[us]`` as with ``df()``; other types than :data:`_ARROW_AS_DF` go through ``df()``."""
    relation = con.sql(sql)
    if not {str(t) for t in relation.types} <= _ARROW_AS_DF:
        return relation.df().set_index("customer_id")
    df = indexed_by_customer(relation.to_arrow_table(), date_as_object=False)
    for name, kind in zip(relation.columns, relation.types):
        if str(kind) == "DATE":
            df[name] = df[name].astype("datetime64[us]")
    return df
