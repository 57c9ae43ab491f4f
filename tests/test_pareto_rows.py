"""Pareto/NBD per customer (a continuous covariate gives every customer their own parameters): the quadrature of
the dead term and its derivatives against scipy's adaptive quadrature and the closed form (Fader & Hardie 2005,
note 009, eq. (22)), over parameters far beyond any fit (heavy buyers, t_x next to T, t_x = 0, alpha >> beta and
beta >> alpha); and the covariate fit against the same fit with the closed form and central differences."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import gammaln

from analysis import models
from analysis.models.pareto_nbd import _pareto_gap_moments, pareto_nbd_loglik_and_gradient_rows


def _stress_grid(near_T: bool = True) -> np.ndarray:
    """(r, alpha, s, beta, x, t_x, T) by rows: alpha and beta from 1e-3 to 1e5 (time in weeks, T up to 1e4)."""
    pairs = [(0.0, 78.0), (0.0, 0.5), (30.0, 78.0), (1.0, 1e4)] + ([(78.0 - 1e-6, 78.0)] if near_T else [])
    points = []
    for r, s, alpha, beta in itertools.product((0.05, 2.0), (0.05, 3.0), (1e-3, 6.0, 1e5), (1e-3, 44.0, 1e5)):
        for x in (0, 1, 40, 300):
            points += [(r, alpha, s, beta, x, tx, T) for tx, T in pairs if x > 0 or tx == 0.0]
    return np.array(points, dtype=float)


def _adaptive(r, alpha, s, beta, x, tx, T) -> np.ndarray:
    """ln G, G = int_{t_x}^T (alpha+u)^-(r+x) (beta+u)^-(s+1) du, and d ln G / d(r, alpha, s, beta) by
    differentiating under the integral sign, each integral by ``scipy.integrate.quad`` on pieces that crowd
    towards t_x (where a heavy buyer's integrand falls by orders of magnitude), scaled by the integrand at t_x."""
    a, b = r + x, s + 1.0
    top = -a * math.log(alpha + tx) - b * math.log(beta + tx)

    def integrand(u, j):
        la, lb = math.log(alpha + u), math.log(beta + u)
        f = math.exp(-a * la - b * lb - top)
        return (f, f * la, f / (alpha + u), f * lb, f / (beta + u))[j]

    edges = tx + (T - tx) * np.concatenate([[0.0], np.geomspace(1e-9, 1.0, 19)])
    total = [sum(integrate.quad(integrand, lo, hi, args=(j,), epsabs=0.0, epsrel=1e-13, limit=100)[0]
                 for lo, hi in zip(edges[:-1], edges[1:])) for j in range(5)]
    g = total[0]
    return np.array([top + math.log(g), -total[1] / g, -a * total[2] / g, -total[3] / g, -b * total[4] / g])


def test_the_gap_integral_and_its_derivatives_match_adaptive_quadrature():
    grid = _stress_grid()
    expected = np.array([_adaptive(*row) for row in grid]).T
    got = _pareto_gap_moments(*grid.T)
    assert got.shape == (5, len(grid))
    np.testing.assert_allclose(got[0], expected[0], rtol=0.0, atol=1e-10)  # G itself within 1e-10 relative
    for k in range(1, 5):
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-9, atol=0.0, err_msg=f"derivative {k}")


def test_t_x_next_to_T_keeps_its_digits():
    """With t_x - T = 1e-6 the integral is (T - t_x) times the integrand (to 1e-6 relative): the width of the
    interval must not come from a difference of two logarithms of about ln(1e5)."""
    r, alpha, s, beta, x, T = 0.5, 1e5, 3.0, 1e5, 5.0, 78.0
    tx = T - 1e-6
    got = _pareto_gap_moments(*(np.array([v]) for v in (r, alpha, s, beta, x, tx, T)))[0, 0]
    # alpha = beta: G = ((alpha+t_x)^(1-m) - (alpha+T)^(1-m)) / (m-1), m = r+x+s+1, in logs
    m = r + x + s + 1.0
    exact = (1.0 - m) * math.log(alpha + tx) + math.log(-math.expm1((1.0 - m) * math.log1p((T - tx) / (alpha + tx))))
    assert got == pytest.approx(exact - math.log(m - 1.0), abs=1e-12)


def _log_likelihood_by_quadrature(r, alpha, s, beta, x, tx, T) -> float:
    """ln L as note 009's eq. (22) writes it, ``G(r+x) alpha^r beta^s / G(r) [(alpha+T)^-(r+x) (beta+T)^-s + s G]``,
    with G by :func:`_adaptive`."""
    head = gammaln(r + x) - gammaln(r) + r * math.log(alpha) + s * math.log(beta)
    alive = -(r + x) * math.log(alpha + T) - s * math.log(beta + T)
    return head + np.logaddexp(alive, math.log(s) + _adaptive(r, alpha, s, beta, x, tx, T)[0])


def test_the_rows_match_the_likelihood_by_adaptive_quadrature_and_its_central_differences():
    """Per row, ln L within 1e-9 of the size of its terms (``ln G(r+x) - ln G(r) + r ln alpha + s ln beta`` and
    ``ln((alpha+T)^-(r+x) (beta+T)^-s)``, which cancel for some rows), and the gradient in the log-parameters
    within 1e-6 of central differences of it (on every third row of the grid). The closed form
    (``pareto_nbd_log_likelihood``, Gauss hypergeometric functions) would not do as the reference here: with
    alpha = 1e-3 and 300 purchases it is off by thousands, with t_x = T - 1e-6 and alpha, beta = 1e5 by 1e-4."""
    grid = _stress_grid()
    r, alpha, s, beta, x, tx, T = grid.T
    log_rows = [np.log(v) for v in (r, alpha, s, beta)]
    ll, grad = pareto_nbd_loglik_and_gradient_rows(log_rows, x, tx, T)
    expected = np.array([_log_likelihood_by_quadrature(*row) for row in grid])
    size = np.abs(gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)) + np.abs(
        (r + x) * np.log(alpha + T) + s * np.log(beta + T)) + 1.0
    np.testing.assert_array_less(np.abs(ll - expected), 1e-9 * size)
    h = 1e-4
    for i in range(0, len(grid), 3):
        numeric = []
        for k in range(4):
            up, down = grid[i].copy(), grid[i].copy()
            up[k], down[k] = grid[i, k] * math.exp(h), grid[i, k] * math.exp(-h)
            numeric.append((_log_likelihood_by_quadrature(*up) - _log_likelihood_by_quadrature(*down)) / (2 * h))
        np.testing.assert_allclose(grad[i], numeric, rtol=1e-6, atol=1e-6, err_msg=str(grid[i]))


def _closed_form_rows(log_params, x, tx, T):
    """The gradient per row as the fit with a continuous covariate took it before the quadrature: the closed-form
    log-likelihood per row and its central differences in each log-parameter."""
    log_params = [np.broadcast_to(np.asarray(v, dtype=float), np.shape(x)) for v in log_params]
    ll = models.pareto_nbd_log_likelihood([np.exp(v) for v in log_params], x, tx, T)
    h, grad = 1e-6, np.empty((len(x), 4))
    for k in range(4):
        up = [np.exp(v + h * (j == k)) for j, v in enumerate(log_params)]
        down = [np.exp(v - h * (j == k)) for j, v in enumerate(log_params)]
        grad[:, k] = (models.pareto_nbd_log_likelihood(up, x, tx, T)
                      - models.pareto_nbd_log_likelihood(down, x, tx, T)) / (2 * h)
    return ll, grad


def test_a_continuous_covariate_gives_the_fit_of_the_closed_form(monkeypatch):
    from analysis.models.covariates import fit_with_covariates
    from analysis.models.pareto_nbd import ParetoNBD

    rng = np.random.default_rng(41)
    size = 3000
    value = rng.normal(0.0, 1.0, size)
    cov = pd.DataFrame({"value": value}, index=pd.Index(range(size), name="customer_id"))
    rate = rng.gamma(0.7, 1.0 / (6.0 * np.exp(-0.4 * value)))
    mu = rng.gamma(0.8, 1.0 / (12.0 * np.exp(0.3 * value)))
    T = rng.uniform(20, 80, size).round(1)
    active = np.minimum(rng.exponential(1.0 / mu), T)
    x = rng.poisson(rate * active)
    tx = np.array([rng.uniform(0, a, k).max() if k else 0.0 for a, k in zip(active, x)]).round(1)
    summary = pd.DataFrame({"frequency": x.astype(float), "recency": tx, "T": T}, index=cov.index)
    fit = fit_with_covariates(summary, "pareto", cov, time_unit="W")
    monkeypatch.setattr(ParetoNBD, "loglik_and_gradient_rows",
                        lambda self, log_params, x, tx, T: _closed_form_rows(log_params, x, tx, T))
    closed = fit_with_covariates(summary, "pareto", cov, time_unit="W")
    assert fit.loglik == pytest.approx(closed.loglik, rel=1e-12)
    for k in fit.params:
        assert fit.params[k] == pytest.approx(closed.params[k], rel=1e-6)
        assert fit.ci[k] == pytest.approx(closed.ci[k], rel=1e-4)
    for process, coefficients in fit.gamma.items():
        for c, g in coefficients.items():
            assert g == pytest.approx(closed.gamma[process][c], abs=1e-6)
            assert fit.gamma_ci[process][c] == pytest.approx(closed.gamma_ci[process][c], abs=1e-4)
    assert 0.25 < fit.gamma["purchase"]["value"] < 0.55 and -0.5 < fit.gamma["dropout"]["value"] < -0.1


def test_the_optimizer_can_stop_at_the_first_point_that_meets_its_tolerance():
    """``first_stationary``: BFGS stops at the first point it evaluates whose gradient meets the tolerance, even
    where the value there is not below the last accepted one (rounding near the maximum of a large sum)."""
    from analysis.models.fitting import _GTOL, _minimize

    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    seen = []

    def objective(v):
        grad = A @ (v - 1.0)
        seen.append((np.array(v), np.max(np.abs(grad))))
        return 0.5 * (v - 1.0) @ A @ (v - 1.0) + 1e-13 * math.sin(1e6 * v[0]), grad  # a ripple of rounding size

    res = _minimize(objective, np.array([-2.0, 4.0]), first_stationary=True)
    first = next(v for v, g in seen if g <= _GTOL)
    assert res.success and np.array_equal(res.x, first) and np.array_equal(seen[-1][0], first)
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-9)
