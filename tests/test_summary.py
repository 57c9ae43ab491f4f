"""RFM summaries against hand calculations and the published CDNOW summary."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from analysis.config import DataParams
from analysis.data.ingest import ingest_transactions
from analysis.data.summary import calibration_holdout_summary, rfm_summary
from conftest import ROOT, SAMPLE


@pytest.fixture
def tiny_purchases(tiny_csv, tmp_path):
    out = tmp_path / "p.parquet"
    ingest_transactions(DataParams(path=tiny_csv), out, today=dt.date(2024, 1, 1))
    return out


def test_rfm_summary_by_hand_in_days(tiny_purchases):
    s = rfm_summary(tiny_purchases, "2020-01-29", "D")
    # A: days 01-01 (15), 01-08 (20), 01-22 (30): 2 repeats, recency 21, T 28, mean repeat 25
    assert s.loc["A", ["frequency", "recency", "T", "monetary_value"]].tolist() == [2, 21, 28, 25]
    # 007: one purchase on 01-15
    assert s.loc["007", ["frequency", "recency", "T", "monetary_value"]].tolist() == [0, 0, 14, 0]
    # B: 02-05 is after the end; only 01-10 counts
    assert s.loc["B", ["frequency", "recency", "T", "monetary_value"]].tolist() == [0, 0, 19, 0]
    assert s.loc["A", "revenue"] == 65 and s.loc["A", "n_purchases"] == 3 and s.loc["A", "days_since_last"] == 7


def test_weeks_are_days_over_seven(tiny_purchases):
    s = rfm_summary(tiny_purchases, "2020-01-29", "W")
    assert s.loc["A", "recency"] == pytest.approx(3.0) and s.loc["A", "T"] == pytest.approx(4.0)


def test_calibration_holdout_by_hand(tiny_purchases):
    s = calibration_holdout_summary(tiny_purchases, "2020-01-15", "2020-02-05", "D")
    cols = ["frequency", "recency", "T", "monetary_value", "frequency_holdout", "monetary_value_holdout", "duration_holdout"]
    assert s.loc["A", cols].tolist() == [1, 7, 14, 20, 1, 30, 21]
    assert s.loc["007", cols].tolist() == [0, 0, 0, 0, 0, 0, 21]
    assert s.loc["B", cols].tolist() == [0, 0, 5, 0, 1, 12, 21]


@pytest.fixture(scope="module")
def cdnow_sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("cdnow") / "purchases.parquet"
    params = DataParams(path=SAMPLE / "cdnow_sample.csv", date_format="%Y%m%d")
    ingest_transactions(params, out, observation_end=dt.date(1998, 6, 30))
    return out


def test_reproduces_the_published_cdnow_summary(cdnow_sample):
    """Every one of the 2,357 customers matches lifetimes' shipped (x, t_x, T, zbar) to 2 decimals."""
    ours = calibration_holdout_summary(cdnow_sample, "1997-09-30", "1998-06-30", "W")
    ids = pd.read_csv(SAMPLE / "cdnow_sample.csv", dtype=str).drop_duplicates("customer_id")
    ours = ours.join(ids.set_index("customer_id")["sample_id"].astype(int)).set_index("sample_id")
    ref = pd.read_csv(ROOT / "tests" / "data" / "cdnow_summary_with_transactions.csv").set_index("ID")
    assert len(ours) == len(ref) == 2357
    joined = ours.join(ref, rsuffix="_ref")
    for ours_col, ref_col in [("frequency", "x"), ("recency", "t_x"), ("T", "T_ref"), ("monetary_value", "zbar")]:
        diff = (joined[ours_col] - joined[ref_col]).abs()
        assert (diff <= 0.005 + 1e-9).all(), (ours_col, joined.loc[diff.idxmax(), [ours_col, ref_col]].tolist())


def test_cdnow_holdout_repeat_transactions(cdnow_sample):
    """Fader, Hardie & Lee (2005): 1,882 repeat transactions in weeks 40-78."""
    s = calibration_holdout_summary(cdnow_sample, "1997-09-30", "1998-06-30", "W")
    assert s["frequency_holdout"].sum() == 1882
    assert s["duration_holdout"].iloc[0] == pytest.approx(39.0)


@pytest.fixture(scope="module")
def webshop_purchases(tmp_path_factory):
    """The web shop's log (daily arrivals, orders of several lines, returns netted, customers arriving on the split
    days) through the ingest: one row per customer and purchase day, as every run's ``purchases.parquet``."""
    from webshop import write_webshop

    folder = tmp_path_factory.mktemp("shop")
    shop = write_webshop(folder / "bestellingen.csv")
    params = DataParams(path=shop.path, columns={"customer_id": "klantnummer", "date": "orderdatum", "amount": "bedrag"},
                        date_format="%d-%m-%Y", decimal=",", thousands=".", delimiter=";", returns="net")
    out = folder / "purchases.parquet"
    ingest_transactions(params, out, observation_end=shop.end)
    return shop, out


def _split_days(shop) -> list[dt.date]:
    """Three of the days on which the web shop has customers making their first purchase."""
    days = sorted(dt.date.fromisoformat(d) for d in shop.split_day_customers)
    return [days[2], days[len(days) // 2], days[-3]]


@pytest.mark.parametrize("which", ["tiny", "webshop"])
def test_one_row_per_day_gives_the_same_summaries_bit_for_bit(which, tiny_purchases, webshop_purchases):
    """With one row per customer and purchase day (the ingest's output) the summaries take a shorter query (no
    bitmap of days, no second-smallest date per customer). Its results must be those of the general query, every
    value to the last bit: at the observation end, at calibration ends where customers make their first purchase,
    and where customers have no holdout purchase."""
    if which == "tiny":
        path, ends, splits = tiny_purchases, ["2020-01-29", "2020-02-05"], ["2020-01-10", "2020-01-15"]
        final = "2020-02-05"
    else:
        shop, path = webshop_purchases
        final = shop.end.isoformat()
        ends = [final, (shop.end - dt.timedelta(days=200)).isoformat()]
        splits = [d.isoformat() for d in _split_days(shop) if d < shop.end]
        assert splits, "the web shop has customers arriving on its split days"
    for end in ends:
        for unit in ("D", "W"):
            general = rfm_summary(path, end, unit)
            assert len(general) > 0
            pd.testing.assert_frame_equal(rfm_summary(path, end, unit, one_row_per_day=True), general, check_exact=True)
    holdout = []
    for split in splits:
        general = calibration_holdout_summary(path, split, final, "W")
        holdout.append(general["frequency_holdout"])
        pd.testing.assert_frame_equal(calibration_holdout_summary(path, split, final, "W", one_row_per_day=True),
                                      general, check_exact=True)
    assert (pd.concat(holdout) == 0).any() and (pd.concat(holdout) > 0).any()


@pytest.mark.parametrize("which", ["tiny", "webshop"])
def test_the_summaries_through_arrow_are_duckdbs_own_frames(which, tiny_purchases, webshop_purchases, monkeypatch):
    """The summaries come into pandas through Arrow (summary._by_customer), not DuckDB's df(): the same frames, to
    the last bit and dtype (dates as datetime64[us]), the ids as the index; also when no customer is left."""
    from analysis.data import summary

    if which == "tiny":
        path, end, split, before = tiny_purchases, "2020-02-05", "2020-01-15", "2019-12-31"
    else:
        shop, path = webshop_purchases
        end, split = shop.end.isoformat(), _split_days(shop)[1].isoformat()
        before = "2000-01-01"
    calls = {
        "rfm": lambda: rfm_summary(path, end, "W", one_row_per_day=True),
        "rfm, days": lambda: rfm_summary(path, end, "D"),
        "holdout": lambda: calibration_holdout_summary(path, split, end, "W", one_row_per_day=True),
        "nobody in the calibration period": lambda: calibration_holdout_summary(path, before, end, "W"),
    }
    through_arrow = {name: call() for name, call in calls.items()}
    monkeypatch.setattr(summary, "_ARROW_AS_DF", set())  # every query through DuckDB's own df()
    for name, call in calls.items():
        own = call()
        pd.testing.assert_frame_equal(through_arrow[name], own, check_exact=True, obj=name)
        assert list(through_arrow[name].dtypes) == list(own.dtypes), name
    assert through_arrow["nobody in the calibration period"].empty and not through_arrow["holdout"].empty
    assert str(through_arrow["rfm"]["first_purchase"].dtype) == "datetime64[us]"
