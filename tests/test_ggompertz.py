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


# ------------------------------------------------------------------ the fit's dead-term integrals by segments (#17)
# The reference is the per-row quadrature the module used before issue #17 (8 panels x 24 Gauss-Legendre nodes on
# v = ln(alpha + tau) over each row's own [t_x, T]), kept here as an independent implementation; ``panels`` refines
# it. The module now integrates segments shared between rows and sums them (see _DeadTermPlan).


def reference_loglik_and_gradient(log_params, x, tx, T, panels: int = 8):
    """Each row's ln L and its gradient in log(r, alpha, b, s, beta) (rows x 5), row by row."""
    from scipy.special import digamma, gammaln, logsumexp

    nodes, weights = np.polynomial.legendre.leggauss(24)
    r, alpha, b, s, beta = np.exp(np.asarray(log_params, dtype=float))
    rx = r + x
    v0, v1 = np.log(alpha + tx)[:, None], np.log(alpha + T)[:, None]
    unit = ((np.arange(panels)[:, None] + (nodes[None, :] + 1.0) / 2.0) / panels).reshape(-1)
    v = v0 + (v1 - v0) * unit
    tau = np.exp(v) - alpha
    with np.errstate(divide="ignore", invalid="ignore"):
        log_w = np.log((v1 - v0) / (2.0 * panels)) + np.log(np.tile(weights, panels)) + v
        E, E_T = np.expm1(b * tau), np.expm1(b * T)
        Q, Q_T = beta + E, beta + E_T
        alive = s * (math.log(beta) - np.log(Q_T)) - rx * np.log(alpha + T)
        l_nodes = (math.log(b * s) + s * math.log(beta) + b * tau - (s + 1.0) * np.log(Q) - rx[:, None] * v + log_w)
        dead = np.where(tx < T, logsumexp(l_nodes, axis=1), -np.inf)
        bracket = np.logaddexp(alive, dead)
        w_alive = np.exp(alive - bracket)
        w_dead = (1.0 - w_alive)[:, None] * np.where((tx < T)[:, None], np.exp(l_nodes - dead[:, None]), 0.0)
    parts = [
        digamma(rx) - digamma(r) + math.log(alpha) - w_alive * np.log(alpha + T) - (w_dead * v).sum(1),
        r / alpha - w_alive * rx / (alpha + T) - (w_dead * (rx[:, None] / (alpha + tau))).sum(1),
        -w_alive * s * T * (E_T + 1.0) / Q_T + (w_dead * (1.0 / b + tau - (s + 1.0) * tau * (E + 1.0) / Q)).sum(1),
        w_alive * (math.log(beta) - np.log(Q_T)) + (w_dead * (1.0 / s + math.log(beta) - np.log(Q))).sum(1),
        w_alive * (s / beta - s / Q_T) + (w_dead * (s / beta - (s + 1.0) * 1.0 / Q)).sum(1),
    ]
    head = gammaln(rx) - gammaln(r) + r * math.log(alpha)
    return head + bracket, np.column_stack(parts) * np.array([r, alpha, b, s, beta])


@pytest.fixture(scope="module")
def daily():
    """A daily log from analysis.simulate: customers arriving on every day of 546, heavy buyers (x up to
    hundreds), rows with t_x = T (one-time buyers and the last day's newcomers, T = 0) and t_x = 0; times rescaled
    so that max(T) = 1, as the fit does."""
    from analysis.data.summary import rfm_summary
    from analysis.simulate import SimulationSpec, simulate_transactions

    spec = SimulationSpec(n_customers=3000, bgnbd={"r": 0.6, "alpha": 2.0, "a": 0.3, "b": 3.0}, time_unit="D",
                          acquisition_days=546, observation_days=546, seed=17)
    summary = rfm_summary(simulate_transactions(spec).to_pandas(), spec.observation_end, "D")
    (x, tx, T), n = _weighted_rows(summary, ["frequency", "recency", "T"], None)
    assert x.max() >= 300 and (x >= 100).sum() > 100 and (tx == T).sum() > 100 and (tx == 0).sum() > 100
    assert T.min() == 0 and len(np.unique(tx)) > 500
    return x, tx / T.max(), T / T.max(), n


# rescaled time (max T = 1): near Pareto/NBD (b tiny), moderate, b large, and small alpha (steep for heavy buyers)
SCALED_POINTS = [(0.6, 0.004, 1e-7, 0.6, 2e-8), (0.8, 0.05, 0.5, 1.0, 2.0), (2.0, 0.2, 8.0, 3.0, 0.5),
                 (0.5, 0.5, 20.0, 0.4, 50.0), (1.2, 0.01, 2.0, 0.8, 0.05)]


def _compare_with_reference(x, tx, T, n, params, panels):
    lp = np.log(params)
    expected, expected_grad = reference_loglik_and_gradient(lp, x, tx, T, panels)
    got = ggompertz_nbd.ggompertz_nbd_log_likelihood(np.exp(lp), x, tx, T)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)  # atol: rows whose ln L is near 0
    ll, grad = ggompertz_nbd.ggompertz_nbd_loglik_and_gradient(lp, x, tx, T, n)
    assert ll == pytest.approx(float(n @ expected), rel=1e-11)
    assert ll == pytest.approx(float(n @ got), rel=1e-12)  # the fit's objective is the model's log-likelihood
    # 1e-6 of each component, or 1e-9 of the sum of the rows' magnitudes where the rows cancel
    tolerance = 1e-6 * np.abs(n @ expected_grad) + 1e-9 * (n @ np.abs(expected_grad))
    assert np.all(np.abs(grad - n @ expected_grad) <= tolerance), (grad, n @ expected_grad)
    # per row: the gradient of each row's ln L, taken from the sum with one row's weight
    rows = np.linspace(0, len(x) - 1, 40).astype(int)
    for i in rows:
        w = np.zeros(len(x))
        w[i] = 1.0
        g_i = ggompertz_nbd.ggompertz_nbd_loglik_and_gradient(lp, x, tx, T, w)[1]
        scale = max(np.abs(expected_grad[i]).max(), 1.0)
        np.testing.assert_allclose(g_i, expected_grad[i], rtol=1e-6, atol=1e-9 * scale)


# weeks: the points of the gradient test above, CLVTools' CDNOW estimates with b smaller still, and b large
@pytest.mark.parametrize("params", [(0.8, 5.0, 0.05, 1.0, 2.0), (0.55, 10.6, 1e-3, 0.6, 0.01), (2.0, 1.0, 0.3, 3.0, 0.5),
                                    (0.55313, 10.5758, 1e-8, 0.60682, 1.2e-7), (0.5, 2.0, 1.5, 0.5, 30.0)])
def test_segment_sums_equal_the_per_row_quadrature_on_cdnow(cdnow, params):
    (x, tx, T), n = _weighted_rows(cdnow, ["frequency", "recency", "T"], None)
    _compare_with_reference(x, tx, T, n, params, panels=8)


@pytest.mark.parametrize("params", SCALED_POINTS)
def test_segment_sums_equal_the_per_row_quadrature_on_a_daily_log(daily, params):
    x, tx, T, n = daily
    _compare_with_reference(x, tx, T, n, params, panels=8)


@pytest.mark.parametrize("params", SCALED_POINTS[1:3])
def test_gradient_equals_central_differences_on_a_daily_log(daily, params):
    x, tx, T, n = daily
    lp = np.log(params)
    ll, grad = ggompertz_nbd.ggompertz_nbd_loglik_and_gradient(lp, x, tx, T, n)

    def total(v):
        return float(n @ ggompertz_nbd.ggompertz_nbd_log_likelihood(np.exp(v), x, tx, T))

    numeric = np.array([(total(lp + 1e-6 * e) - total(lp - 1e-6 * e)) / 2e-6 for e in np.eye(5)])
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-4)


def test_sums_in_logs_where_a_half_block_spans_too_much_agree_with_plain_sums(daily, monkeypatch):
    # the segment sums are plain (scaled) sums unless a half-block's terms span more than _UNDERFLOW nepers;
    # forcing the logs everywhere must not change anything
    x, tx, T, n = daily
    lp = np.log(SCALED_POINTS[4])
    plain = ggompertz_nbd.ggompertz_nbd_loglik_and_gradient(lp, x, tx, T, n)
    monkeypatch.setattr(ggompertz_nbd, "_UNDERFLOW", 0.0)
    in_logs = ggompertz_nbd.ggompertz_nbd_loglik_and_gradient(lp, x, tx, T, n)
    assert in_logs[0] == pytest.approx(plain[0], rel=1e-13)
    np.testing.assert_allclose(in_logs[1], plain[1], rtol=1e-10)


def test_short_ranges_next_to_large_integrals_and_parameters_per_customer(daily):
    # a heavy buyer's last day, after a first segment that holds almost all of the integral: no cancellation
    x = np.array([300.0, 300.0, 300.0, 0.0])
    tx, T = np.array([0.0, 0.998, 0.0, 0.0]), np.array([1.0, 1.0, 0.002, 0.0])
    params = (0.8, 0.02, 0.5, 1.0, 2.0)
    expected, _ = reference_loglik_and_gradient(np.log(params), x, tx, T, panels=64)
    got = ggompertz_nbd.ggompertz_nbd_log_likelihood(params, x, tx, T)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    # per-customer parameters (a continuous covariate) take each row as one segment
    xs, txs, Ts, _ = daily
    alpha = np.full(len(xs), 0.05) * np.exp(np.linspace(-0.5, 0.5, len(xs)))
    got = ggompertz_nbd._log_dead_term(0.8, alpha, 0.5, 1.0, 2.0, xs, txs, Ts)
    each = np.array([ggompertz_nbd._log_dead_term(0.8, a, 0.5, 1.0, 2.0, xi, ti, Ti)
                     for a, xi, ti, Ti in zip(alpha[:200], xs[:200], txs[:200], Ts[:200])])
    np.testing.assert_allclose(got[:200], each, rtol=1e-12)
