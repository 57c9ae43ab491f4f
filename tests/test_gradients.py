"""Analytic log-likelihood gradients, weighted fits and the fast fitters of analysis.models.

Expected values come from central finite differences of the per-customer log-likelihoods
(which test_models.py checks against numerical integration of the models' definitions), from
lifetimes' own fitters (an independent implementation with autograd gradients), from scipy's
correlation functions and from numpy's ``unique``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_models import cdnow  # noqa: F401 - the CDNOW fixture (also puts src/ on the path if needed)

from analysis import models


def _rows(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Distinct rows with their counts (column n), as the Spark engine sends them to the driver."""
    return df.groupby(columns).size().rename("n").reset_index()


def _central_difference(f, x0: np.ndarray, h: float = 1e-6) -> np.ndarray:
    return np.array([(f(x0 + h * e) - f(x0 - h * e)) / (2 * h) for e in np.eye(len(x0))])


@pytest.mark.parametrize("name", ["bgnbd", "mbgnbd"])
@pytest.mark.parametrize("point", [[0.24, 4.4, 0.79, 2.4], [1.5, 0.3, 3.0, 0.2], [0.05, 40.0, 0.1, 9.0]])
def test_bg_family_gradient_matches_finite_differences(cdnow, name, point):
    rows = _rows(cdnow, ["frequency", "recency", "T"])
    x, tx, T, n = (rows[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "n"))
    loglik = models.bgnbd_log_likelihood if name == "bgnbd" else models.mbgnbd_log_likelihood

    def total(lp: np.ndarray) -> float:
        return float(np.sum(n * loglik(np.exp(lp), x, tx, T)))

    lp = np.log(point)
    value, grad = models.bg_family_loglik_and_gradient(name, lp, x, tx, T, n)
    assert value == pytest.approx(total(lp), rel=1e-12)
    np.testing.assert_allclose(grad, _central_difference(total, lp), rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("point", [[6.25, 3.74, 15.44], [0.5, 1.2, 300.0], [20.0, 8.0, 2.0]])
def test_gamma_gamma_gradient_matches_finite_differences(cdnow, point):
    rep = cdnow[cdnow["frequency"] > 0]
    rows = _rows(rep, ["frequency", "monetary_value"])
    x, m, n = (rows[c].to_numpy(dtype=float) for c in ("frequency", "monetary_value", "n"))

    def total(lp: np.ndarray) -> float:
        return float(np.sum(n * models.gamma_gamma_log_likelihood(np.exp(lp), x, m)))

    lp = np.log(point)
    value, grad = models.gamma_gamma_loglik_and_gradient(lp, x, m, n)
    assert value == pytest.approx(total(lp), rel=1e-12)
    np.testing.assert_allclose(grad, _central_difference(total, lp), rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("penalizer", [0.0, 0.01])
@pytest.mark.parametrize("name", ["bgnbd", "mbgnbd"])
def test_fit_matches_lifetimes(cdnow, name, penalizer):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter

        cls = BetaGeoFitter if name == "bgnbd" else ModifiedBetaGeoFitter
        ref = cls(penalizer_coef=penalizer).fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    got = models.fit_model(cdnow, name, time_unit="W", penalizer=penalizer)
    for k in ("r", "alpha", "a", "b"):
        # lifetimes stops at a gradient tolerance of 1e-7, the kit at 1e-9 (same objective)
        assert got.params[k] == pytest.approx(float(ref.params_[k]), rel=2e-4), k


@pytest.mark.parametrize("penalizer", [0.0, 1e-4])  # with 0.01 both give q < 1 on CDNOW (no mean spend)
def test_gamma_gamma_fit_matches_lifetimes(cdnow, penalizer):
    rep = cdnow[cdnow["frequency"] > 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import GammaGammaFitter

        ref = GammaGammaFitter(penalizer_coef=penalizer).fit(rep["frequency"], rep["monetary_value"])
    got = models.fit_gamma_gamma(cdnow, penalizer=penalizer)
    for k in ("p", "q", "v"):
        assert got.params[k] == pytest.approx(float(ref.params_[k]), rel=2e-4), k


def test_weighted_rows_fit_like_one_row_per_customer(cdnow):
    rows = _rows(cdnow, ["frequency", "recency", "T"]).sample(frac=1.0, random_state=1)  # order must not matter
    for name in ("bgnbd", "mbgnbd", "pareto"):
        a = models.fit_model(cdnow, name, time_unit="W")
        b = models.fit_model(rows, name, time_unit="W", weights="n")
        assert b.n_customers == a.n_customers == len(cdnow)
        for k in a.params:
            assert b.params[k] == pytest.approx(a.params[k], rel=1e-12), (name, k)
        assert b.loglik == pytest.approx(a.loglik, rel=1e-12)
        np.testing.assert_allclose(b.cov_log, a.cov_log, rtol=1e-9)
    spend = _rows(cdnow, ["frequency", "monetary_value"])
    a, b = models.fit_gamma_gamma(cdnow), models.fit_gamma_gamma(spend, weights="n")
    assert b.n_customers == a.n_customers
    for k in a.params:
        assert b.params[k] == pytest.approx(a.params[k], rel=1e-12)
    for k in ("pearson", "spearman"):
        assert b.correlation[k] == pytest.approx(a.correlation[k], rel=1e-12)


def test_weights_are_checked(cdnow):
    rows = _rows(cdnow, ["frequency", "recency", "T"])
    with pytest.raises(ValueError, match="Weight column count missing"):
        models.fit_model(rows, time_unit="W", weights="count")
    rows["n"] = rows["n"].astype(float)
    rows.loc[0, "n"] = 1.5
    with pytest.raises(ValueError, match="customer counts"):
        models.fit_model(rows, time_unit="W", weights="n")


def test_correlation_matches_scipy(cdnow):
    rep = cdnow[(cdnow["frequency"] > 0) & (cdnow["monetary_value"] > 0)]
    got = models.fit_gamma_gamma(cdnow).correlation
    f, m = rep["frequency"].to_numpy(), rep["monetary_value"].to_numpy()
    assert got["pearson"] == pytest.approx(stats.pearsonr(f, m)[0], rel=1e-12)
    assert got["spearman"] == pytest.approx(stats.spearmanr(f, m)[0], rel=1e-12)


def test_distinct_rows_match_numpy_unique():
    rng = np.random.default_rng(5)
    cols = [rng.integers(0, 7, 5000).astype(float), rng.integers(0, 30, 5000) / 7.0, rng.choice([0.5, -1.0, 3.25], 5000)]
    where, inverse = models.distinct_rows(cols)
    ref, ref_inverse = np.unique(np.column_stack(cols), axis=0, return_inverse=True)
    np.testing.assert_array_equal(np.column_stack([c[where] for c in cols]), ref)
    np.testing.assert_array_equal(inverse, ref_inverse.ravel())


@pytest.mark.parametrize("point", [[0.55, 10.6, 0.61, 11.7], [1.5, 0.3, 3.0, 0.2], [0.05, 40.0, 0.1, 900.0],
                                   [1.3, 47.0, 160.0, 2.0e4]])
def test_pareto_gradient_matches_finite_differences(cdnow, point):
    rows = _rows(cdnow, ["frequency", "recency", "T"])
    x, tx, T, n = (rows[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "n"))

    def total(lp: np.ndarray) -> float:
        return float(np.sum(n * models.pareto_nbd_log_likelihood(np.exp(lp), x, tx, T)))

    lp = np.log(point)
    value, grad = models.pareto_nbd_loglik_and_gradient(lp, x, tx, T, n)
    assert value == pytest.approx(total(lp), rel=1e-12)
    # the last point lies on the ridge where s and beta grow together (data that do not identify the spread
    # of the drop-out rates): both sides are then accurate to about 1e-4
    np.testing.assert_allclose(grad, _central_difference(total, lp), rtol=1e-4 if point[3] > 1e3 else 1e-5, atol=1e-3)


@pytest.mark.parametrize("penalizer", [0.0, 0.01])
def test_pareto_fit_matches_lifetimes(cdnow, penalizer):
    # lifetimes' ParetoNBDFitter (Nelder-Mead, no gradient) on a 600-customer subset, as the independent check
    sub = cdnow.iloc[::4]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import ParetoNBDFitter

        ref = ParetoNBDFitter(penalizer_coef=penalizer).fit(sub["frequency"], sub["recency"], sub["T"],
                                                            initial_params=np.ones(4))
    got = models.fit_model(sub, "pareto", penalizer=penalizer, time_unit="W")
    for key in ("r", "alpha", "s", "beta"):
        assert got.params[key] == pytest.approx(ref.params_[key], rel=2e-3), key
