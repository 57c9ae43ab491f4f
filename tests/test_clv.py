"""Tests for analysis.scoring.clv.

The one-customer CLVs are worked out by hand below, from FHL (2005a) eq. (10) and FHL
(2005b) eq. (5) with round parameters chosen so that the hypergeometric function has a
closed form (2F1(a, b; a; z) = (1 - z)^-b).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

try:
    from analysis.scoring import clv
    from analysis import models
except ModuleNotFoundError:  # source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from analysis.scoring import clv
    from analysis import models

DATA = Path(__file__).parent / "data" / "cdnow_summary_with_transactions.csv"


def _cdnow(time_unit: str) -> pd.DataFrame:
    df = pd.read_csv(DATA, dtype={"ID": str})
    df = df.rename(columns={"ID": "customer_id", "x": "frequency", "t_x": "recency", "zbar": "monetary_value"})
    df = df.set_index("customer_id")
    if time_unit == "D":  # the file is in weeks of 7 days
        df["recency"] *= 7.0
        df["T"] *= 7.0
    return df


def _model(params: dict, name: str = "bgnbd", time_unit: str = "W") -> models.FittedModel:
    k = len(params)
    return models.FittedModel(
        name=name, params=params, loglik=float("nan"), aic=float("nan"), bic=float("nan"), n_customers=1,
        ci={p: (v, v) for p, v in params.items()}, cov_log=np.zeros((k, k)), time_unit=time_unit,
    )


def _gamma_gamma(params: dict, cov_log: np.ndarray | None = None) -> models.GammaGammaFit:
    return models.GammaGammaFit(
        params=params, loglik=float("nan"), aic=float("nan"), bic=float("nan"), n_customers=1,
        ci={p: (v, v) for p, v in params.items()}, cov_log=np.zeros((3, 3)) if cov_log is None else cov_log,
        correlation={"pearson": 0.0, "spearman": 0.0},
    )


# Round BG/NBD parameters: r = 2, alpha = 1 (weeks), a = 2, b = 1; Gamma-Gamma p = 2, q = 3, v = 10.
BG = {"r": 2.0, "alpha": 1.0, "a": 2.0, "b": 1.0}
GG = {"p": 2.0, "q": 3.0, "v": 10.0}


def test_clv_hand_calculation():
    summary = pd.DataFrame(
        {"frequency": [1.0, 0.0], "recency": [1.0, 0.0], "T": [2.0, 2.0], "monetary_value": [20.0, 0.0]},
        index=pd.Index(["repeat", "one-off"], name="customer_id"),
    )
    res = clv.customer_lifetime_value(
        summary, _model(BG), _gamma_gamma(GG), horizon_months=2, annual_discount_rate=0.10, gross_margin=0.5, n_draws=50
    )
    month = 365.25 / 12 / 7  # 4.348214... weeks
    d = 1.10 ** (1 / 12) - 1  # 0.0079741...

    # Customer "repeat": x = 1, t_x = 1, T = 2.
    # P(alive) = 1 / (1 + a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)) = 1 / (1 + 2 * 1.5^3) = 1 / 7.75
    # E[X(t)|.] = (a+b+x-1)/(a-1) [1 - (3/(3+t))^3 2F1(3, 2; 3; t/(3+t))] * P(alive)
    #           = 3 [1 - (3/(3+t))^3 ((3+t)/3)^2] / 7.75 = 3 t / (3+t) / 7.75
    e1 = lambda t: 3 * t / (3 + t) / 7.75  # noqa: E731
    disc1 = e1(month) / (1 + d) + (e1(2 * month) - e1(month)) / (1 + d) ** 2
    # E[M] = (v + mbar x) p / (p x + q - 1) = (10 + 20) * 2 / (2 + 2) = 15
    clv1 = 0.5 * 15.0 * disc1

    # Customer "one-off": x = 0, T = 2. P(alive) = 1;
    # E[X(t)|.] = (a+b-1)/(a-1) [1 - (3/(3+t))^2 2F1(2, 1; 2; t/(3+t))] = 2 [1 - (3/(3+t))^2 (3+t)/3] = 2 t / (3+t)
    e0 = lambda t: 2 * t / (3 + t)  # noqa: E731
    disc0 = e0(month) / (1 + d) + (e0(2 * month) - e0(month)) / (1 + d) ** 2
    # E[M] = population mean p v / (q - 1) = 2 * 10 / 2 = 10
    clv0 = 0.5 * 10.0 * disc0

    c = res.customers
    assert list(c.columns) == ["p_alive", "expected_purchases", "expected_avg_value", "clv", "clv_low", "clv_high"]
    assert c.loc["repeat", "p_alive"] == pytest.approx(1 / 7.75, rel=1e-12)
    assert c.loc["one-off", "p_alive"] == 1.0
    assert c.loc["repeat", "expected_purchases"] == pytest.approx(e1(2 * month), rel=1e-12)
    assert c.loc["one-off", "expected_purchases"] == pytest.approx(e0(2 * month), rel=1e-12)
    assert c.loc["repeat", "expected_avg_value"] == pytest.approx(15.0, rel=1e-12)
    assert c.loc["one-off", "expected_avg_value"] == pytest.approx(10.0, rel=1e-12)
    assert c.loc["repeat", "clv"] == pytest.approx(clv1, rel=1e-12)
    assert c.loc["one-off", "clv"] == pytest.approx(clv0, rel=1e-12)
    assert res.total_clv == pytest.approx(clv0 + clv1, rel=1e-12)
    # zero parameter covariance -> every draw equals the estimate
    np.testing.assert_allclose(c["clv_low"], c["clv"], rtol=1e-12)
    np.testing.assert_allclose(c["clv_high"], c["clv"], rtol=1e-12)
    assert res.method == clv.UNCERTAINTY_METHOD and "Krinsky" in res.method


def test_clv_same_in_days_and_weeks():
    weeks, days = _cdnow("W"), _cdnow("D")
    out = {}
    for unit, data in (("W", weeks), ("D", days)):
        m = models.fit_model(data, "bgnbd", time_unit=unit)
        gg = models.fit_gamma_gamma(data)
        out[unit] = clv.customer_lifetime_value(
            data, m, gg, horizon_months=12, annual_discount_rate=0.1, gross_margin=0.3, n_draws=100, seed=7
        )
    # days: alpha is 7 times the weekly alpha (same fit, different unit)
    w, d = out["W"].customers, out["D"].customers
    for col in ("clv", "clv_low", "clv_high", "expected_purchases", "p_alive"):
        np.testing.assert_allclose(d[col], w[col], rtol=1e-3, err_msg=col)
    assert out["D"].total_clv == pytest.approx(out["W"].total_clv, rel=1e-3)


@pytest.mark.parametrize("name", ["pareto", "mbgnbd"])
def test_clv_same_in_days_and_weeks_other_models(name):
    gg = _gamma_gamma(GG)
    res = {}
    for unit in ("W", "D"):
        data = _cdnow(unit)
        res[unit] = clv.customer_lifetime_value(
            data, models.fit_model(data, name, time_unit=unit), gg, horizon_months=6, annual_discount_rate=0.1,
            gross_margin=1.0, n_draws=0,
        )
    np.testing.assert_allclose(res["D"].customers["clv"], res["W"].customers["clv"], rtol=1e-3)


def test_results_are_aligned_by_customer_id():
    data = _cdnow("W").iloc[:300]
    m = _model({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    gg = _gamma_gamma({"p": 6.25, "q": 3.74, "v": 15.44})
    kw = dict(horizon_months=12, annual_discount_rate=0.1, gross_margin=0.3, n_draws=0)
    a = clv.customer_lifetime_value(data, m, gg, **kw).customers
    shuffled = data.sample(frac=1.0, random_state=1)
    b = clv.customer_lifetime_value(shuffled, m, gg, **kw).customers
    assert list(b.index) == list(shuffled.index)
    pd.testing.assert_frame_equal(a, b.loc[a.index])


def test_band_matches_delta_method_for_spend_only_uncertainty():
    # Only the Gamma-Gamma parameters are uncertain; for a customer with x = 0 the CLV is proportional to
    # p v / (q - 1), so log CLV = log p + log v - log(q - 1) with gradient g = (1, -q/(q-1), 1) in (log p, log q,
    # log v). Delta method: sd(log CLV) = sqrt(g' S g); the band is approx. clv * exp(-/+ 1.645 sd).
    S = np.diag([0.02, 0.01, 0.03])
    q = GG["q"]
    g = np.array([1.0, -q / (q - 1), 1.0])
    sd = math.sqrt(g @ S @ g)  # = sqrt(0.02 + 2.25 * 0.01 + 0.03) = 0.2693
    summary = pd.DataFrame(
        {"frequency": [0.0], "recency": [0.0], "T": [10.0], "monetary_value": [0.0]},
        index=pd.Index(["a"], name="customer_id"),
    )
    res = clv.customer_lifetime_value(
        summary, _model(BG), _gamma_gamma(GG, S), horizon_months=3, annual_discount_rate=0.0, gross_margin=1.0,
        n_draws=4000, level=0.90, seed=1,
    )
    row = res.customers.loc["a"]
    assert row["clv_low"] == pytest.approx(row["clv"] * math.exp(-1.6449 * sd), rel=0.05)
    assert row["clv_high"] == pytest.approx(row["clv"] * math.exp(1.6449 * sd), rel=0.05)
    assert res.total_clv_low == pytest.approx(row["clv_low"]) and res.total_clv_high == pytest.approx(row["clv_high"])


def test_simulation_is_seeded_and_ordered():
    data = _cdnow("W")
    m = models.fit_model(data, "bgnbd", time_unit="W")
    gg = models.fit_gamma_gamma(data)
    kw = dict(horizon_months=12, annual_discount_rate=0.1, gross_margin=0.3)
    a = clv.customer_lifetime_value(data, m, gg, seed=3, **kw)
    b = clv.customer_lifetime_value(data, m, gg, seed=3, **kw)
    pd.testing.assert_frame_equal(a.customers, b.customers)
    assert a.n_draws == 200 and a.level == 0.90
    assert a.total_clv_low < a.total_clv < a.total_clv_high
    c = a.customers
    assert (c["clv_low"] <= c["clv_high"]).all()
    inside = ((c["clv_low"] <= c["clv"] * (1 + 1e-9)) & (c["clv"] <= c["clv_high"] * (1 + 1e-9))).mean()
    assert inside > 0.95


def _krinsky_robb_reference(data, m, gg, n_draws, seed, level, **kw):
    """The band by its definition: every draw's CLV for every customer in one array, no shortcuts.

    Per draw the CLV is margin * E[M] * sum_m (E[X(t_m)] - E[X(t_{m-1})]) / (1+d)^m with the
    conditional expectation of models.conditional_expected_purchases at whole months.
    """
    rng = np.random.default_rng(seed)
    theta = clv._draw_log_params(rng, m.log_params, m.cov_log, n_draws, lambda z: np.all(np.isfinite(z), axis=1))
    phi = clv._draw_log_params(rng, gg.log_params, gg.cov_log, n_draws, lambda z: np.exp(z[:, 1]) > 1.0)
    x, tx, T, mbar = (data[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value"))
    month = clv.month_length(m.time_unit)
    rate = clv.monthly_discount_rate(kw["annual_discount_rate"])
    draws = np.empty((n_draws, len(data)))
    for d in range(n_draws):
        params = dict(zip(models.PARAM_NAMES[m.name], np.exp(theta[d])))
        disc, prev = 0.0, 0.0
        for k in range(1, kw["horizon_months"] + 1):
            e = models.conditional_expected_purchases(m.name, params, k * month, x, tx, T)
            disc = disc + (e - prev) / (1 + rate) ** k
            prev = e
        draws[d] = kw["gross_margin"] * models.expected_average_value(np.exp(phi[d]), x, mbar) * disc
    tails = [(1 - level) / 2, (1 + level) / 2]
    return np.quantile(draws, tails, axis=0), np.quantile(draws.sum(axis=1), tails)


@pytest.mark.parametrize("name", models.COMPARED_BY_DEFAULT)
def test_blocked_band_is_the_krinsky_robb_band(name):
    data = _cdnow("W")
    m = models.fit_model(data, name, time_unit="W")
    gg = models.fit_gamma_gamma(data)
    kw = dict(horizon_months=6, annual_discount_rate=0.1, gross_margin=0.3)
    got = clv.customer_lifetime_value(data, m, gg, n_draws=60, seed=7, level=0.8, block_size=500, **kw)
    (low, high), (total_low, total_high) = _krinsky_robb_reference(data, m, gg, 60, 7, 0.8, **kw)
    np.testing.assert_allclose(got.customers["clv_low"].to_numpy(), low, rtol=1e-9)
    np.testing.assert_allclose(got.customers["clv_high"].to_numpy(), high, rtol=1e-9)
    assert got.total_clv_low == pytest.approx(total_low, rel=1e-12)
    assert got.total_clv_high == pytest.approx(total_high, rel=1e-12)
    assert got.n_draws == 60


def test_band_does_not_depend_on_blocks_or_threads():
    data = _cdnow("W")
    m = models.fit_model(data, "bgnbd", time_unit="W")
    gg = models.fit_gamma_gamma(data)
    kw = dict(horizon_months=12, annual_discount_rate=0.1, gross_margin=0.3, n_draws=50, seed=2)
    ref = clv.customer_lifetime_value(data, m, gg, n_threads=1, block_size=len(data), **kw)
    for threads, block in ((1, 7), (3, 100), (None, clv.BLOCK_SIZE)):
        got = clv.customer_lifetime_value(data, m, gg, n_threads=threads, block_size=block, **kw)
        pd.testing.assert_frame_equal(got.customers, ref.customers, check_exact=True)
        assert got.total_clv_low == pytest.approx(ref.total_clv_low, rel=1e-13)
        assert got.total_clv_high == pytest.approx(ref.total_clv_high, rel=1e-13)


@pytest.mark.parametrize("k", [1, 2, 11, 200])
def test_quantiles_of_sorted_rows_equal_numpy(k):
    rows = np.sort(np.random.default_rng(k).lognormal(size=(50, k)), axis=1)
    probs = [0.05, 0.95, 0.5, (1 - 0.9) / 2, (1 + 0.9) / 2, 0.0, 1.0]
    for q, got in zip(probs, clv._lerp_quantiles(rows, probs)):
        np.testing.assert_array_equal(got, np.quantile(rows, q, axis=1))


def test_invalid_inputs():
    data = _cdnow("W").iloc[:10]
    m, gg = _model(BG), _gamma_gamma(GG)
    with pytest.raises(ValueError, match="gross_margin"):
        clv.customer_lifetime_value(data, m, gg, horizon_months=12, annual_discount_rate=0.1, gross_margin=30)
    with pytest.raises(ValueError, match="horizon_months"):
        clv.customer_lifetime_value(data, m, gg, horizon_months=0, annual_discount_rate=0.1, gross_margin=0.3)
    with pytest.raises(ValueError, match="Required column monetary_value"):
        clv.customer_lifetime_value(
            data.drop(columns="monetary_value"), m, gg, horizon_months=1, annual_discount_rate=0.1, gross_margin=0.3
        )


def test_to_jsonable_keys():
    data = _cdnow("W")
    fitted = {"bgnbd": models.fit_model(data, "bgnbd", time_unit="W")}
    gg = models.fit_gamma_gamma(data)
    out = clv.to_jsonable(fitted, gg, {"bgnbd": 1234.5})
    json.dumps(out, allow_nan=False)
    assert set(out) == {"bgnbd", "gamma_gamma"}
    assert set(out["bgnbd"]) == {"params", "loglik", "aic", "bic", "ci", "ci_level", "penalizer", "expected_holdout"}
    assert out["bgnbd"]["ci_level"] == 0.95 and out["bgnbd"]["penalizer"] == 0.0
    assert set(out["bgnbd"]["params"]) == {"r", "alpha", "a", "b"}
    assert set(out["bgnbd"]["ci"]) == {"r", "alpha", "a", "b"}
    assert out["bgnbd"]["expected_holdout"] == 1234.5
    assert set(out["gamma_gamma"]) == {"params", "loglik", "ci", "ci_level", "correlation"}
    assert set(out["gamma_gamma"]["ci"]) == {"p", "q", "v"} and out["gamma_gamma"]["ci_level"] == 0.95
    assert set(out["gamma_gamma"]["params"]) == {"p", "q", "v"}
    assert set(out["gamma_gamma"]["correlation"]) == {"pearson", "spearman"}
    assert round(out["bgnbd"]["loglik"], 1) == -9582.4
