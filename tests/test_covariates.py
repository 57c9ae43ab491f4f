"""Time-invariant covariates (Fader & Hardie 2007, note 019): known effects recovered from customers simulated
from the models' definitions, written out here (gamma-distributed purchase rates, exponential or
purchase-triggered drop-out), not from the kit's code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import models
from analysis.models.covariates import fit_with_covariates

Z = 3.0  # intervals of +-3 standard errors: every one of up to 9 estimates inside with about 98% probability


def _covariates(rng, size):
    channel = (rng.random(size) < 0.4).astype(float)  # e.g. acquired online (1) or in the shop (0)
    value = rng.normal(0.0, 1.0, size)  # e.g. the first order's value, standardised
    return pd.DataFrame({"channel": channel, "value": value}, index=pd.Index(range(size), name="customer_id"))


def _summary(x, tx, T, index):
    return pd.DataFrame({"frequency": x.astype(float), "recency": np.round(tx, 1), "T": T}, index=index)


def _check(fit, truth_params, truth_gamma):
    for k, v in truth_params.items():
        low, high = fit.ci[k]
        assert low < v < high, (k, v, fit.params[k], fit.ci[k])
    for process, coefficients in truth_gamma.items():
        for c, g in coefficients.items():
            low, high = fit.gamma_ci[process][c]
            assert low < g < high, (process, c, g, fit.gamma[process][c], (low, high))


def test_pareto_nbd_recovers_covariate_effects_on_buying_and_dropping_out():
    rng = np.random.default_rng(19)
    size = 4000
    cov = _covariates(rng, size)
    truth = {"r": 0.6, "alpha": 8.0, "s": 0.8, "beta": 12.0}
    gamma = {"purchase": {"channel": 0.7, "value": 0.3}, "dropout": {"channel": -0.5, "value": 0.0}}
    lin_p = cov["channel"].to_numpy() * 0.7 + cov["value"].to_numpy() * 0.3
    lin_d = cov["channel"].to_numpy() * -0.5
    rate = rng.gamma(truth["r"], 1.0 / (truth["alpha"] * np.exp(-lin_p)))
    mu = rng.gamma(truth["s"], 1.0 / (truth["beta"] * np.exp(-lin_d)))
    T = rng.uniform(30, 80, size).round(1)
    active = np.minimum(rng.exponential(1.0 / mu), T)
    x = rng.poisson(rate * active)
    tx = np.array([rng.uniform(0, a, k).max() if k else 0.0 for a, k in zip(active, x)])
    summary = _summary(x, tx, T, cov.index)
    fit = fit_with_covariates(summary, "pareto", cov, time_unit="W", ci_level=0.9973)
    _check(fit, truth, gamma)
    assert fit.loglik > models.fit_model(summary, "pareto", time_unit="W").loglik + 50  # the effects are real
    # per customer: buyers from the channel with more purchases expect more
    pa = fit.p_alive(x, summary["recency"], T, cov)
    assert np.all((pa >= 0) & (pa <= 1))
    expected = fit.conditional_expected_purchases(26.0, x, summary["recency"], T, cov)
    same_history = (x == 0) & (T > 70)
    assert expected[same_history & (cov["channel"] == 1)].mean() > expected[same_history & (cov["channel"] == 0)].mean()


def test_bg_nbd_recovers_covariate_effects_on_a_and_b():
    rng = np.random.default_rng(7)
    size = 5000
    cov = _covariates(rng, size)
    truth = {"r": 0.8, "alpha": 6.0, "a": 0.9, "b": 3.0}
    gamma = {"purchase": {"channel": 0.5}, "dropout_a": {"channel": 0.6}, "dropout_b": {"channel": -0.4}}
    ch = cov["channel"].to_numpy()
    rate = rng.gamma(truth["r"], 1.0 / (truth["alpha"] * np.exp(-0.5 * ch)))
    p = rng.beta(truth["a"] * np.exp(0.6 * ch), truth["b"] * np.exp(-0.4 * ch))
    T = rng.uniform(30, 80, size).round(1)
    x, tx = np.zeros(size, dtype=int), np.zeros(size)
    for i in range(size):  # purchases at rate lambda; after each, drop out with probability p
        t = 0.0
        while True:
            t += rng.exponential(1.0 / rate[i])
            if t > T[i]:
                break
            x[i], tx[i] = x[i] + 1, t
            if rng.random() < p[i]:
                break
    summary = _summary(x, tx, T, cov.index)
    fit = fit_with_covariates(summary, "bgnbd", cov[["channel"]], time_unit="W", ci_level=0.9973)
    _check(fit, truth, gamma)
    assert set(fit.gamma) == {"purchase", "dropout_a", "dropout_b"}


def test_covariates_are_checked_like_the_transaction_file():
    rng = np.random.default_rng(1)
    cov = _covariates(rng, 50)
    summary = _summary(rng.integers(0, 3, 50), np.zeros(50), np.full(50, 20.0), cov.index)
    summary["recency"] = np.where(summary["frequency"] > 0, 10.0, 0.0)
    with pytest.raises(ValueError, match="Covariate column region is missing"):
        fit_with_covariates(summary, "pareto", cov, purchase=["region"], time_unit="W")
    with pytest.raises(ValueError, match="3 customers of the summary have no covariate row"):
        fit_with_covariates(summary, "pareto", cov.iloc[3:], time_unit="W")
    bad = cov.assign(value=cov["value"].astype(object))
    bad.iloc[[4, 9], 1] = "n/a"
    with pytest.raises(ValueError, match="value has 2 missing or non-numeric values.*0/1 columns"):
        fit_with_covariates(summary, "pareto", bad, time_unit="W")
    with pytest.raises(ValueError, match="same value for every customer"):
        fit_with_covariates(summary, "pareto", cov.assign(channel=1.0), time_unit="W")
    with pytest.raises(ValueError, match="Covariates are available for"):
        fit_with_covariates(summary, "nope", cov, time_unit="W")
