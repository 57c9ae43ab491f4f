"""GGompertz/NBD (Bemmaor & Glady 2012), the fourth purchase model: one file plus one registry line.

Expected values: CLVTools' CDNOW test (tests/testthat/test_correctness_ggomnbd.R: r 0.55313, alpha 10.5758,
b 0.0000011, s 0.60682, beta 0.000013, LL -9594.9762, weekly data split 1997-09-30, the 2,357 customers of
lifetimes' ``load_cdnow_summary``); the model's limit b -> 0 with beta / b fixed, which is Pareto/NBD (closed
forms of note 009); adaptive quadrature (scipy) of the likelihood's integral; and a simulation from the model's
definition with known parameters.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from analysis import models
from analysis.errors import ModelAtLimit, ModelFitError
from analysis.models import ggompertz_nbd
from analysis.models.fitting import _weighted_rows

CLVTOOLS_CDNOW = {"r": 0.55313, "alpha": 10.5758, "b": 0.0000011, "s": 0.60682, "beta": 0.000013}
PARETO = {"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562}


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    from lifetimes.datasets import load_cdnow_summary

    return load_cdnow_summary().rename_axis("customer_id")


def _history(frame):
    return (frame[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))


def test_log_likelihood_at_clvtools_cdnow_estimates(cdnow):
    # CLVTools prints b and beta with two significant digits, which moves the sum in the third decimal
    got = float(models.get("ggompertz").log_likelihood(CLVTOOLS_CDNOW, *_history(cdnow)).sum())
    assert got == pytest.approx(-9594.9762, abs=0.01)


def test_as_b_goes_to_zero_the_model_is_pareto_nbd(cdnow):
    b = 1e-8
    limit = {"r": PARETO["r"], "alpha": PARETO["alpha"], "b": b, "s": PARETO["s"], "beta": PARETO["beta"] * b}
    x, tx, T = _history(cdnow)
    gg = models.get("ggompertz")
    np.testing.assert_allclose(gg.log_likelihood(limit, x, tx, T), models.pareto_nbd_log_likelihood(PARETO, x, tx, T),
                               rtol=0, atol=1e-6)
    np.testing.assert_allclose(gg.p_alive(limit, x, tx, T), models.p_alive("pareto", PARETO, x, tx, T), atol=1e-6)
    np.testing.assert_allclose(models.conditional_expected_purchases("ggompertz", limit, 39.0, x, tx, T),
                               models.conditional_expected_purchases("pareto", PARETO, 39.0, x, tx, T), rtol=1e-5)
    np.testing.assert_allclose(models.purchase_count_pmf("ggompertz", limit, [5.0, 39.0, 78.0], 8),
                               models.purchase_count_pmf("pareto", PARETO, [5.0, 39.0, 78.0], 8), atol=1e-6)
    np.testing.assert_allclose(models.dert("ggompertz", limit, 0.15, x[:50], tx[:50], T[:50]),
                               models.dert("pareto", PARETO, 0.15, x[:50], tx[:50], T[:50]), rtol=1e-5)


@pytest.mark.parametrize("x, tx, T", [(300, 1.0, 100.0), (300, 90.0, 100.0), (50, 0.5, 300.0), (1, 2.0, 200.0),
                                      (0, 0.0, 52.0)])
def test_the_likelihoods_integral_equals_adaptive_quadrature(x, tx, T):
    r, alpha, b, s, beta = 0.8, 5.0, 0.05, 1.0, 2.0

    def scaled(u: float) -> float:  # the integrand divided by its value's scale at t_x
        return math.exp(math.log(b * s) + s * math.log(beta) + b * u - (s + 1) * math.log(beta + math.expm1(b * u))
                        - (r + x) * (math.log(alpha + u) - math.log(alpha + tx)))

    value = integrate.quad(scaled, tx, T, epsabs=0, epsrel=1e-12, limit=500, points=[tx + 0.01, tx + 0.1, tx + 1])[0]
    expected = math.log(value) - (r + x) * math.log(alpha + tx)
    got = float(ggompertz_nbd._log_dead_term(r, alpha, b, s, beta, float(x), tx, T))
    assert got == pytest.approx(expected, abs=1e-7)


def test_counts_sum_to_one_and_average_to_the_expected_purchases():
    params = {"r": 0.8, "alpha": 4.0, "b": 0.04, "s": 1.2, "beta": 3.0}
    pmf = models.purchase_count_pmf("ggompertz", params, [10.0, 52.0], 400)  # the tail beyond 400 is < 1e-13
    np.testing.assert_allclose(pmf.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(pmf[:, :-1] @ np.arange(400), models.expected_purchases("ggompertz", params, [10.0, 52.0]),
                               rtol=1e-6)
    x, tx, T = np.array([0.0, 3.0, 12.0]), np.array([0.0, 20.0, 50.0]), np.array([40.0, 40.0, 52.0])
    cond = models.conditional_purchase_count_pmf("ggompertz", params, 26.0, x, tx, T, 400)
    np.testing.assert_allclose(cond[:, :-1] @ np.arange(400),
                               models.conditional_expected_purchases("ggompertz", params, 26.0, x, tx, T), rtol=1e-6)


def test_gradient_equals_central_differences_of_the_log_likelihood(cdnow):
    x, tx, T = _history(cdnow)
    n = np.ones(len(x))
    for params in ([0.8, 5.0, 0.05, 1.0, 2.0], [0.55, 10.6, 1e-3, 0.6, 0.01], [2.0, 1.0, 0.3, 3.0, 0.5]):
        lp = np.log(params)
        ll, grad = ggompertz_nbd.ggompertz_nbd_loglik_and_gradient(lp, x, tx, T, n)

        def total(v):
            return float(ggompertz_nbd.ggompertz_nbd_log_likelihood(np.exp(v), x, tx, T).sum())

        assert ll == pytest.approx(total(lp), rel=1e-12)
        numeric = np.array([(total(lp + 1e-6 * e) - total(lp - 1e-6 * e)) / 2e-6 for e in np.eye(5)])
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-4)


def test_on_cdnow_the_fit_runs_to_the_pareto_limit_and_the_kit_says_so(cdnow):
    (x, tx, T), n = _weighted_rows(cdnow, ["frequency", "recency", "T"], None)
    model = models.get("ggompertz")
    log_theta, finite = model.fit_log_params(x, tx, T, n, 0.0, None)
    est = dict(zip(model.param_names, np.exp(log_theta)))
    assert finite
    # CLVTools' maximum, reached (or passed: the likelihood still rises a little along b, beta -> 0)
    assert float(n @ model.log_likelihood(est, x, tx, T)) >= -9594.9762 - 1e-3
    for k in ("r", "alpha", "s"):
        assert est[k] == pytest.approx(CLVTOOLS_CDNOW[k], rel=0.005), k
    assert est["b"] < 1e-4 and est["beta"] / est["b"] == pytest.approx(PARETO["beta"], rel=0.05)
    with pytest.raises(ModelAtLimit, match="runs to b = 0, where it is the Pareto/NBD model") as err:
        models.fit_model(cdnow, "ggompertz", time_unit="W")
    assert isinstance(err.value, ModelFitError) and "Pareto/NBD describes them as well" in err.value.reason


def test_recovers_known_parameters_from_simulated_customers():
    truth = {"r": 0.8, "alpha": 4.0, "b": 0.04, "s": 1.2, "beta": 3.0}
    rng = np.random.default_rng(2012)
    size = 1500
    T = rng.integers(26, 79, size).astype(float)  # weeks since the first purchase
    rate = rng.gamma(truth["r"], 1.0 / truth["alpha"], size)
    eta = rng.gamma(truth["s"], 1.0 / truth["beta"], size)
    lifetime = np.log1p(rng.exponential(1.0, size) / eta) / truth["b"]  # P(tau > t) = exp(-eta (e^(b t) - 1))
    active = np.minimum(lifetime, T)
    x = rng.poisson(rate * active)
    tx = np.array([rng.uniform(0, a, k).max() if k else 0.0 for a, k in zip(active, x)])
    tx = np.round(tx * 7) / 7  # purchase days
    summary = pd.DataFrame({"frequency": x.astype(float), "recency": tx, "T": T},
                           index=pd.Index(range(size), name="customer_id"))
    fit = models.fit_model(summary, "ggompertz", time_unit="W")
    for k, true in truth.items():
        low, high = fit.ci[k]
        assert low < true < high, (k, true, fit.params[k], fit.ci[k])
    assert fit.name == "ggompertz" and set(fit.params) == set(truth)
