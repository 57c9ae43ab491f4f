"""Per-customer RFM summaries in the vocabulary of the BG/NBD literature.

All summaries are computed in DuckDB SQL from the purchases table written by
:func:`analysis.ingest.ingest_transactions` (one row per customer and purchase
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
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd

DAYS_PER_UNIT = {"D": 1.0, "W": 7.0}

SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value"]


def days_per_unit(time_unit: str) -> float:
    """Number of days in one model time unit ("D" or "W")."""
    try:
        return DAYS_PER_UNIT[time_unit]
    except KeyError:
        raise ValueError(f"time_unit must be 'D' or 'W', not {time_unit!r}") from None


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
    lower = f"AND date > {start}" if start else ""
    return f"""
        SELECT customer_id,
               min(date) AS first_purchase,
               max(date) AS last_purchase,
               count(*) AS n_purchases{suffix},
               sum(amount) AS revenue{suffix},
               arg_min(amount, date) AS first_amount
        FROM (SELECT customer_id, CAST(date AS DATE) AS date, sum(amount) AS amount
              FROM {source} WHERE CAST(date AS DATE) <= {end} {lower}
              GROUP BY ALL)
        GROUP BY customer_id
    """


def rfm_summary(
    purchases: str | Path | pd.DataFrame,
    observation_end: dt.date | str,
    time_unit: str = "W",
    *,
    con: duckdb.DuckDBPyConnection | None = None,
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

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (string), with ``frequency, recency, T, monetary_value``
        and the descriptive columns ``first_purchase, last_purchase, n_purchases, revenue,
        days_since_last``.
    """
    con = con or duckdb.connect()
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
        FROM ({_period_sql(source, None, end, unit)})
        ORDER BY customer_id
    """
    df = con.execute(sql).df().set_index("customer_id")
    return df


def calibration_holdout_summary(
    purchases: str | Path | pd.DataFrame,
    calibration_end: dt.date | str,
    observation_end: dt.date | str,
    time_unit: str = "W",
    *,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """Split each customer's history at ``calibration_end``.

    Customers whose first purchase is after ``calibration_end`` are not included: the
    models are fitted on the calibration period and judged on what the same customers
    did afterwards.

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
    con = con or duckdb.connect()
    unit = days_per_unit(time_unit)
    source = purchases_relation(con, purchases)
    cal, end = _date(calibration_end), _date(observation_end)
    sql = f"""
        WITH cal AS ({_period_sql(source, None, cal, unit)}),
             hold AS ({_period_sql(source, cal, end, unit, suffix='_holdout')})
        SELECT CAST(cal.customer_id AS VARCHAR) AS customer_id,
               CAST(cal.n_purchases - 1 AS DOUBLE) AS frequency,
               date_diff('day', cal.first_purchase, cal.last_purchase) / {unit} AS recency,
               date_diff('day', cal.first_purchase, {cal}) / {unit} AS "T",
               CASE WHEN cal.n_purchases > 1 THEN (cal.revenue - cal.first_amount) / (cal.n_purchases - 1)
                    ELSE 0.0 END AS monetary_value,
               CAST(coalesce(hold.n_purchases_holdout, 0) AS DOUBLE) AS frequency_holdout,
               coalesce(hold.revenue_holdout / hold.n_purchases_holdout, 0.0) AS monetary_value_holdout,
               date_diff('day', {cal}, {end}) / {unit} AS duration_holdout,
               cal.first_purchase
        FROM cal LEFT JOIN hold USING (customer_id)
        ORDER BY customer_id
    """
    return con.execute(sql).df().set_index("customer_id")
