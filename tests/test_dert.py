"""DERT, discounted expected residual transactions (Fader, Hardie & Lee 2005b, "RFM and CLV: using iso-value
curves for customer base analysis", JMR 42(4)), for every continuous-time model.

Expected values come from the definition, integrated numerically here: a customer alive at T buys from then on
at the expected rate of their updated parameters, so DERT = P(alive) * int_0^inf e^(-delta t) dE(t), with E the
expected purchases in (T, T+t] of a customer alive at T. For Pareto/NBD the integrand is written out from note
009 (the rate (r+x)/(alpha+T) times the survival ((beta+T)/(beta+T+t))^s), not taken from the kit; the kit's
closed form uses the confluent hypergeometric function instead. For the BG family the kit's conditional
expectation (itself checked against FHL 2005a in test_models.py) is integrated by adaptive quadrature.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from analysis import models

PARETO = {"r": 0.5534, "alpha": 10.5802, "s": 0.6061, "beta": 11.6562}  # CDNOW, FHL 2005b / BTYD walkthrough
BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # CDNOW, FHL 2005a
MBGNBD = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}  # CDNOW, BTYDplus
HISTORIES = [(7, 35.0, 77.86), (0, 0.0, 77.86), (2, 30.43, 38.86), (26, 30.86, 31.0), (1, 2.0, 52.0)]


def test_fifteen_percent_a_year_is_0_0027_a_week():
    # BTYD's pnbd.DERT example: "15% compounded annually has been converted to 0.0027 compounded continuously"
    assert math.log1p(0.15) * 7 / 365.25 == pytest.approx(0.0027, abs=0.00005)
    x, tx, T = HISTORIES[0]
    weekly = float(models.dert("pareto", PARETO, 0.15, x, tx, T, time_unit="W"))
    daily = float(models.dert("pareto", {**PARETO, "alpha": PARETO["alpha"] * 7, "beta": PARETO["beta"] * 7}, 0.15,
                              x, tx * 7, T * 7, time_unit="D"))
    assert daily == pytest.approx(weekly, rel=1e-9)  # the time unit does not change the number


@pytest.mark.parametrize("x, tx, T", HISTORIES)
def test_pareto_dert_closed_form_equals_the_integral_of_its_definition(x, tx, T):
    delta = math.log1p(0.15) * 7 / 365.25
    r, alpha, s, beta = (PARETO[k] for k in ("r", "alpha", "s", "beta"))

    def discounted_rate(t: float) -> float:
        return math.exp(-delta * t) * (r + x) / (alpha + T) * ((beta + T) / (beta + T + t)) ** s

    integral = integrate.quad(discounted_rate, 0, np.inf, limit=500, epsabs=0, epsrel=1e-11)[0]
    expected = float(models.p_alive("pareto", PARETO, x, tx, T)) * integral
    assert float(models.dert("pareto", PARETO, 0.15, x, tx, T)) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("name, params", [("bgnbd", BGNBD), ("mbgnbd", MBGNBD), ("pareto", PARETO)])
def test_dert_by_quadrature_equals_adaptive_integration_of_the_conditional_expectation(name, params):
    delta = math.log1p(0.10) * 7 / 365.25
    model = models.get(name)
    x, tx, T = (np.array(v, dtype=float) for v in zip(*HISTORIES))
    general = super(type(model), model).dert if name == "pareto" else model.dert  # the Gauss-Laguerre default
    got = general(params, delta, x, tx, T)
    for i in range(len(x)):
        def e(t: float) -> float:
            return float(models.conditional_expected_purchases(name, params, t, x[i], tx[i], T[i]))

        # integration by parts: int e^(-delta t) dE(t) = delta int e^(-delta t) E(t) dt, E(0) = 0
        expected = integrate.quad(lambda t: delta * math.exp(-delta * t) * e(t), 0, np.inf, limit=500,
                                  epsrel=1e-10)[0]
        assert got[i] == pytest.approx(expected, rel=1e-5), (name, i)


def test_dert_exceeds_the_discounted_purchases_of_any_horizon_and_needs_a_positive_rate():
    x, tx, T = (np.array(v, dtype=float) for v in zip(*HISTORIES))
    for name, params in (("bgnbd", BGNBD), ("pareto", PARETO)):
        dert = models.dert(name, params, 0.10, x, tx, T)
        two_years = models.conditional_expected_purchases(name, params, 104.0, x, tx, T) / 1.10 ** 2
        assert np.all(dert > two_years)
    with pytest.raises(ValueError, match="annual_discount_rate must be > 0"):
        models.dert("pareto", PARETO, 0.0, 1, 1.0, 2.0)
    with pytest.raises(ValueError, match="Unknown model"):
        models.dert("bgbb", PARETO, 0.1, 1, 1.0, 2.0)


def test_residual_value_is_margin_times_spend_times_dert_and_rows_may_carry_counts():
    import pandas as pd

    from analysis.scoring import clv

    rng = np.random.default_rng(3)
    x = rng.integers(0, 6, 300).astype(float)
    T = rng.uniform(10, 78, 300).round(0)
    tx = np.where(x > 0, np.round(T * rng.uniform(0, 1, 300)), 0.0)
    m = np.where(x > 0, rng.gamma(5, 8, 300).round(0), 0.0)
    summary = pd.DataFrame({"frequency": x, "recency": tx, "T": T, "monetary_value": m},
                           index=pd.Index(range(300), name="customer_id"))
    model = models.FittedModel(name="pareto", params=PARETO, loglik=0.0, aic=0.0, bic=0.0, n_customers=300, ci={},
                               cov_log=np.eye(4), time_unit="W")
    gg = models.GammaGammaFit(params={"p": 6.25, "q": 3.74, "v": 15.44}, loglik=0.0, aic=0.0, bic=0.0,
                              n_customers=300, ci={}, cov_log=np.eye(3), correlation={})
    total = clv.residual_value(summary, model, gg, annual_discount_rate=0.10, gross_margin=0.3)
    by_hand = sum(0.3 * (15.44 + m[i] * x[i]) * 6.25 / (6.25 * x[i] + 3.74 - 1)
                  * float(models.dert("pareto", PARETO, 0.10, x[i], tx[i], T[i])) for i in range(300))
    assert total == pytest.approx(by_hand, rel=1e-10)
    grouped = summary.groupby(["frequency", "recency", "T", "monetary_value"]).size().rename("n").reset_index()
    assert clv.residual_value(grouped, model, gg, annual_discount_rate=0.10, gross_margin=0.3, weights="n") == \
        pytest.approx(total, rel=1e-12)
    assert clv.residual_value(summary, model, gg, annual_discount_rate=0.0, gross_margin=0.3) is None
