"""Property-based tests: invariants of the summaries and KPIs on random transaction logs.

Each example is a small random log (a few customers, dates within about a year, positive
amounts in whole cents). Expected values come from a direct pandas computation of the
definitions in ``analysis.data.summary`` and ``analysis.business.kpis``, not from the code under test.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.config import DataParams
from analysis.data.ingest import ingest_transactions
from analysis.business.kpis import cohort_retention, headline_kpis, period_series
from analysis.data.summary import calibration_holdout_summary, rfm_summary

START = dt.date(2020, 1, 1)
SETTINGS = settings(max_examples=40, deadline=None)
IDS = ["A", "B", "007", "0007", "7", "Jos\u00e9", "Smith, J", "x y"]

rows = st.tuples(st.sampled_from(IDS), st.integers(0, 400), st.integers(1, 500_000))


@st.composite
def logs(draw, min_rows: int = 1, max_rows: int = 40):
    """A transaction log DataFrame and an observation end on or after its last date."""
    drawn = draw(st.lists(rows, min_size=min_rows, max_size=max_rows))
    df = pd.DataFrame(drawn, columns=["customer_id", "day", "cents"])
    df["date"] = pd.Timestamp(START) + pd.to_timedelta(df["day"], unit="D")
    df["amount"] = df["cents"] / 100
    obs_end = (df["date"].max() + pd.Timedelta(days=draw(st.integers(0, 90)))).date()
    return df[["customer_id", "date", "amount"]], obs_end


def _by_day(df: pd.DataFrame) -> pd.DataFrame:
    return df.groupby(["customer_id", "date"], as_index=False)["amount"].sum()


@SETTINGS
@given(logs())
def test_rfm_summary_matches_its_definition(log):
    df, obs_end = log
    rfm = rfm_summary(df, obs_end, "D")
    days = _by_day(df).sort_values(["customer_id", "date"])
    per = days.groupby("customer_id").agg(n=("date", "size"), first=("date", "min"), last=("date", "max"),
                                          total=("amount", "sum"), first_amount=("amount", "first"))
    assert set(rfm.index) == set(per.index)
    per = per.loc[rfm.index]
    assert (rfm["frequency"] == per["n"] - 1).all()
    assert (rfm["frequency"] <= rfm["n_purchases"] - 1).all()
    assert (rfm["recency"] >= 0).all() and (rfm["recency"] <= rfm["T"]).all()
    assert np.allclose(rfm["recency"], (per["last"] - per["first"]).dt.days)
    assert np.allclose(rfm["T"], (pd.Timestamp(obs_end) - per["first"]).dt.days)
    assert (rfm["monetary_value"] >= 0).all()
    assert (rfm.loc[rfm["frequency"] == 0, "monetary_value"] == 0).all()
    repeat = per["n"] > 1
    expected = (per["total"] - per["first_amount"]) / (per["n"] - 1)
    assert np.allclose(rfm.loc[repeat, "monetary_value"], expected[repeat])


@SETTINGS
@given(logs())
def test_days_are_seven_times_weeks(log):
    df, obs_end = log
    days, weeks = rfm_summary(df, obs_end, "D"), rfm_summary(df, obs_end, "W")
    assert days.index.equals(weeks.index)
    assert np.allclose(days["recency"], 7 * weeks["recency"]) and np.allclose(days["T"], 7 * weeks["T"])
    assert (days["frequency"] == weeks["frequency"]).all()
    assert np.allclose(days["monetary_value"], weeks["monetary_value"])


@SETTINGS
@given(logs(min_rows=2), st.data())
def test_calibration_holdout_split(log, data):
    df, obs_end = log
    first = df["date"].min().date()
    span = (obs_end - first).days
    if span < 1:
        return
    cal_end = first + dt.timedelta(days=data.draw(st.integers(0, span - 1)))
    cal = calibration_holdout_summary(df, cal_end, obs_end, "D")
    # Customers are those who bought by the calibration end; nothing after it leaks in.
    assert set(cal.index) == set(df.loc[df["date"].dt.date <= cal_end, "customer_id"])
    assert (cal["recency"] >= 0).all() and (cal["recency"] <= cal["T"]).all()
    assert (cal["monetary_value"] >= 0).all() and (cal.loc[cal["frequency"] == 0, "monetary_value"] == 0).all()
    assert (cal["frequency_holdout"] >= 0).all() and (cal["duration_holdout"] == (obs_end - cal_end).days).all()
    later = _by_day(df[df["date"].dt.date > cal_end]).groupby("customer_id").size()
    assert (cal["frequency_holdout"] == later.reindex(cal.index).fillna(0)).all()


@SETTINGS
@given(logs(), st.sampled_from(["M", "Q"]), st.integers(1, 365))
def test_headline_kpis_are_consistent(log, period, window):
    df, obs_end = log
    with tempfile.TemporaryDirectory() as tmp:  # a Parquet path, as the pipeline passes
        parquet = Path(tmp) / "purchases.parquet"
        df.to_parquet(parquet, index=False)
        kpis = headline_kpis(parquet, obs_end, period, window)
    customers = df["customer_id"].nunique()
    assert kpis["customers"] == customers
    assert kpis["revenue"] == pytest.approx(df["amount"].sum())
    assert kpis["orders"] == len(_by_day(df))
    assert 0 <= kpis["repeat_purchase_rate"] <= 1 and 0 <= kpis["active_share"] <= 1
    assert kpis["revenue_per_customer"] * kpis["customers"] == pytest.approx(kpis["revenue"])
    assert kpis["average_order_value"] * kpis["orders"] == pytest.approx(kpis["revenue"])
    if kpis["retention_rate"] is None:
        assert kpis["churn_rate"] is None
    else:
        assert 0 <= kpis["retention_rate"] <= 1
        assert kpis["churn_rate"] == pytest.approx(1 - kpis["retention_rate"])


def test_headline_kpis_accepts_a_dataframe():
    df = pd.DataFrame({"customer_id": ["A"], "date": pd.to_datetime(["2020-01-01"]), "amount": [1.0]})
    assert headline_kpis(df, dt.date(2020, 1, 1))["customers"] == 1


@SETTINGS
@given(logs(), st.sampled_from(["M", "Q"]))
def test_period_series_is_consistent(log, period):
    df, obs_end = log
    series = period_series(df, obs_end, period)
    rated = series["retention_rate"].dropna()
    assert ((rated >= 0) & (rated <= 1)).all()
    assert np.allclose(series["churn_rate"].dropna(), 1 - rated)
    assert (series["retained_customers"].iloc[1:].to_numpy() <= series["active_customers"].iloc[:-1].to_numpy()).all()
    assert series["new_customers"].sum() == df["customer_id"].nunique()
    assert series["revenue"].sum() == pytest.approx(df["amount"].sum())


@SETTINGS
@given(logs())
def test_cohort_shares(log):
    df, obs_end = log
    table = cohort_retention(df, obs_end)
    values = table.to_numpy(dtype=float)
    present = values[~np.isnan(values)]
    assert ((present >= 0) & (present <= 1)).all()
    assert (table[0] == 1.0).all()
    assert len(table) == df.groupby("customer_id")["date"].min().dt.to_period("M").nunique()


@settings(max_examples=25, deadline=None)
@given(logs())
def test_ingest_round_trip(log):
    """Written as CSV and read back, the log gives one row per customer and day, ids as written."""
    df, obs_end = log
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tx.csv"
        out = df.assign(date=df["date"].dt.strftime("%Y-%m-%d"), amount=df["amount"].map("{:.2f}".format))
        out.to_csv(path, index=False)
        quality = ingest_transactions(DataParams(path=path), Path(tmp) / "p.parquet", observation_end=obs_end,
                                      today=dt.date(2030, 1, 1))
        purchases = pd.read_parquet(Path(tmp) / "p.parquet")
    expected = _by_day(df)
    assert quality.rows_read == quality.rows_used == len(df)
    assert quality.purchase_days == len(purchases) == len(expected)
    assert set(purchases["customer_id"]) == set(df["customer_id"])
    got = purchases.assign(date=pd.to_datetime(purchases["date"])).set_index(["customer_id", "date"])["amount"]
    assert np.allclose(got.sort_index(), expected.set_index(["customer_id", "date"])["amount"].sort_index())
