"""Retention KPIs from the purchases table, computed in DuckDB, and the KPI catalogue.

:data:`CATALOGUE` is the one list of the headline KPIs a reader sees: key (in ``kpis.json``), label, unit,
definition and whether a rise is good news. The tiles of the data page and the summary page, the comparison
with the previous report, the trend across reports and the reports index take their KPIs from it. Adding a
KPI is one entry there and its number in :func:`headline_kpis`.

Definitions (each is repeated in the report caption next to its number):

customers
    distinct customers with at least one purchase up to the observation end.
active customers
    customers with a purchase in the ``active_window_days`` up to the observation end.
repeat purchase rate
    share of customers with two or more purchase days.
retention rate (period t)
    of the customers who bought in period t-1, the share who bought again in period t.
churn rate (period t)
    1 - retention rate (period t).
revenue per customer
    total revenue / customers (over the whole data period: it can only grow, so reports compare
    the next one instead).
revenue per buying customer (period t)
    revenue in period t / the customers who bought in period t.
average order value
    total revenue / purchase days (same-day purchases are one order).
purchase frequency
    purchase days / customers.

Periods are calendar months ("M") or quarters ("Q"). The headline retention
and churn rates, and the revenue per buying customer, are those of the last complete period.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

import duckdb
import pandas as pd

from analysis.data import duck
from analysis.data.summary import _date, exact_sum_sql, purchases_relation

PERIOD_UNITS = {"M": "month", "Q": "quarter"}


@dataclass(frozen=True)
class Kpi:
    """One headline KPI of the catalogue.

    ``label`` and ``definition`` are the English a reader sees (translated by the language catalogue);
    ``{period}`` in them stands for "month" or "quarter" (``kpis.period``). ``unit`` is ``"count"``,
    ``"share"`` (a fraction, shown as a percentage; changes in percentage points), ``"money"`` (``decimals``
    after the point) or ``"number"``. ``higher_is_good`` says whether a rise is good news (churn: no).
    ``source``: the run artifact holding the value (``kpis.json``; ``model.json`` stands for its ``clv.total``,
    the one KPI of the model). ``summary``: on the summary page's tiles (else only on the data page);
    ``compared``: in the comparison with the previous report; ``trend`` (only for a ``compared`` KPI): in the
    trend table across reports and on the reports index.

    A definition with fields other than ``{period}`` (the active window, the periods of the retention rate)
    is filled in by :func:`analysis.reporting.report.kpi_tiles`, which names those fields per KPI; the trend
    chart (:func:`analysis.runs.history.plot_kpi_trend`) draws four fixed panels.
    """

    key: str
    label: str
    unit: Literal["count", "share", "money", "number"]
    definition: str
    higher_is_good: bool = True
    decimals: int = 0
    source: Literal["kpis.json", "model.json"] = "kpis.json"
    summary: bool = True
    compared: bool = True
    trend: bool = False

    def label_for(self, period: str = "M") -> str:
        """The English label with its period filled in."""
        return self.label.format(period=PERIOD_UNITS.get(period, "month"))


#: The headline KPIs, in the order the pages show them.
CATALOGUE: tuple[Kpi, ...] = (
    Kpi("customers", "Customers", "count", "Customers with at least one purchase in the data.", trend=True),
    Kpi("active_customers", "Active customers", "count",
        "Bought in the last {days} days ({share} of all customers).", trend=True),
    Kpi("repeat_purchase_rate", "Repeat purchase rate", "share", "Share of customers who bought on two or more days."),
    Kpi("retention_rate", "Retention rate", "share",
        "Of last {period}'s buyers, the share who bought again in the latest {period}.", trend=True),
    Kpi("churn_rate", "Churn rate", "share", "1 - retention rate, latest {period}.", higher_is_good=False,
        trend=True),
    Kpi("revenue_per_buyer", "Revenue per customer per {period}", "money",
        "Revenue in {latest} / the {n} customers who bought in it.", decimals=2, trend=True),
    Kpi("average_order_value", "Average order value", "money", "Revenue / purchase days.", decimals=2),
    Kpi("purchase_frequency", "Purchase frequency", "number", "Purchase days per customer over the whole period.",
        decimals=2, summary=False, compared=False),
    Kpi("revenue", "Revenue", "money", "Total amount of the transactions used, {first} to {last}.", summary=False,
        compared=False),
    Kpi("total_expected_value", "Total expected customer value", "money",
        "Discounted margin expected from today's customers in the next {months} months; {level} band {band}.",
        source="model.json",
        summary=False, trend=True),
)

#: The catalogue by key.
BY_KEY: dict[str, Kpi] = {kpi.key: kpi for kpi in CATALOGUE}


def kpi_values(kpis: dict, model: dict, which: Iterable[Kpi] = CATALOGUE) -> dict[str, float | None]:
    """The values of the KPIs ``which`` from a run's ``kpis.json`` and ``model.json`` (as dicts), as floats
    (None where the run has none)."""
    values = {}
    for kpi in which:
        value = (model.get("clv") or {}).get("total") if kpi.source == "model.json" else kpis.get(kpi.key)
        values[kpi.key] = None if value is None else float(value)
    return values


class PurchaseDays:
    """The purchases up to ``observation_end`` as one row per customer and purchase day (``customer_id, day,
    amount``, the day's total as an exact DECIMAL), in a temporary DuckDB table.

    :func:`period_series`, :func:`headline_kpis` and :func:`cohort_retention` each make one from the file they
    are given; made once and passed to all three, the transactions are read once instead of three times (at a
    million customers the reading was most of their time). Counting purchase days is then a ``count(*)``.
    """

    def __init__(self, purchases: str | Path | pd.DataFrame, observation_end: dt.date | str,
                 con: duckdb.DuckDBPyConnection | None = None, one_row_per_day: bool = False) -> None:
        """``one_row_per_day``: ``purchases`` is a run's ``purchases.parquet``, which the ingest writes with one
        row per customer and purchase day, so the days need no grouping (at a million customers the grouping
        was 1.5-3 s of the data page). Else the lines of a day are added up. The temporary table counts against
        the connection's memory cap (:mod:`analysis.data.duck`) and spills beyond it."""
        self.con = con or duck.connect()
        self.observation_end = pd.Timestamp(observation_end).date()
        self.table = f"purchase_days_{id(self):x}"
        source = purchases_relation(self.con, purchases)
        amount = "CAST(amount AS DECIMAL(38, 10))"
        self.con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {self.table} AS
            SELECT customer_id, CAST(date AS DATE) AS day, {amount if one_row_per_day else f"sum({amount})"} AS amount
            FROM {source} WHERE CAST(date AS DATE) <= {_date(observation_end)} {"" if one_row_per_day else "GROUP BY ALL"}
            """
        )

    @classmethod
    def of(cls, purchases, observation_end, con: duckdb.DuckDBPyConnection | None) -> "PurchaseDays":
        """``purchases`` itself when it is a PurchaseDays (of the same observation end), else a new one."""
        if isinstance(purchases, PurchaseDays):
            if purchases.observation_end != pd.Timestamp(observation_end).date():
                raise ValueError(f"these purchase days end on {purchases.observation_end}, not on"
                                 f" {pd.Timestamp(observation_end).date()}")
            return purchases
        return cls(purchases, observation_end, con)


def _period_end(start: pd.Timestamp, period: str) -> pd.Timestamp:
    months = 1 if period == "M" else 3
    return start + pd.DateOffset(months=months) - pd.Timedelta(days=1)


def period_series(
    purchases: "str | Path | pd.DataFrame | PurchaseDays",
    observation_end: dt.date | str,
    period: str = "M",
    *,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """Active, new and retained customers, revenue, retention and churn per period.

    Returns
    -------
    pandas.DataFrame
        One row per period (``period_start``), with ``active_customers``,
        ``new_customers``, ``retained_customers`` (bought in this and the previous
        period), ``retention_rate``, ``churn_rate``, ``orders``, ``revenue`` and
        ``complete`` (False for a period cut off by the observation end). The first
        period has no retention rate.
    """
    unit = PERIOD_UNITS[period]
    days = PurchaseDays.of(purchases, observation_end, con)
    con = days.con
    end = _date(observation_end)
    df = con.execute(
        f"""
        WITH p AS (
            SELECT customer_id, date_trunc('{unit}', day) AS period_start,
                   CAST(sum(amount) AS DOUBLE) AS amount, count(*) AS orders
            FROM {days.table} GROUP BY ALL),
        firsts AS (SELECT customer_id, min(period_start) AS first_period FROM p GROUP BY customer_id),
        periods AS (
            SELECT CAST(range AS DATE) AS period_start
            FROM range((SELECT min(period_start) FROM p), {end} + INTERVAL 1 DAY, INTERVAL 1 {unit})),
        agg AS (
            SELECT period_start, count(*) AS active_customers, {exact_sum_sql('amount')} AS revenue, sum(orders) AS orders
            FROM p GROUP BY period_start),
        retained AS (
            SELECT cur.period_start, count(*) AS retained_customers
            FROM p cur JOIN p prev ON cur.customer_id = prev.customer_id
             AND prev.period_start = cur.period_start - INTERVAL 1 {unit}
            GROUP BY cur.period_start),
        new AS (SELECT first_period AS period_start, count(*) AS new_customers FROM firsts GROUP BY ALL)
        SELECT periods.period_start,
               coalesce(agg.active_customers, 0) AS active_customers,
               coalesce(new.new_customers, 0) AS new_customers,
               coalesce(retained.retained_customers, 0) AS retained_customers,
               coalesce(agg.orders, 0) AS orders,
               coalesce(agg.revenue, 0) AS revenue
        FROM periods LEFT JOIN agg USING (period_start) LEFT JOIN retained USING (period_start)
             LEFT JOIN new USING (period_start)
        ORDER BY period_start
        """
    ).df()
    df["period_start"] = pd.to_datetime(df["period_start"])
    previous_active = df["active_customers"].shift(1)
    df["retention_rate"] = (df["retained_customers"] / previous_active).where(previous_active > 0)
    df["churn_rate"] = 1 - df["retention_rate"]
    obs_end = pd.Timestamp(observation_end)
    df["complete"] = [_period_end(s, period) <= obs_end for s in df["period_start"]]
    return df


def headline_kpis(
    purchases: "str | Path | pd.DataFrame | PurchaseDays",
    observation_end: dt.date | str,
    period: str = "M",
    active_window_days: int = 90,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    series: pd.DataFrame | None = None,
) -> dict:
    """The headline retention KPIs of the run (see the module docstring for definitions). ``series``: the
    :func:`period_series` of the same purchases, when the caller has it already (it is the costliest part).

    Returns
    -------
    dict
        Plain numbers (JSON-able): ``customers, active_customers, active_share, orders,
        revenue, repeat_customers, repeat_purchase_rate, revenue_per_customer,
        average_order_value, purchase_frequency, retention_rate, churn_rate,
        retention_period`` (start date of the period the rates refer to), ``retention_base`` (the
        customers who bought in the period before it), ``period_buyers``, ``period_revenue`` and
        ``revenue_per_buyer`` (of that period)."""
    days = PurchaseDays.of(purchases, observation_end, con)
    end = _date(observation_end)
    customers, orders, revenue, repeaters, active = days.con.execute(
        f"""
        SELECT count(*), sum(days), {exact_sum_sql('amount')}, count(*) FILTER (WHERE days >= 2),
               count(*) FILTER (WHERE last_date > {end} - INTERVAL {int(active_window_days)} DAY)
        FROM (SELECT customer_id, count(*) AS days, CAST(sum(amount) AS DOUBLE) AS amount, max(day) AS last_date
              FROM {days.table} GROUP BY customer_id)
        """
    ).fetchall()[0]
    if series is None:
        series = period_series(days, observation_end, period)
    rated = series[series["complete"] & series["retention_rate"].notna()]
    last = rated.iloc[-1] if len(rated) else None
    previous = series.loc[series.index[series.index.get_loc(rated.index[-1]) - 1]] if len(rated) else None
    customers = int(customers or 0)
    return {
        "customers": customers,
        "active_customers": int(active or 0),
        "active_share": (active / customers) if customers else None,
        "active_window_days": int(active_window_days),
        "orders": int(orders or 0),
        "revenue": float(revenue or 0.0),
        "repeat_customers": int(repeaters or 0),
        "repeat_purchase_rate": (repeaters / customers) if customers else None,
        "revenue_per_customer": (revenue / customers) if customers else None,
        "average_order_value": (revenue / orders) if orders else None,
        "purchase_frequency": (orders / customers) if customers else None,
        "retention_rate": None if last is None else float(last["retention_rate"]),
        "churn_rate": None if last is None else float(last["churn_rate"]),
        "retention_period": None if last is None else last["period_start"].date().isoformat(),
        "retention_base": None if previous is None else int(previous["active_customers"]),
        "period_buyers": None if last is None else int(last["active_customers"]),
        "period_revenue": None if last is None else float(last["revenue"]),
        "revenue_per_buyer": (float(last["revenue"]) / int(last["active_customers"])
                              if last is not None and last["active_customers"] else None),
        "period": period,
    }


def cohort_retention(
    purchases: "str | Path | pd.DataFrame | PurchaseDays",
    observation_end: dt.date | str,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """Share of each acquisition-month cohort that bought in each month since acquisition.

    Returns
    -------
    pandas.DataFrame
        Index: cohort (first purchase month, ``YYYY-MM``); columns: months since the first
        purchase (0, 1, ...); values: share of the cohort's customers with a purchase in
        that month (month 0 is 1.0). Months after the observation end are missing.
    """
    days = PurchaseDays.of(purchases, observation_end, con)
    long = days.con.execute(
        f"""
        WITH m AS (SELECT DISTINCT customer_id, date_trunc('month', day) AS month FROM {days.table}),
             c AS (SELECT customer_id, min(month) AS cohort FROM m GROUP BY customer_id),
             sizes AS (SELECT cohort, count(*) AS size FROM c GROUP BY cohort)
        SELECT strftime(c.cohort, '%Y-%m') AS cohort,
               date_diff('month', c.cohort, m.month) AS months_since,
               count(*) / any_value(sizes.size) AS share
        FROM m JOIN c USING (customer_id) JOIN sizes USING (cohort)
        GROUP BY ALL ORDER BY ALL
        """
    ).df()
    table = long.pivot(index="cohort", columns="months_since", values="share")
    # Months that exist (before the observation end) but saw no purchase are 0, not missing.
    last_month = pd.Timestamp(observation_end).to_period("M")
    for cohort in table.index:
        available = (last_month - pd.Period(cohort, "M")).n
        cols = [c for c in table.columns if c <= available]
        table.loc[cohort, cols] = table.loc[cohort, cols].fillna(0.0)
    table.columns.name = "months since first purchase"
    return table
