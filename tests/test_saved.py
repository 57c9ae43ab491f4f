"""A run's model.json loads back and scores new customers (analysis.scoring.saved, issue #17).

Expected values: a hand calculation (round parameters, as in tests/test_clv.py) and lifetimes, given the
same parameters through ``SavedFit.to_lifetimes``, as the independent implementation on the CDNOW data.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from analysis.errors import RunArtifactError
from analysis.scoring.saved import load

DAY0 = dt.date(2024, 1, 1)
# Published CDNOW estimates (weeks): BG/NBD, Fader, Hardie & Lee (2005a), p. 281; Gamma-Gamma, Fader & Hardie
# note 025 / lifetimes' documentation (p = 6.25, q = 3.74, v = 15.44).
BGNBD_CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
GG_CDNOW = {"p": 6.25, "q": 3.74, "v": 15.44}


def _model_json(folder, name: str, params: dict, spend: dict, **clv) -> None:
    (folder / "artifacts").mkdir(parents=True)
    model = {"time_unit": "W", "observation_end": "2024-01-15", "selected_model": name,
             "final": {"model": name, "params": params, "gamma_gamma": spend, "n_customers": 2},
             "clv": {"horizon_months": 2, "annual_discount_rate": 0.10, "gross_margin": 0.5, **clv}}
    (folder / "artifacts" / "model.json").write_text(json.dumps(model))


def test_scores_of_a_saved_fit_by_hand(tmp_path):
    """BG/NBD r=2, alpha=1, a=2, b=1 and Gamma-Gamma p=2, q=3, v=10 (tests/test_clv.py works these out)."""
    _model_json(tmp_path, "bgnbd", {"r": 2.0, "alpha": 1.0, "a": 2.0, "b": 1.0}, {"p": 2.0, "q": 3.0, "v": 10.0})
    # "repeat" buys on day 0 and day 7 (20.00): x = 1, t_x = 1, T = 2 weeks at day 14; "one-off" buys on day 0.
    purchases = pd.DataFrame({"customer_id": ["repeat", "repeat", "one-off"],
                              "date": [DAY0, DAY0 + dt.timedelta(days=7), DAY0], "amount": [99.0, 20.0, 5.0]})
    fit = load(tmp_path)  # the run folder
    scores = fit.score(purchases, DAY0 + dt.timedelta(days=14))
    assert scores.loc["repeat", ["frequency", "recency", "T", "monetary_value"]].tolist() == [1.0, 1.0, 2.0, 20.0]
    month, d = 365.25 / 12 / 7, 1.10 ** (1 / 12) - 1
    e1 = lambda t: 3 * t / (3 + t) / 7.75  # noqa: E731  E[X(t) | x=1, t_x=1, T=2]
    e0 = lambda t: 2 * t / (3 + t)  # noqa: E731  E[X(t) | x=0, T=2]
    clv1 = 0.5 * 15.0 * (e1(month) / (1 + d) + (e1(2 * month) - e1(month)) / (1 + d) ** 2)
    clv0 = 0.5 * 10.0 * (e0(month) / (1 + d) + (e0(2 * month) - e0(month)) / (1 + d) ** 2)
    assert scores.loc["repeat", "p_alive"] == pytest.approx(1 / 7.75, rel=1e-12)
    assert scores.loc["repeat", "expected_avg_value"] == pytest.approx(15.0, rel=1e-12)
    assert scores.loc["repeat", "clv"] == pytest.approx(clv1, rel=1e-12)
    assert scores.loc["one-off", "clv"] == pytest.approx(clv0, rel=1e-12)
    assert scores["clv_low"].isna().all()  # no covariance saved: no band
    assert load(tmp_path / "artifacts" / "model.json").model.params == fit.model.params  # or the file itself


@pytest.fixture(scope="module")
def cdnow_purchases(tmp_path_factory):
    from analysis.config import DataParams
    from analysis.data.ingest import ingest_transactions
    from conftest import SAMPLE

    out = tmp_path_factory.mktemp("cdnow") / "purchases.parquet"
    ingest_transactions(DataParams(path=SAMPLE / "cdnow_master.csv", date_format="%Y%m%d"), out,
                        today=dt.date(2024, 1, 1))
    return out


@pytest.mark.parametrize("name, params", [
    ("bgnbd", BGNBD_CDNOW),
    # Values of the size fitted on CDNOW; any serve, as both sides get the same.
    ("mbgnbd", {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}),
    ("pareto", {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}),
])
def test_a_saved_fit_scores_cdnow_as_lifetimes_does(name, params, cdnow_purchases, tmp_path):
    _model_json(tmp_path, name, params, GG_CDNOW)
    fit = load(tmp_path)
    scores = fit.score(cdnow_purchases, "1998-06-30")
    assert len(scores) == 23_570
    purchase, spend = fit.to_lifetimes(scores)
    assert type(purchase).__name__ == {"bgnbd": "BetaGeoFitter", "mbgnbd": "ModifiedBetaGeoFitter",
                                       "pareto": "ParetoNBDFitter"}[name]
    x, tx, T = (scores[c] for c in ("frequency", "recency", "T"))
    np.testing.assert_allclose(scores["p_alive"], purchase.conditional_probability_alive(x, tx, T), rtol=1e-7)
    horizon = 2 * 365.25 / 12 / 7  # the saved two months, in weeks
    np.testing.assert_allclose(
        scores["expected_purchases"],
        purchase.conditional_expected_number_of_purchases_up_to_time(horizon, x, tx, T), rtol=1e-7)
    repeat = scores["frequency"] > 0
    np.testing.assert_allclose(
        scores.loc[repeat, "expected_avg_value"],
        spend.conditional_expected_average_profit(x[repeat], scores.loc[repeat, "monetary_value"]), rtol=1e-9)
    assert purchase.data.shape == (23_570, 3) and spend.params_["q"] == GG_CDNOW["q"]


def test_a_run_without_a_model_or_a_folder_without_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(RunArtifactError, match=r"not found: give a run folder made by the kit"):
        load(tmp_path)
    (tmp_path / "artifacts").mkdir()
    (tmp_path / "artifacts" / "model.json").write_text(json.dumps(
        {"unavailable": "none of the purchase models could be fitted", "time_unit": "W"}))
    with pytest.raises(RunArtifactError, match=r"no fitted purchase model \(none of the purchase models"):
        load(tmp_path)
    (tmp_path / "artifacts" / "model.json").write_text("{not json")
    with pytest.raises(RunArtifactError, match=r"is not the JSON the kit writes"):
        load(tmp_path)


@pytest.mark.parametrize("name, params", [
    ("bgnbd", {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}),  # CDNOW's BG/NBD, alpha in days
    ("mbgnbd", {"r": 0.525, "alpha": 6.183 * 7, "a": 0.891, "b": 1.614}),
    ("pareto", {"r": 0.553, "alpha": 10.578 * 7, "s": 0.606, "beta": 11.669 * 7}),
])
def test_one_customers_story_equals_lifetimes_alive_path(name, params):
    """P(alive) day by day, against lifetimes.utils.calculate_alive_path with the same (daily) parameters;
    two purchases on one day count once in both."""
    import lifetimes
    from lifetimes.utils import calculate_alive_path

    from analysis.models import p_alive_path

    dates = pd.to_datetime(["2024-01-01", "2024-01-11", "2024-01-12", "2024-01-12", "2024-02-10"])
    path = p_alive_path(name, params, dates, "2024-04-10", time_unit="D")
    assert len(path) == 101 and path["purchase"].sum() == 4
    assert (path["p_alive"].iloc[0] == 1.0) == (name != "mbgnbd")  # MBG/NBD: a drop-out right after the first
    fitter = getattr(lifetimes, {"bgnbd": "BetaGeoFitter", "mbgnbd": "ModifiedBetaGeoFitter",
                                 "pareto": "ParetoNBDFitter"}[name])()
    fitter.params_ = pd.Series(params)
    theirs = calculate_alive_path(fitter, pd.DataFrame({"date": dates}), "date", 100, freq="D")
    theirs = np.array([float(np.squeeze(v)) for v in theirs])  # BetaGeoFitter gives one array per day
    np.testing.assert_allclose(path["p_alive"], theirs, rtol=1e-9)
    weekly = p_alive_path(name, {k: v / 7 if k in ("alpha", "beta") else v for k, v in params.items()}, dates,
                          "2024-04-10", time_unit="W")
    np.testing.assert_allclose(weekly["p_alive"], path["p_alive"], rtol=1e-9)  # the unit does not matter


def test_story_of_a_customer_from_a_saved_fit(tmp_path):
    _model_json(tmp_path, "bgnbd", BGNBD_CDNOW, GG_CDNOW)
    purchases = pd.DataFrame({"customer_id": ["7", "7", "8"], "date": pd.to_datetime(["2024-01-01", "2024-01-05",
                                                                                      "2024-01-02"]),
                              "amount": [1.0, 2.0, 3.0]})
    story = load(tmp_path).story(purchases, "7")  # until the saved observation end, 2024-01-15
    assert story["date"].iloc[-1] == pd.Timestamp("2024-01-15") and story["purchase"].sum() == 2
    with pytest.raises(KeyError, match="'9' has no purchases"):
        load(tmp_path).story(purchases, "9")
