"""Tests for analysis.scoring.holdout.

The model has round BG/NBD parameters r = 2, alpha = 1 (weeks), a = 2, b = 1, for which
FHL (2005a) eqs. (9)-(10) have closed forms because 2F1(c, b; c; z) = (1 - z)^-b:

* E[X(t)] = (a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]
          = 2 [1 - (1/(1+t))^2 (1+t)] = 2 t / (1 + t);
* E[X(T, T+t) | x, t_x, T] = (x+2) [1 - u^(x+2) u^-(x+1)] P(alive) = (x+2) t/(1+T+t) P(alive),
  u = (1+T)/(1+T+t), P(alive) = 1 / (1 + [x>0] (2/x) ((1+T)/(1+t_x))^(x+2)).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:
    from analysis.scoring import holdout
    from analysis import models
except ModuleNotFoundError:  # source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from analysis.scoring import holdout
    from analysis import models

BG = {"r": 2.0, "alpha": 1.0, "a": 2.0, "b": 1.0}


def _model() -> models.FittedModel:
    return models.FittedModel(
        name="bgnbd", params=BG, loglik=float("nan"), aic=float("nan"), bic=float("nan"), n_customers=7,
        ci={k: (v, v) for k, v in BG.items()}, cov_log=np.zeros((4, 4)), time_unit="W",
    )


def _by_hand(x: float, tx: float, T: float, t: float) -> float:
    p_alive = 1.0 if x == 0 else 1.0 / (1.0 + (2.0 / x) * ((1 + T) / (1 + tx)) ** (x + 2))
    return (x + 2) * t / (1 + T + t) * p_alive


@pytest.fixture()
def cal_holdout() -> pd.DataFrame:
    rows = {  # customer: (x, t_x, T, holdout purchases)
        "A": (0, 0, 4, 0),
        "B": (0, 0, 2, 1),
        "C": (1, 1, 4, 2),
        "D": (2, 3, 4, 1),
        "E": (3, 2, 5, 0),
        "F": (7, 4, 5, 3),
        "G": (9, 5, 5, 4),
    }
    df = pd.DataFrame.from_dict(rows, orient="index", columns=["frequency", "recency", "T", "frequency_holdout"])
    df = df.astype(float)
    df["monetary_value"] = 0.0
    df["monetary_value_holdout"] = 0.0
    df["duration_holdout"] = 4.0
    df.index.name = "customer_id"
    return df


def test_holdout_predictions_by_hand(cal_holdout):
    pred = holdout.holdout_predictions(cal_holdout, _model())
    for cid, row in cal_holdout.iterrows():
        assert pred.loc[cid, "expected"] == pytest.approx(_by_hand(row["frequency"], row["recency"], row["T"], 4.0), rel=1e-12)
        assert pred.loc[cid, "actual"] == row["frequency_holdout"]


def test_holdout_table_bins_and_sums(cal_holdout):
    pred = holdout.holdout_predictions(cal_holdout, _model())
    table = holdout.holdout_table(pred)
    assert list(table.columns) == ["bin", "customers", "actual", "expected"]
    assert list(table["bin"]) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert list(table["customers"]) == [2, 1, 1, 1, 0, 0, 0, 2]
    assert list(table["actual"]) == [1.0, 2.0, 1.0, 0.0, 0.0, 0.0, 0.0, 7.0]
    assert table["actual"].sum() == cal_holdout["frequency_holdout"].sum() == 11.0
    exp_7plus = _by_hand(7, 4, 5, 4.0) + _by_hand(9, 5, 5, 4.0)
    assert table.loc[table["bin"] == "7+", "expected"].item() == pytest.approx(exp_7plus, rel=1e-12)
    assert table["expected"].sum() == pytest.approx(pred["expected"].sum(), rel=1e-12)


def test_holdout_errors_by_hand(cal_holdout):
    pred = holdout.holdout_predictions(cal_holdout, _model())
    expected = np.array([_by_hand(r.frequency, r.recency, r.T, 4.0) for r in cal_holdout.itertuples()])
    actual = cal_holdout["frequency_holdout"].to_numpy()
    err = holdout.holdout_errors(pred)
    assert err["total_actual"] == 11.0
    assert err["total_expected"] == pytest.approx(expected.sum(), rel=1e-12)
    assert err["total_error_pct"] == pytest.approx(100 * (expected.sum() - 11.0) / 11.0, rel=1e-12)
    assert err["mae"] == pytest.approx(np.abs(expected - actual).sum() / 7, rel=1e-12)
    assert err["rmse"] == pytest.approx(np.sqrt(((expected - actual) ** 2).sum() / 7), rel=1e-12)


def test_holdout_aligned_by_customer_id(cal_holdout):
    a = holdout.holdout_predictions(cal_holdout, _model())
    shuffled = cal_holdout.iloc[::-1]
    b = holdout.holdout_predictions(shuffled, _model())
    pd.testing.assert_frame_equal(a, b.loc[a.index])


def test_tracking_by_hand():
    first = pd.Series({"c1": 0.0, "c2": 1.5}, name="t0")
    first.index.name = "customer_id"
    events = pd.DataFrame({"customer_id": ["c1", "c1", "c1", "c2", "c2"], "t": [0.5, 2.2, 3.0, 2.0, 5.5]})
    track = holdout.tracking_table(first, events, _model(), calibration_end=2.5, holdout_end=4.0, period_length=1.0)
    # periods (0,1], (1,2], (2,2.5], (2.5,3], (3,4]; the event at 5.5 is after the holdout and is ignored
    assert list(track["period_end"]) == [1.0, 2.0, 2.5, 3.0, 4.0]
    assert list(track["phase"]) == ["calibration"] * 3 + ["holdout"] * 2
    assert list(track["actual"]) == [1.0, 1.0, 1.0, 1.0, 0.0]
    assert list(track["cumulative_actual"]) == [1.0, 2.0, 3.0, 4.0, 4.0]
    ex = lambda t: 2 * t / (1 + t) if t > 0 else 0.0  # noqa: E731  E[X(t)] for r=2, alpha=1, a=2, b=1
    cum = [ex(e) + ex(e - 1.5) for e in (1.0, 2.0, 2.5, 3.0, 4.0)]
    np.testing.assert_allclose(track["cumulative_expected"], cum, rtol=1e-12)
    np.testing.assert_allclose(track["expected"], np.diff([0.0, *cum]), rtol=1e-12)


def test_tracking_from_counts_equals_the_table_from_events():
    """The same hand example as counts (two customers first at 0 and 1.5; repeat purchases at 0.5, 2.0, 2.2
    and 3.0 once each, 5.5 after the holdout): the counts give the same table to the last bit, and a repeat
    time that occurs twice counts twice."""
    first = pd.Series({"c1": 0.0, "c2": 1.5}, name="t0")
    first.index.name = "customer_id"
    events = pd.DataFrame({"customer_id": ["c1", "c1", "c1", "c2", "c2"], "t": [0.5, 2.2, 3.0, 2.0, 5.5]})
    kwargs = dict(calibration_end=2.5, holdout_end=4.0, period_length=1.0)
    by_events = holdout.tracking_table(first, events, _model(), **kwargs)
    by_counts = holdout.tracking_from_counts(np.array([0.0, 1.5]), np.array([1, 1]),
                                             np.array([0.5, 2.0, 2.2, 3.0, 5.5]), np.array([1, 1, 1, 1, 1]),
                                             _model(), **kwargs)
    pd.testing.assert_frame_equal(by_events, by_counts, check_exact=True)
    doubled = holdout.tracking_from_counts(np.array([0.0, 1.5]), np.array([1, 1]), np.array([0.5, 3.0]),
                                           np.array([2, 3]), _model(), **kwargs)
    assert list(doubled["actual"]) == [2.0, 0.0, 0.0, 3.0, 0.0]


def test_tracking_rejects_events_before_first_purchase():
    first = pd.Series({"c1": 1.0}, name="t0")
    first.index.name = "customer_id"
    events = pd.DataFrame({"customer_id": ["c1"], "t": [0.5]})
    with pytest.raises(ValueError, match="not after the customer's first purchase"):
        holdout.tracking_table(first, events, _model(), calibration_end=2.0, holdout_end=3.0)
    events = pd.DataFrame({"customer_id": ["zz"], "t": [2.5]})
    with pytest.raises(ValueError, match="not in first_purchase"):
        holdout.tracking_table(first, events, _model(), calibration_end=2.0, holdout_end=3.0)


def test_holdout_requires_columns(cal_holdout):
    with pytest.raises(ValueError, match="Required column duration_holdout missing"):
        holdout.holdout_predictions(cal_holdout.drop(columns="duration_holdout"), _model())


@pytest.mark.parametrize("expected, actual, verdict", [
    (11_662, 12_320, "reliable"),     # 658 / 12,320 = 5.3% off
    (13_552, 12_320, "reliable"),     # 1,232 / 12,320 = 10.0% off: the edge is in
    (10_500, 12_320, "usable"),       # 1,820 / 12,320 = 14.8%
    (9_000, 12_320, "unreliable"),    # 3,320 / 12,320 = 26.9%
    (10, 0, "unreliable"),            # nothing happened: nothing to check against
])
def test_reliability_of_the_forecasts_in_one_word(expected, actual, verdict):
    from analysis.scoring.holdout import reliability

    assert reliability(expected, actual) == verdict


def test_reliability_sentence_for_managers():
    from analysis.reporting import fmt
    from analysis.scoring.holdout import reliability_sentence

    text = reliability_sentence(11_662, 12_320, "1997-09-30", "1998-06-30")
    assert text.startswith("The model was tested on the period from October 1, 1997 to June 30, 1998")
    assert "expected 11,662 repeat purchases and 12,320 happened (5.3% too low)" in text
    assert "close to what happened" in text and "not what they spend" in text
    with fmt.using("nl"):
        dutch = reliability_sentence(9_000, 12_320, "1997-09-30", "1998-06-30", "nl")
    assert "van 1 oktober 1997 tot en met 30 juni 1998" in dutch and "9.000" in dutch and "26,9% te laag" in dutch  # 3,320 / 12,320 = 26.95%
    assert "ver van de werkelijkheid" in dutch


def test_spend_check_by_hand():
    """Gamma-Gamma p=2, q=3, v=10: E[M | x, mbar] = (v + mbar x) p / (p x + q - 1) (FHL 2005b eq. 5), so 10 (the
    population mean p v / (q - 1)) without repeat purchases, 15 for x=1, mbar=20, and 46 for x=9, mbar=50."""
    from analysis.scoring.holdout import spend_check

    cal = pd.DataFrame({"frequency": [0.0, 1.0, 1.0, 9.0], "monetary_value": [0.0, 20.0, 40.0, 50.0],
                        "frequency_holdout": [2.0, 1.0, 0.0, 3.0], "monetary_value_holdout": [30.0, 10.0, 0.0, 40.0]},
                       index=pd.Index(list("ABCD"), name="customer_id"))
    table = spend_check(cal, {"p": 2.0, "q": 3.0, "v": 10.0}).set_index("bin")
    assert table.loc["0"].tolist() == [1, 2.0, 30.0, 10.0]
    assert table.loc["1"].tolist() == [1, 1.0, 10.0, 15.0]  # C did not buy in the holdout: not counted
    assert table.loc["7+"].tolist() == [1, 3.0, 40.0, 46.0]
    assert table.loc["3", "customers"] == 0 and np.isnan(table.loc["3", "actual"]) and np.isnan(table.loc["3", "expected"])
    assert table.loc["all", "actual"] == pytest.approx((60 + 10 + 120) / 6)
    assert table.loc["all", "expected"] == pytest.approx((2 * 10 + 15 + 3 * 46) / 6)
    import lifetimes

    gg = lifetimes.GammaGammaFitter()
    gg.params_ = pd.Series({"p": 2.0, "q": 3.0, "v": 10.0})
    assert gg.conditional_expected_average_profit(pd.Series([1.0, 9.0]), pd.Series([20.0, 50.0])).tolist() == \
        pytest.approx([15.0, 46.0])


def test_event_counts_of_the_ingests_purchase_days_by_hand(tiny_csv, tmp_path):
    """The tracking chart's counts from a run's purchases.parquet (one row per customer and day), with and
    without making the days distinct again (#13). By hand on the tiny log (conftest), cohort start 2020-01-01,
    calibration end 2020-01-31, in days: first purchases A at 0, B at 9, 007 at 14; repeat days A at 7 and 21,
    B at 35 (A's two lines of 2020-01-01 are one day)."""
    import datetime as dt

    from analysis.config import DataParams
    from analysis.data.ingest import ingest_transactions
    from analysis.scoring.modelstage import _event_counts

    purchases = tmp_path / "purchases.parquet"
    ingest_transactions(DataParams(path=tiny_csv), purchases, today=dt.date(2024, 1, 1))
    args = (purchases, dt.date(2020, 1, 1), dt.date(2020, 1, 31), dt.date(2020, 2, 29), "D")
    for counts in (_event_counts(*args), _event_counts(*args, one_row_per_day=True)):
        first_t, first_n, repeat_t, repeat_n = counts
        assert first_t.tolist() == [0.0, 9.0, 14.0] and first_n.tolist() == [1, 1, 1]
        assert repeat_t.tolist() == [7.0, 21.0, 35.0] and repeat_n.tolist() == [1, 1, 1]
