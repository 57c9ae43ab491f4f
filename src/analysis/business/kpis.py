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
import numpy as np
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
        self._active_periods: dict[str, ActivePeriods] = {}
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

    def active_periods(self, unit: str) -> "ActivePeriods":
        """Which months or quarters (``unit``) each customer bought in; made once per unit and kept, as
        :func:`period_series` by month and :func:`cohort_retention` ask for the same months."""
        if unit not in self._active_periods:
            self._active_periods[unit] = ActivePeriods.of(self, unit)
        return self._active_periods[unit]


LARGE_CUSTOMER_VOLUME = 100_000
"""A customer whose amounts add up to less than this (in absolute value) has every total per period come back
unchanged from a DOUBLE as a ``DECIMAL(38, 10)``: see :func:`_period_sums_sql`."""


@dataclass(frozen=True)
class ActivePeriods:
    """The months or quarters each customer bought in, as rows of bits that many customers share.

    Period 0 starts at ``start`` (the period of the first purchase day in the data); the last of the ``periods``
    is that of the observation end. Row ``i`` stands for ``customers[i]`` customers who bought in the same
    periods: those whose bits are set in ``words[i]`` (period ``k`` is bit ``k % 64`` of word ``k // 64``), the
    earliest of them ``first[i]``. The counts of customers by period (active, new, retained, the cohorts) are sums of
    ``customers`` over the rows with the right bits: one aggregation by customer, where the queries this replaced
    grouped the purchase days by customer and period and joined those groups with themselves (at a million
    customers and 10.4M purchase days most of the time of the data page's series and cohorts; those customers
    share 148k rows). The sums go period by period, so memory grows with the rows, not rows times periods.

    ``unknown[i]``: the row of the missing customer id (a DataFrame may have one; the ingest drops them). The
    queries this replaced counted it as one customer except where they joined on the id: it is never retained,
    and in a cohort it adds to the size but not to the buyers; kept so that no result changes.
    ``large_customers``: customers whose amounts add up to :data:`LARGE_CUSTOMER_VOLUME` or more.
    """

    start: dt.date | None
    periods: int
    words: np.ndarray
    first: np.ndarray
    customers: np.ndarray
    unknown: np.ndarray
    large_customers: int

    @classmethod
    def of(cls, days: PurchaseDays, unit: str) -> "ActivePeriods":
        """One aggregation by customer (the periods as bits of 64-bit words, one word per 64 periods), then the
        customers counted per distinct set of words."""
        start, periods = days.con.execute(
            f"""
            SELECT CAST(date_trunc('{unit}', min(day)) AS DATE),
                   date_diff('{unit}', date_trunc('{unit}', min(day)), {_date(days.observation_end)}) + 1
            FROM {days.table}
            """
        ).fetchall()[0]
        if start is None:
            none = np.zeros(0, dtype=np.int64)
            return cls(None, 0, np.zeros((0, 0), dtype=np.uint64), none, none, none.astype(bool), 0)
        words = [f"w{w}" for w in range(-(-periods // 64))]
        # UBIGINT words: a BIGINT shift would make them HUGEINTs, fetched as floats that lose the low bits
        bits = ", ".join(f"bit_or(CASE WHEN k // 64 = {w} THEN CAST(1 AS UBIGINT) << CAST(k % 64 AS UBIGINT)"
                         f" ELSE CAST(0 AS UBIGINT) END) AS {word}" for w, word in enumerate(words))
        rows = days.con.execute(
            f"""
            SELECT {", ".join(words)}, first, customer_id IS NULL AS unknown, count(*) AS customers,
                   count(*) FILTER (WHERE volume >= {LARGE_CUSTOMER_VOLUME}) AS large
            FROM (SELECT customer_id, {bits}, min(k) AS first, sum(abs(amount)) AS volume
                  FROM (SELECT customer_id, amount, date_diff('{unit}', {_date(start)}, day) AS k FROM {days.table})
                  GROUP BY customer_id)
            GROUP BY ALL
            """
        ).fetchnumpy()
        return cls(start, periods, np.column_stack([rows[word] for word in words]),
                   rows["first"].astype(np.int64), rows["customers"].astype(np.int64),
                   rows["unknown"].astype(bool), int(rows["large"].sum()))

    def bought_in(self, period: int | np.ndarray) -> np.ndarray:
        """Per row, whether its customers bought in ``period`` (one for all rows, or one per row)."""
        period = np.broadcast_to(np.asarray(period, dtype=np.int64), self.first.shape)
        word = np.take_along_axis(self.words, (period // 64)[:, None], axis=1)[:, 0]
        return (word >> (period % 64).astype(np.uint64)) & np.uint64(1) == 1

    @property
    def known_customers(self) -> np.ndarray:
        """``customers``, with 0 for the missing customer id (see the class docstring)."""
        return np.where(self.unknown, 0, self.customers)


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
    activity = days.active_periods(unit)
    sums = days.con.execute(_period_sums_sql(days, unit, activity.large_customers > 0)).df()
    df = pd.DataFrame({"period_start": pd.to_datetime(sums["period_start"]), **_customers_per_period(activity),
                       "orders": sums["orders"], "revenue": sums["revenue"]})
    previous_active = df["active_customers"].shift(1)
    df["retention_rate"] = (df["retained_customers"] / previous_active).where(previous_active > 0)
    df["churn_rate"] = 1 - df["retention_rate"]
    obs_end = pd.Timestamp(observation_end)
    df["complete"] = [_period_end(s, period) <= obs_end for s in df["period_start"]]
    return df


def _customers_per_period(activity: ActivePeriods) -> dict[str, np.ndarray]:
    """``active_customers``, ``new_customers`` and ``retained_customers`` (bought in this and the previous
    period) per period."""
    active = np.zeros(activity.periods, dtype=np.int64)
    retained = np.zeros_like(active)
    new = np.zeros_like(active)
    known = activity.known_customers
    bought_before = np.zeros(len(activity.customers), dtype=bool)
    for k in range(activity.periods):
        bought = activity.bought_in(k)
        active[k] = activity.customers[bought].sum()
        retained[k] = known[bought & bought_before].sum()
        bought_before = bought
    np.add.at(new, activity.first, activity.customers)
    return {"active_customers": active, "new_customers": new, "retained_customers": retained}


def _period_sums_sql(days: PurchaseDays, unit: str, large_customers: bool) -> str:
    """SQL of every period up to the observation end (``period_start``) with its purchase days (``orders``, a
    DOUBLE as it always was) and its ``revenue``.

    The revenue of a period has been the exact sum (:func:`exact_sum_sql`) of each customer's total in the period
    as a DOUBLE. A total below :data:`LARGE_CUSTOMER_VOLUME` in absolute value comes back unchanged from its
    DOUBLE: in units of 1e-10 it is an integer below 10^15 < 2^53, the cast to DOUBLE and the one back each
    round to within a relative 2^-53 (together less than 0.23 units), and the cast back rounds to the nearest
    unit, the total again (a test checks this on the installed DuckDB). Only a customer whose amounts add up to
    that volume can have a larger total, so the revenue is the exact sum of the purchase days plus, with
    ``large_customers``, what the DOUBLE did to those customers' totals (one more pass over the purchase days to
    find them): the same numbers without grouping every purchase day by customer and period, which was more than
    half of the series' time at a million customers.
    """
    end = _date(days.observation_end)
    revenue, rounding = "agg.revenue", ""
    if large_customers:
        revenue = "agg.revenue + coalesce(rounding.rounding, 0)"
        rounding = f""",
        large AS (
            SELECT customer_id FROM {days.table} GROUP BY customer_id
            HAVING sum(abs(amount)) >= {LARGE_CUSTOMER_VOLUME}),
        rounding AS (
            SELECT period_start, sum(CAST(CAST(total AS DOUBLE) AS DECIMAL(38, 10)) - total) AS rounding
            FROM (SELECT d.customer_id, date_trunc('{unit}', day) AS period_start, sum(amount) AS total
                  FROM {days.table} AS d  -- the missing customer id is one customer here too
                  SEMI JOIN large ON d.customer_id IS NOT DISTINCT FROM large.customer_id GROUP BY ALL)
            GROUP BY period_start)"""
    return f"""
        WITH periods AS (
            SELECT CAST(range AS DATE) AS period_start
            FROM range((SELECT date_trunc('{unit}', min(day)) FROM {days.table}), {end} + INTERVAL 1 DAY,
                       INTERVAL 1 {unit})),
        agg AS (
            SELECT date_trunc('{unit}', day) AS period_start, count(*) AS orders, sum(amount) AS revenue
            FROM {days.table} GROUP BY period_start){rounding}
        SELECT periods.period_start, CAST(coalesce(agg.orders, 0) AS DOUBLE) AS orders,
               coalesce(CAST({revenue} AS DOUBLE), 0) AS revenue
        FROM periods LEFT JOIN agg USING (period_start) {"LEFT JOIN rounding USING (period_start)" if rounding else ""}
        ORDER BY period_start
        """


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
        that month (month 0 is 1.0). Months after the observation end are missing. Only the
        months since the first purchase in which some cohort bought are columns.
    """
    days = PurchaseDays.of(purchases, observation_end, con)
    activity = days.active_periods("month")
    months = activity.periods
    # buyers[c, m]: customers of the cohort of month c (from the first in the data) who bought m months later
    buyers = np.zeros((months, months), dtype=np.int64)
    sizes = np.zeros(months, dtype=np.int64)
    known = activity.known_customers
    for since in range(months):
        month = activity.first + since
        bought = (month < months) & activity.bought_in(np.minimum(month, months - 1))  # none after the end
        np.add.at(buyers[:, since], activity.first, np.where(bought, known, 0))
    np.add.at(sizes, activity.first, activity.customers)
    cohorts, columns = np.flatnonzero(buyers.any(axis=1)), np.flatnonzero(buyers.any(axis=0))
    shares = buyers[np.ix_(cohorts, columns)] / sizes[cohorts, None]
    # Months that exist (up to the observation end) but saw no purchase are 0, not missing.
    shares[columns[None, :] > months - 1 - cohorts[:, None]] = np.nan
    labels = [(pd.Period(activity.start, "M") + int(c)).strftime("%Y-%m") for c in cohorts]
    return pd.DataFrame(shares, index=pd.Index(labels, dtype=object, name="cohort"),
                        columns=pd.Index(columns, dtype=np.int64, name="months since first purchase"))
