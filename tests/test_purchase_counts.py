"""The distribution of repeat-purchase counts, P(X(t) = n) and P(X(T, T+t) = n | history), and the calibration-period
check (issue #17).

Independent values: lifetimes' ``probability_of_n_purchases_up_to_time`` (BG/NBD, FHL 2005a eq. 8; MBG/NBD)
and its Pareto/NBD conditional pmf (Fader & Hardie note 028, eq. 16) at x = t_x = T = 0, which is the
unconditional one; the CDNOW counts published in FHL (2005a), p. 280 and Figure 3 (1,411 of the 2,357
customers made no repeat purchase in the 39-week calibration period); scipy's chi-square test; for the
conditional BG/NBD pmf, a double integral over the purchase rate and the drop-out probability (scipy dblquad),
and for every model the papers' conditional expectation as its mean.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import models

CDNOW = Path(__file__).parent / "data" / "cdnow_summary_with_transactions.csv"
BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # FHL (2005a), p. 281
PARETO = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}  # FHL (2005a), p. 281
TIMES = np.array([0.5, 1.0, 10.0, 38.86, 78.0])


def _lifetimes(name: str, params: dict):
    import lifetimes

    fitter = {"bgnbd": lifetimes.BetaGeoFitter, "mbgnbd": lifetimes.ModifiedBetaGeoFitter,
              "pareto": lifetimes.ParetoNBDFitter}[name]()
    fitter.params_ = pd.Series(params)
    if name == "pareto":
        return lambda t, n: fitter.conditional_probability_of_n_purchases_up_to_time(n, t, 0, 0, 0)
    return fitter.probability_of_n_purchases_up_to_time


@pytest.mark.parametrize("name, params", [("bgnbd", BGNBD), ("mbgnbd", BGNBD), ("pareto", PARETO)])
def test_pmf_equals_lifetimes(name, params):
    pmf = models.purchase_count_pmf(name, params, TIMES, 10)
    theirs = np.array([[_lifetimes(name, params)(t, n) for n in range(10)] for t in TIMES])
    np.testing.assert_allclose(pmf[:, :10], theirs, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(pmf.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(pmf[:, 10], 1.0 - theirs.sum(axis=1), atol=1e-12)  # "10 or more"


def test_nobody_buys_in_no_time():
    for name, params in (("bgnbd", BGNBD), ("mbgnbd", BGNBD), ("pareto", PARETO)):
        assert models.purchase_count_pmf(name, params, np.array([0.0]), 3)[0].tolist() == pytest.approx([1, 0, 0, 0])


def test_cdnow_calibration_counts_against_the_model():
    cdnow = pd.read_csv(CDNOW)
    table, test = models.repeat_purchase_check("bgnbd", BGNBD, cdnow["x"], cdnow["T"], n_max=7)
    assert table["repeat_purchases"].tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table["actual"].tolist() == [1411, 439, 214, 100, 62, 38, 29, 64]  # FHL (2005a), Figure 3
    per_customer = np.array([[_lifetimes("bgnbd", BGNBD)(T, n) for n in range(7)] for T in cdnow["T"]])
    expected = np.append(per_customer.sum(axis=0), len(cdnow) - per_customer.sum())
    np.testing.assert_allclose(table["expected"], expected, rtol=1e-9)
    # every group expects at least 5 customers here, so the test uses all 8: df = 8 - 1 - 4 parameters
    chi2, p_value = stats.chisquare(table["actual"], table["expected"], ddof=4)
    assert test == pytest.approx({"chi2": chi2, "df": 3, "p_value": p_value}, rel=1e-9)
    assert test["p_value"] > 0.05  # the paper's conclusion: BG/NBD fits the calibration histogram


def test_small_tail_groups_are_merged_for_the_test():
    """Few customers: groups expecting fewer than 5 customers are merged into the group before them."""
    table, test = models.repeat_purchase_check("bgnbd", BGNBD, np.array([0, 0, 0, 1, 2, 9] * 5),
                                               np.full(30, 39.0), n_max=4)
    assert table["actual"].tolist() == [15, 5, 5, 0, 5]
    exp = table["expected"].to_numpy()
    # by hand from the table: "4+" (2.9) and "3" (1.4) expect fewer than 5, "2" with them 6.8: three groups
    assert exp[4] < 5 and exp[3] + exp[4] < 5 <= exp[2:].sum() and exp[1] >= 5
    groups_obs, groups_exp = [15.0, 5.0, 10.0], [exp[0], exp[1], exp[2:].sum()]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(groups_obs, groups_exp))
    assert test["chi2"] == pytest.approx(chi2, rel=1e-12)
    assert test["df"] == 3 - 1 - 4 and np.isnan(test["p_value"])  # too few groups for 4 parameters: no test


HISTORIES = [(0, 0.0, 30.0), (2, 30.43, 38.86), (7, 35.0, 38.86), (1, 2.0, 38.86)]  # (x, t_x, T), weeks


def test_conditional_pmf_of_pareto_nbd_equals_lifetimes():
    """lifetimes implements Fader & Hardie note 028 eq. (16), a closed form; the kit mixes P(alive) with the
    unconditional pmf under the updated parameters."""
    import lifetimes

    x, tx, T = (np.array(v, dtype=float) for v in zip(*HISTORIES))
    pmf = models.conditional_purchase_count_pmf("pareto", PARETO, 39.0, x, tx, T, 6)

    f = lifetimes.ParetoNBDFitter()
    f.params_ = pd.Series(PARETO)
    theirs = np.array([[f.conditional_probability_of_n_purchases_up_to_time(n, 39.0, *h) for n in range(6)]
                       for h in HISTORIES])
    np.testing.assert_allclose(pmf[:, :6], theirs, rtol=1e-7, atol=1e-12)


def _bgnbd_by_integration(x, tx, T, t, n, params):
    """P(X(T, T+t) = n | x, t_x, T) under BG/NBD by integrating over lambda and p (scipy dblquad): the
    likelihood of the history split into "alive at T" and "dropped out after the last purchase" (FHL 2005a
    eq. 3-4), times P(n | lambda, p) of eq. (8) given lambda and p, over the gamma and beta priors."""
    from math import exp, factorial, lgamma, log

    from scipy import integrate

    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    log_norm = r * log(alpha) - lgamma(r) - (lgamma(a) + lgamma(b) - lgamma(a + b))

    def prior(lam, p):
        return exp(log_norm + (r - 1) * log(lam) - alpha * lam + (a - 1) * log(p) + (b - 1) * log(1 - p))

    def future(lam, p):
        pois = [exp(-lam * t) * (lam * t) ** j / factorial(j) for j in range(n + 1)]
        return (1 - p) ** n * pois[n] + (p * (1 - p) ** (n - 1) * (1 - sum(pois[:n])) if n > 0 else 0.0)

    def alive(lam, p):
        return (1 - p) ** x * lam ** x * exp(-lam * T)

    def dead(lam, p):
        return p * (1 - p) ** (x - 1) * lam ** x * exp(-lam * tx) if x > 0 else 0.0

    top = 40 * (r + x + 1) / (alpha + tx)
    opts = dict(epsabs=1e-13, epsrel=1e-9)
    num = integrate.dblquad(lambda lam, p: prior(lam, p) * (alive(lam, p) * future(lam, p)
                                                            + (dead(lam, p) if n == 0 else 0.0)),
                            1e-12, 1 - 1e-12, 0, top, **opts)[0]
    den = integrate.dblquad(lambda lam, p: prior(lam, p) * (alive(lam, p) + dead(lam, p)),
                            1e-12, 1 - 1e-12, 0, top, **opts)[0]
    return num / den


@pytest.mark.parametrize("history", HISTORIES[1:3])
def test_conditional_pmf_of_bgnbd_equals_integration(history):
    x, tx, T = history
    pmf = models.conditional_purchase_count_pmf("bgnbd", BGNBD, 20.0, [x], [tx], [T], 4)[0]
    for n in range(3):
        assert pmf[n] == pytest.approx(_bgnbd_by_integration(x, tx, T, 20.0, n, BGNBD), rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("name, params", [("bgnbd", BGNBD), ("mbgnbd", BGNBD), ("pareto", PARETO)])
def test_conditional_pmf_has_the_papers_conditional_expectation(name, params):
    """Its mean is E[X(T, T+t) | history] of FHL (2005a) eq. (10), Batislam et al. (2007) and note 009 eq. (41)."""
    x, tx, T = (np.array(v, dtype=float) for v in zip(*HISTORIES))
    pmf = models.conditional_purchase_count_pmf(name, params, 13.0, x, tx, T, 60)
    assert pmf[:, -1].max() < 1e-9  # 60 or more purchases in a quarter: nobody
    np.testing.assert_allclose(pmf.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(pmf[:, :60] @ np.arange(60),
                               models.conditional_expected_purchases(name, params, 13.0, x, tx, T), rtol=1e-7)


def test_pareto_nbd_without_drop_outs_does_not_overflow():
    """A short calibration period on a growing web shop can end the Pareto/NBD fit with s and beta far out
    (nobody seems to drop out). The pmf is then the NBD of purchases alone; beta**s would overflow a float."""
    params = {"r": 0.5, "alpha": 10.0, "s": 1e6, "beta": 1e12}  # drop-out rate s/beta = 1e-6 per week
    t = np.array([1.0, 30.0])
    pmf = models.purchase_count_pmf("pareto", params, t, 4)
    nbd = stats.nbinom.pmf(np.arange(4)[None, :], 0.5, 10.0 / (10.0 + t[:, None]))
    np.testing.assert_allclose(pmf[:, :4], nbd, rtol=1e-4)
    cond = models.conditional_purchase_count_pmf("pareto", params, 13.0, [0, 3], [0, 20], [30, 30], 4)
    assert np.isfinite(cond).all() and np.allclose(cond.sum(axis=1), 1.0)
