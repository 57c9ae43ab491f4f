"""Tests for analysis.models.

Expected values come from the literature (the CDNOW sample of Fader, Hardie & Lee 2005),
from direct numerical integration of the models' definitions written out here, from
lifetimes (an independent implementation) or from simulated data with known truth.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

try:
    from analysis import models
except ModuleNotFoundError:  # source checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from analysis import models

DATA = Path(__file__).parent / "data" / "cdnow_summary_with_transactions.csv"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """Published CDNOW sample (2,357 customers, weeks), in the kit's column vocabulary."""
    df = pd.read_csv(DATA, dtype={"ID": str})
    df = df.rename(columns={"ID": "customer_id", "x": "frequency", "t_x": "recency", "zbar": "monetary_value"})
    return df.set_index("customer_id")


@pytest.fixture(scope="module")
def fitted(cdnow) -> dict[str, models.FittedModel]:
    return models.fit_models(cdnow, time_unit="W")


@pytest.fixture(scope="module")
def gamma_gamma(cdnow) -> models.GammaGammaFit:
    return models.fit_gamma_gamma(cdnow)


# --- literature values (CDNOW sample) ----------------------------------------------------


def test_bgnbd_cdnow_published(fitted):
    # FHL (2005a), section 7 / note 004: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4
    m = fitted["bgnbd"]
    assert [round(m.params[k], 3) for k in ("r", "alpha", "a", "b")] == [0.243, 4.414, 0.793, 2.426]
    assert round(m.loglik, 1) == -9582.4
    assert m.n_customers == 2357
    assert m.aic == pytest.approx(2 * 4 + 2 * 9582.43, abs=0.05)
    assert m.bic == pytest.approx(4 * math.log(2357) + 2 * 9582.43, abs=0.05)


def test_pareto_cdnow_published(fitted):
    # Fader & Hardie (2005) note 009 / FHL (2005a): r = 0.553, alpha = 10.578, s = 0.606, beta = 11.669, LL = -9595.0
    m = fitted["pareto"]
    for k, v in {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}.items():
        assert m.params[k] == pytest.approx(v, abs=0.01), k
    assert round(m.loglik, 1) == -9595.0


def test_mbgnbd_cdnow_published(fitted):
    # Batislam et al. (2007) model on CDNOW: r = 0.525, alpha = 6.183, a = 0.891, b = 1.614
    m = fitted["mbgnbd"]
    assert [round(m.params[k], 3) for k in ("r", "alpha", "a", "b")] == [0.525, 6.183, 0.891, 1.614]


def test_gamma_gamma_cdnow_published(gamma_gamma):
    # Fader & Hardie (2013), note 025: p = 6.25, q = 3.74, gamma = 15.44 on the 946 repeat customers
    assert gamma_gamma.n_customers == 946
    # The published figures are Excel Solver output on this file's 2-decimal spends; the exact optimum of the
    # likelihood here (confirmed by a separate Nelder-Mead run) is gamma = 15.4477, so allow 0.01.
    for k, v in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert gamma_gamma.params[k] == pytest.approx(v, abs=0.01), k
    assert set(gamma_gamma.correlation) == {"pearson", "spearman"}


def test_bgnbd_conditional_expectation_published(fitted):
    # FHL (2005a), section 5: customer with x = 2, t_x = 30.43, T = 38.86 -> 1.226 purchases in the next 39 weeks
    value = fitted["bgnbd"].conditional_expected_number_of_purchases_up_to_time(39, 2, 30.43, 38.86)
    assert round(float(value), 3) == 1.226


# --- log-likelihoods against direct integration of the model definitions -------------------


def _gamma_pdf(x, shape, rate):
    return stats.gamma.pdf(x, shape, scale=1.0 / rate)


def _gamma_moment(x, t, r, alpha):
    """E[lambda^x exp(-lambda t)] for lambda ~ Gamma(r, rate alpha) = G(r+x)/G(r) alpha^r / (alpha+t)^(r+x)."""
    return math.exp(math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha) - (r + x) * math.log(alpha + t))


@pytest.mark.parametrize("x, tx, T", [(2, 30.43, 38.86), (0, 0.0, 38.86), (5, 10.0, 30.0)])
def test_bgnbd_loglik_matches_integration(x, tx, T):
    # L = E_{lambda,p}[(1-p)^x lambda^x e^{-lambda T} + [x>0] p (1-p)^(x-1) lambda^x e^{-lambda t_x}]  (FHL 2005a eq. 3)
    # lambda integrated with the gamma moment above, p ~ Beta(a, b) by quadrature.
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    e_T, e_tx = _gamma_moment(x, T, r, alpha), _gamma_moment(x, tx, r, alpha)

    def integrand(p):
        val = (1 - p) ** x * e_T + (p * (1 - p) ** (x - 1) * e_tx if x > 0 else 0.0)
        return val * stats.beta.pdf(p, a, b)

    expected = math.log(integrate.quad(integrand, 0, 1, epsabs=0, epsrel=1e-11, limit=200)[0])
    got = models.bgnbd_log_likelihood({"r": r, "alpha": alpha, "a": a, "b": b}, x, tx, T)
    assert float(got) == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize("x, tx, T", [(2, 30.43, 38.86), (0, 0.0, 38.86), (5, 10.0, 30.0)])
def test_mbgnbd_loglik_matches_integration(x, tx, T):
    # L = E[(1-p)^(x+1) lambda^x e^{-lambda T} + p (1-p)^x lambda^x e^{-lambda t_x}]  (Batislam et al. 2007)
    r, alpha, a, b = 0.525, 6.183, 0.891, 1.614
    e_T, e_tx = _gamma_moment(x, T, r, alpha), _gamma_moment(x, tx, r, alpha)

    def integrand(p):
        return ((1 - p) ** (x + 1) * e_T + p * (1 - p) ** x * e_tx) * stats.beta.pdf(p, a, b)

    expected = math.log(integrate.quad(integrand, 0, 1, epsabs=0, epsrel=1e-11, limit=200)[0])
    got = models.mbgnbd_log_likelihood({"r": r, "alpha": alpha, "a": a, "b": b}, x, tx, T)
    assert float(got) == pytest.approx(expected, abs=1e-7)


@pytest.mark.parametrize("params", [(0.553, 10.578, 0.606, 11.669), (0.553, 11.669, 0.606, 10.578)])
def test_pareto_loglik_matches_integration(params):
    # Given lambda, mu (SMC 1987; note 009 eq. 4):
    # L = lambda^x e^{-(lambda+mu)T} + lambda^x mu/(lambda+mu) [e^{-(lambda+mu)t_x} - e^{-(lambda+mu)T}]
    r, alpha, s, beta = params
    x, tx, T = 2, 30.43, 38.86

    def inner(lam, mu):
        k = lam + mu
        val = lam**x * math.exp(-k * T) + lam**x * mu / k * (math.exp(-k * tx) - math.exp(-k * T))
        return val * _gamma_pdf(lam, r, alpha) * _gamma_pdf(mu, s, beta)

    mu_int = lambda lam: integrate.quad(lambda mu: inner(lam, mu), 0, np.inf, limit=200)[0]  # noqa: E731
    expected = math.log(integrate.quad(mu_int, 0, np.inf, limit=200)[0])
    got = models.pareto_nbd_log_likelihood(dict(zip(("r", "alpha", "s", "beta"), params)), x, tx, T)
    assert float(got) == pytest.approx(expected, abs=1e-5)


def test_gamma_gamma_loglik_matches_integration():
    # mbar | nu ~ Gamma(shape p x, rate x nu); nu ~ Gamma(shape q, rate v)  (note 025, section 2)
    p, q, v, x, m = 6.25, 3.74, 15.44, 3, 40.0
    dens = integrate.quad(lambda nu: _gamma_pdf(m, p * x, x * nu) * _gamma_pdf(nu, q, v), 0, np.inf, limit=200)[0]
    got = models.gamma_gamma_log_likelihood({"p": p, "q": q, "v": v}, x, m)
    assert float(got) == pytest.approx(math.log(dens), abs=1e-6)


# --- predictions against lifetimes (independent implementation) ----------------------------


@pytest.mark.parametrize("name", models.COMPARED_BY_DEFAULT)
def test_predictions_match_lifetimes(cdnow, fitted, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

        cls = {"bgnbd": BetaGeoFitter, "pareto": ParetoNBDFitter, "mbgnbd": ModifiedBetaGeoFitter}[name]
        ref = cls()
        ref.params_ = pd.Series(fitted[name].params)
        x, tx, T = (cdnow[c].to_numpy() for c in ("frequency", "recency", "T"))
        m = fitted[name]
        np.testing.assert_allclose(m.p_alive(x, tx, T), ref.conditional_probability_alive(x, tx, T), rtol=1e-9)
        for t in (1.0, 39.0, 150.0):
            np.testing.assert_allclose(
                m.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T),
                ref.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T),
                rtol=1e-8,
            )
            assert float(m.expected_number_of_purchases_up_to_time(t)) == pytest.approx(
                float(ref.expected_number_of_purchases_up_to_time(t)), rel=1e-9
            )


@pytest.mark.parametrize("name", ["bgnbd", "mbgnbd"])
def test_standard_errors_match_lifetimes_hessian(cdnow, fitted, name):
    # lifetimes' variance = theta^2 * inv(autograd Hessian of the mean NLL) / n (delta method on the log scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter

        cls = BetaGeoFitter if name == "bgnbd" else ModifiedBetaGeoFitter
        ref = cls().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    m = fitted[name]
    se = np.array([m.params[k] for k in ("r", "alpha", "a", "b")]) * np.sqrt(np.diag(m.cov_log))
    np.testing.assert_allclose(se, ref.standard_errors_[["r", "alpha", "a", "b"]].to_numpy(), rtol=2e-3)
    for k, (lo, hi) in m.ci.items():
        assert lo < m.params[k] < hi


# --- Pareto/NBD numerics for heavy buyers --------------------------------------------------

PARETO = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}


def _pareto_independent(x, tx, T, t, params):
    """P(alive) and E[X(T,T+t)|...] from note 009 eqs. (34), (41), with the dropout integral by quadrature."""
    r, alpha, s, beta = (params[k] for k in ("r", "alpha", "s", "beta"))
    log_alive = -(r + x) * math.log(alpha + T) - s * math.log(beta + T)
    if tx < T:
        ref = -(r + x) * math.log(alpha + tx) - (s + 1) * math.log(beta + tx)
        f = lambda u: math.exp(-(r + x) * math.log(alpha + u) - (s + 1) * math.log(beta + u) - ref)  # noqa: E731
        gap = integrate.quad(f, tx, T, epsabs=0, epsrel=1e-12, limit=500)[0]
        log_dead = math.log(s) + ref + math.log(gap)
    else:
        log_dead = -math.inf
    pa = 1.0 / (1.0 + math.exp(log_dead - log_alive))
    alive_part = (r + x) * (beta + T) / ((alpha + T) * (s - 1)) * (1 - ((beta + T) / (beta + T + t)) ** (s - 1))
    return pa, pa * alive_part


@pytest.mark.parametrize("x, tx, T", [(132, 200.0, 200.0), (132, 199.0, 200.0), (60, 180.0, 200.0), (132, 150.0, 200.0)])
@pytest.mark.parametrize("swap", [False, True])
def test_pareto_heavy_buyers_are_finite(x, tx, T, swap):
    params = dict(PARETO)
    if swap:  # exercise the alpha < beta branch too
        params["alpha"], params["beta"] = params["beta"], params["alpha"]
    pa = float(models.p_alive("pareto", params, x, tx, T))
    ce = float(models.conditional_expected_purchases("pareto", params, 39.0, x, tx, T))
    assert 0.0 <= pa <= 1.0
    assert np.isfinite(ce) and ce > 0
    pa_ref, ce_ref = _pareto_independent(x, tx, T, 39.0, params)
    assert pa == pytest.approx(pa_ref, rel=1e-6)
    assert ce == pytest.approx(ce_ref, rel=1e-6)
    assert np.isfinite(models.pareto_nbd_log_likelihood(params, x, tx, T))


def test_pareto_falls_back_to_quadrature_when_hyp2f1_fails(monkeypatch):
    # scipy >= 1.16 can return NaN from hyp2f1 for heavy buyers; simulate that and check the fallback
    monkeypatch.setattr(models.pareto_nbd, "hyp2f1", lambda *args: np.full(np.broadcast(*args).shape, np.nan))
    for x, tx, T in [(132, 150.0, 200.0), (132, 200.0, 200.0), (2, 30.43, 38.86)]:
        pa = float(models.p_alive("pareto", PARETO, x, tx, T))
        ce = float(models.conditional_expected_purchases("pareto", PARETO, 39.0, x, tx, T))
        pa_ref, ce_ref = _pareto_independent(x, tx, T, 39.0, PARETO)
        assert pa == pytest.approx(pa_ref, rel=1e-6)
        assert ce == pytest.approx(ce_ref, rel=1e-6)


def test_pareto_recency_equals_T_is_alive_for_sure():
    # t_x = T: the customer bought at T, so P(alive) = 1 and E = (r+x)(beta+T)/((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]
    r, alpha, s, beta = PARETO.values()
    x, T, t = 132, 200.0, 39.0
    by_hand = (r + x) * (beta + T) / ((alpha + T) * (s - 1)) * (1 - ((beta + T) / (beta + T + t)) ** (s - 1))
    assert float(models.p_alive("pareto", PARETO, x, T, T)) == 1.0
    assert float(models.conditional_expected_purchases("pareto", PARETO, t, x, T, T)) == pytest.approx(by_hand, rel=1e-12)


# --- parameter recovery on simulated data --------------------------------------------------

TRUE_BG = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
TRUE_GG = {"p": 6.0, "q": 4.0, "v": 15.0}


def simulate_bgnbd(n: int, seed: int) -> pd.DataFrame:
    """BG/NBD customers (FHL 2005a, section 3) with Gamma-Gamma spends (note 025), simulated exactly.

    lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b); the customer drops out after the D-th repeat
    purchase, D ~ Geometric(p); N ~ Poisson(lambda T) purchase events in (0, T]; x = min(N, D) and,
    given N, the x-th event time is T * Beta(x, N - x + 1) (order statistic of uniforms).
    """
    rng = np.random.default_rng(seed)
    T = rng.uniform(39, 52, n)
    lam = rng.gamma(TRUE_BG["r"], 1 / TRUE_BG["alpha"], n)
    p = np.clip(rng.beta(TRUE_BG["a"], TRUE_BG["b"], n), 1e-12, 1)
    N = rng.poisson(lam * T)
    D = rng.geometric(p)
    x = np.minimum(N, D)
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(N - x + 1, 1)), 0.0)
    nu = rng.gamma(TRUE_GG["q"], 1 / TRUE_GG["v"], n)
    mbar = np.where(x > 0, rng.gamma(TRUE_GG["p"] * np.maximum(x, 1), 1 / (np.maximum(x, 1) * nu)), 0.0)
    idx = pd.Index([f"s{seed}-{i}" for i in range(n)], name="customer_id")
    return pd.DataFrame({"frequency": x.astype(float), "recency": tx, "T": T, "monetary_value": mbar}, index=idx)


def test_parameter_recovery_bgnbd_and_gamma_gamma():
    # 20 fixed seeds, 5,000 customers each: the truth must be inside the 95% interval in at least 16 of 20
    # fits per parameter (P[Binomial(20, 0.95) < 16] = 0.3%). Five seeds are too few for a stable check:
    # seeds 11-15 happened to cover a = 0.8 only twice, while a 40-seed run covered each parameter 37-40 times.
    seeds = range(1000, 1020)
    inside_bg = {k: 0 for k in TRUE_BG}
    inside_gg = {k: 0 for k in TRUE_GG}
    for seed in seeds:
        data = simulate_bgnbd(5000, seed)
        bg = models.fit_model(data, "bgnbd", time_unit="W")
        gg = models.fit_gamma_gamma(data)
        for k, v in TRUE_BG.items():
            inside_bg[k] += bg.ci[k][0] <= v <= bg.ci[k][1]
        for k, v in TRUE_GG.items():
            inside_gg[k] += gg.ci[k][0] <= v <= gg.ci[k][1]
    assert all(c >= 16 for c in inside_bg.values()), inside_bg
    assert all(c >= 16 for c in inside_gg.values()), inside_gg


# --- errors ----------------------------------------------------------------------------


def test_gamma_gamma_refuses_q_at_most_one():
    # nu ~ Gamma(q = 0.7): the population mean spend p v / (q - 1) does not exist
    rng = np.random.default_rng(3)
    n = 3000
    x = rng.integers(1, 6, n).astype(float)
    nu = rng.gamma(0.7, 1 / 10.0, n)
    mbar = rng.gamma(5.0 * x, 1 / (x * nu))
    data = pd.DataFrame(
        {"frequency": x, "recency": x, "T": x + 1, "monetary_value": mbar},
        index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"),
    )
    with pytest.raises(models.ModelFitError, match=r"q = 0\.\d+ is <= 1.*infinite") as err:
        models.fit_gamma_gamma(data)
    assert isinstance(err.value, ValueError)
    assert "What to try" in str(err.value) and "extreme spends" in str(err.value)


def test_model_fit_error_is_informative():
    # 51 customers who never came back: no model's purchase or dropout process is identified
    n = 51
    data = pd.DataFrame(
        {"frequency": [0.0] * n, "recency": [0.0] * n, "T": np.linspace(10, 40, n)},
        index=pd.Index([str(i) for i in range(n)], name="customer_id"),
    )
    for name in models.MODEL_NAMES:
        with pytest.raises(models.ModelFitError) as err:
            models.fit_model(data, name, time_unit="W")
        msg = str(err.value)
        assert isinstance(err.value, ValueError)
        for hint in ("penalizer", "time unit", "outlier", "calibration period"):
            assert hint in msg, (name, msg)


def test_missing_column_and_time_unit_are_reported(cdnow):
    with pytest.raises(ValueError, match="Required column recency missing"):
        models.fit_model(cdnow.drop(columns="recency"), time_unit="W")
    with pytest.raises(ValueError, match="time unit"):
        models.fit_model(cdnow)
    bad = cdnow.copy()
    bad.loc[bad.index[0], "recency"] = 100.0
    with pytest.raises(ValueError, match="recency > T"):
        models.fit_model(bad, time_unit="W")


# --- selection, purity -----------------------------------------------------------------


def test_select_model(fitted):
    errors = {"bgnbd": 0.30, "pareto": 0.25, "mbgnbd": 0.40}
    assert models.select_model(fitted, errors, "auto").name == "pareto"
    assert models.select_model(fitted, errors, "mbgnbd").name == "mbgnbd"
    # auto chooses among the models whose P(alive) falls for silent one-time buyers ...
    assert models.select_model(fitted, {"bgnbd": 0.1, "pareto": 0.3, "mbgnbd": 0.2}, "auto").name == "mbgnbd"
    assert models.select_model(fitted, {"bgnbd": 0.2, "pareto": 0.2, "mbgnbd": 0.2}, "auto").name == "pareto"
    # ... and takes BG/NBD only when neither of them was fitted
    assert models.select_model({"bgnbd": fitted["bgnbd"]}, {"bgnbd": 0.2}, "auto").name == "bgnbd"
    with pytest.raises(ValueError, match="must be one of"):
        models.select_model(fitted, errors, "best")
    with pytest.raises(ValueError, match="not fitted"):
        models.select_model({"bgnbd": fitted["bgnbd"]}, errors, "pareto")


def test_fit_leaves_warning_filters_alone(cdnow):
    before = list(warnings.filters)
    models.fit_model(cdnow, "bgnbd", time_unit="W")
    models.fit_gamma_gamma(cdnow)
    assert list(warnings.filters) == before


def test_import_has_no_side_effects():
    # numpy, scipy and pandas register their own filters when imported; import them first
    code = (
        "import sys, warnings, numpy, pandas, scipy.special, scipy.stats, scipy.integrate, scipy.optimize; "
        "f = list(warnings.filters); "
        "import analysis.models, analysis.scoring.clv, analysis.scoring.holdout; "
        "assert 'lifetimes' not in sys.modules; assert list(warnings.filters) == f"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {src!r}); " + code], check=True)


@pytest.mark.parametrize("unit", [1e-12, 1e-3, 1e6, 1e12])
def test_gamma_gamma_does_not_depend_on_the_currency_unit(cdnow, unit):
    # the Gamma-Gamma likelihood is equivariant: amounts c*m give the same p, q and c*v (FHL 2005b, eq. 1)
    base = models.fit_gamma_gamma(cdnow)
    scaled = cdnow.assign(monetary_value=cdnow["monetary_value"] * unit)
    fit = models.fit_gamma_gamma(scaled)
    assert fit.params["p"] == pytest.approx(base.params["p"], rel=1e-6)
    assert fit.params["q"] == pytest.approx(base.params["q"], rel=1e-6)
    assert fit.params["v"] == pytest.approx(base.params["v"] * unit, rel=1e-6)


def _consumers_and_wholesale(seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    # 300 consumers simulated from the Gamma-Gamma model (CDNOW-like parameters) and 12 wholesale accounts
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 8, 300).astype(float)
    nu = rng.gamma(3.7, 1 / 15.4, 300)
    m = np.array([rng.gamma(6.25 * xi, 1 / (nu_i * xi)) for xi, nu_i in zip(x, nu)])
    consumers = pd.DataFrame({"frequency": x, "monetary_value": m},
                             index=pd.Index([f"c{i}" for i in range(300)], name="customer_id"))
    wholesale = pd.DataFrame({"frequency": rng.integers(5, 40, 12).astype(float),
                              "monetary_value": rng.uniform(2e4, 9e4, 12)},
                             index=pd.Index([f"w{i}" for i in range(12)], name="customer_id"))
    return consumers, wholesale


def test_gamma_gamma_advice_works_for_a_mix_of_consumers_and_wholesale_accounts():
    consumers, wholesale = _consumers_and_wholesale()
    with pytest.raises(models.ModelFitError, match="implausibly large") as err:
        models.fit_gamma_gamma(pd.concat([consumers, wholesale]))
    assert "look for and remove or cap extreme spends" in str(err.value)
    # following the advice (the wholesale accounts removed) changes the outcome: a fit near the truth
    fit = models.fit_gamma_gamma(consumers)
    assert 2 < fit.params["p"] < 15 and 1.5 < fit.params["q"] < 10


def test_model_stage_pieces_side_by_side_keep_order_and_hand_back_failures():
    """The model stage fits independent models side by side on this machine's engine and one after the other on
    Spark's: either way each piece's result or exception comes back in the order given, and every piece runs."""
    import threading

    from analysis.scoring.modelstage import _side_by_side

    class Local:
        parallel = True

    class Cluster:
        parallel = False

    def piece(i):
        if i == 2:
            raise models.ModelFitError("two does not fit")
        if i == 3:
            raise KeyError("a fault")
        return i * 10, threading.current_thread().name

    for engine in (Local(), Cluster()):
        out = _side_by_side(engine, [lambda i=i: piece(i) for i in range(5)])
        assert [r[0] if r else None for r, _ in out] == [0, 10, None, None, 40]
        assert isinstance(out[2][1], models.ModelFitError) and isinstance(out[3][1], KeyError)
        names = {r[1] for r, _ in out if r}
        assert all(n.startswith("model-stage") for n in names) if isinstance(engine, Local) else names == {"MainThread"}
