"""The Gamma-Gamma model of spend per transaction: Fader, Hardie & Lee (2005b), "RFM and CLV: using
iso-value curves for customer base analysis", *Journal of Marketing Research* 42(4), 415-430, and Fader &
Hardie (2013), "The Gamma-Gamma model of monetary value" (note 025)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import gammaln

from analysis.reporting import fmt
from analysis.errors import ModelFitError
from analysis.models.base import _validate_summary, param_values
from analysis.models.fitting import _by_value, _covariance_and_ci, _minimize, _weighted_rows

GAMMA_GAMMA_PARAMS: tuple[str, ...] = ("p", "q", "v")

CORRELATION_THRESHOLD = 0.3

_log = logging.getLogger("analysis.models")


def gamma_gamma_log_likelihood(
    params: Mapping[str, float] | Sequence[float], frequency: np.ndarray, monetary_value: np.ndarray
) -> np.ndarray:
    """Individual Gamma-Gamma log-likelihood of the mean repeat spend.

    Fader & Hardie (2013), note 025, eq. (1a) (also FHL 2005b, JMR)::

        f(mbar | p, q, v; x) = G(px+q) / (G(px) G(q)) * v^q mbar^(px-1) x^(px) / (v + x mbar)^(px+q)

    Parameters
    ----------
    params
        ``{"p", "q", "v"}`` or a sequence in that order.
    frequency, monetary_value
        x > 0 and mbar > 0 per repeat customer.

    Returns
    -------
    numpy.ndarray
        One log-likelihood per customer.
    """
    p, q, v = param_values("gamma_gamma", GAMMA_GAMMA_PARAMS, params)
    x, m = (np.asarray(a, dtype=float) for a in (frequency, monetary_value))
    px = p * x
    return (
        gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
        + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(v + x * m)
    )


def gamma_gamma_loglik_and_gradient(
    log_params: np.ndarray, frequency: np.ndarray, monetary_value: np.ndarray, weights: np.ndarray,
    *, by_x: tuple | None = None,
) -> tuple[float, np.ndarray]:
    """Weighted sample log-likelihood of the Gamma-Gamma model and its gradient in ``log(p, q, v)``.

    ``sum_i n_i ln f(mbar_i | p, q, v; x_i)`` with f as in :func:`gamma_gamma_log_likelihood`
    (Fader & Hardie 2013, note 025, eq. (1a)). Derivatives::

        d/dp = x [digamma(px+q) - digamma(px) + ln(mbar) + ln(x) - ln(v + x mbar)]
        d/dq = digamma(px+q) - digamma(q) + ln(v) - ln(v + x mbar)
        d/dv = q/v - (px+q)/(v + x mbar)

    Terms in x alone are evaluated per distinct x; only ``ln(v + x mbar)`` is per row.
    ``by_x`` as in :func:`bg_family_loglik_and_gradient`.

    Returns
    -------
    (float, numpy.ndarray)
        The log-likelihood and its gradient with respect to ``log_params`` (3 values).
    """
    from scipy.special import digamma

    p, q, v = np.exp(np.asarray(log_params, dtype=float))
    x, m, n = (np.asarray(a, dtype=float) for a in (frequency, monetary_value, weights))
    ux, _, nx = by_x or _by_value(x, n)
    total = nx.sum()
    px = p * ux
    log_x = np.log(ux)
    nxl = nx @ (ux * log_x)
    log_m = np.log(m)
    log_vxm = np.log(v + x * m)
    ll = (nx @ (gammaln(px + q) - gammaln(px)) + total * (q * math.log(v) - gammaln(q)) + p * (n @ (x * log_m))
          - n @ log_m + p * nxl - n @ ((p * x + q) * log_vxm))
    psi_pxq = digamma(px + q)
    g_p = nx @ (ux * (psi_pxq - digamma(px))) + n @ (x * log_m) + nxl - n @ (x * log_vxm)
    g_q = nx @ psi_pxq + total * (math.log(v) - digamma(q)) - n @ log_vxm
    g_v = total * q / v - n @ ((p * x + q) / (v + x * m))
    return float(ll), np.array([g_p * p, g_q * q, g_v * v])


@dataclass(frozen=True, eq=False)
class GammaGammaFit:
    """A fitted Gamma-Gamma spend model (FHL 2005b; Fader & Hardie 2013, note 025).

    Attributes
    ----------
    params
        ``p, q, v`` (``v`` is the scale parameter gamma of the papers).
    loglik, aic, bic, n_customers, ci, cov_log, ci_level
        As in :class:`FittedModel`; n = repeat customers with positive spend.
    correlation
        ``{"pearson", "spearman"}`` correlation of frequency and monetary_value among
        those customers; the model assumes they are independent.
    correlation_warning
        Plain-language warning when ``|correlation| > threshold``, otherwise ``None``.
    """

    params: dict[str, float]
    loglik: float
    aic: float
    bic: float
    n_customers: int
    ci: dict[str, tuple[float, float]]
    cov_log: np.ndarray
    correlation: dict[str, float]
    correlation_warning: str | None = None
    ci_level: float = 0.95

    @property
    def log_params(self) -> np.ndarray:
        """Log of ``p, q, v``."""
        return np.log(np.array([self.params[k] for k in GAMMA_GAMMA_PARAMS], dtype=float))

    @property
    def share_of_draws_with_infinite_mean(self) -> float:
        """Share of the asymptotic distribution of log(q) at or below log(1): parameter draws of the CLV
        band in which the mean spend p v/(q-1) would be infinite, and which the band leaves out (and
        redraws), so the band assumes q > 1."""
        k = GAMMA_GAMMA_PARAMS.index("q")
        se = math.sqrt(max(float(self.cov_log[k, k]), 0.0))
        log_q = math.log(self.params["q"])
        if se == 0.0:
            return float(log_q <= 0.0)
        return float(stats.norm.cdf(-log_q / se))

    @property
    def population_mean_spend(self) -> float:
        """Mean spend per transaction in the population, ``p v / (q - 1)``."""
        p, q, v = (self.params[k] for k in GAMMA_GAMMA_PARAMS)
        return p * v / (q - 1.0)

    def conditional_expected_average_profit(self, frequency: np.ndarray, monetary_value: np.ndarray) -> np.ndarray:
        """Expected mean spend per transaction; see :func:`expected_average_value`."""
        return expected_average_value(self.params, frequency, monetary_value)


def expected_average_value(
    params: Mapping[str, float] | Sequence, frequency: np.ndarray, monetary_value: np.ndarray
) -> np.ndarray:
    """E[M | p, q, v, mbar, x]: expected mean spend per future transaction.

    FHL (2005b), eq. (5) / note 025, eq. (5)::

        E[M] = (v + mbar x) p / (p x + q - 1)
             = (q-1)/(px+q-1) * p v/(q-1) + p x/(px+q-1) * mbar

    a weighted average of the population mean ``p v/(q-1)`` and the customer's own mean;
    customers with x = 0 get the population mean. Requires q > 1.
    """
    p, q, v = param_values("gamma_gamma", GAMMA_GAMMA_PARAMS, params)
    x = np.asarray(frequency, dtype=float)
    m = np.where(x > 0, np.asarray(monetary_value, dtype=float), 0.0)
    return (v + m * x) * p / (p * x + q - 1.0)


def frequency_spend_correlation(summary: pd.DataFrame) -> dict[str, float]:
    """Pearson and Spearman correlation of frequency and monetary_value among repeat customers.

    The Gamma-Gamma model assumes spend per transaction is independent of the transaction
    process (FHL 2005b, section "Monetary value"); a clear correlation argues against it.
    Customers with ``frequency > 0`` and ``monetary_value > 0`` are used.
    """
    _validate_summary(summary, ["frequency", "monetary_value"])
    rep = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    if len(rep) < 3:
        return {"pearson": float("nan"), "spearman": float("nan")}
    f = rep["frequency"].to_numpy(dtype=float)
    m = rep["monetary_value"].to_numpy(dtype=float)
    return {"pearson": float(stats.pearsonr(f, m)[0]), "spearman": float(stats.spearmanr(f, m)[0])}


def _weighted_correlation(x: np.ndarray, m: np.ndarray, n: np.ndarray) -> dict[str, float]:
    """Pearson and Spearman correlation of rows standing for ``n`` customers each.

    Equal to :func:`frequency_spend_correlation` on the expanded rows: Spearman's rho is
    Pearson's on average ranks, and a value shared by c customers after k smaller ones has
    the average rank k + (c + 1)/2.
    """
    def ranks(v: np.ndarray) -> np.ndarray:
        _, inverse, counts = _by_value(v, n)
        return (np.cumsum(counts) - (counts - 1) / 2)[inverse]

    def pearson(a: np.ndarray, b: np.ndarray) -> float:
        total = n.sum()
        da, db = a - (n @ a) / total, b - (n @ b) / total
        with np.errstate(invalid="ignore", divide="ignore"):
            return float((n @ (da * db)) / math.sqrt((n @ (da * da)) * (n @ (db * db))))

    if n.sum() < 3:
        return {"pearson": float("nan"), "spearman": float("nan")}
    return {"pearson": pearson(x, m), "spearman": pearson(ranks(x), ranks(m))}


def fit_gamma_gamma(
    summary: pd.DataFrame,
    penalizer: float = 0.0,
    *,
    ci_level: float = 0.95,
    correlation_threshold: float = CORRELATION_THRESHOLD,
    weights: str | None = None,
) -> GammaGammaFit:
    """Fit the Gamma-Gamma spend model on repeat customers with positive spend.

    Parameters
    ----------
    summary
        Indexed by ``customer_id`` with ``frequency, monetary_value``; customers with
        ``frequency > 0`` and ``monetary_value > 0`` are used.
    penalizer
        L2 penalizer as in lifetimes' ``GammaGammaFitter``.
    ci_level
        Level of the parameter confidence intervals.
    correlation_threshold
        ``|correlation|`` above which ``correlation_warning`` is set.
    weights
        Name of a column with how many customers each row stands for (see
        :func:`fit_model`); ``None``: one row per customer.

    Returns
    -------
    GammaGammaFit

    Raises
    ------
    ModelFitError
        If the fit fails, or if q <= 1: the population mean spend ``p v/(q-1)`` is then
        infinite (the fitted spend distribution has too heavy a tail), so expected spend and
        CLV are undefined.
    """
    _validate_summary(summary, ["frequency", "monetary_value"], by_customer=weights is None)
    rep = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    advice = (
        "What to try: look for and remove or cap extreme spends (bulk orders, data errors, refunds recorded as"
        " sales) and check the currency and amount columns. (A penalizer does not help here: it pulls q towards"
        " 0, where the mean spend is infinite.)"
    )
    (x, m), n = _weighted_rows(rep, ["frequency", "monetary_value"], weights)
    n_cust = int(n.sum())
    if n_cust < 10:
        raise ModelFitError(
            f"Gamma-Gamma: only {n_cust} repeat customers with positive spend; at least 10 are needed. {advice}"
        )
    _log.info("Gamma-Gamma: fitting on %s distinct (frequency, monetary_value) rows of %s repeat customers",
              f"{len(n):,}", f"{n_cust:,}")

    by_x = _by_value(x, n)
    # The unpenalised maximum is equivariant in the currency unit (amounts c*m give v*c, the same p
    # and q), so the fit runs on amounts divided by their weighted median: amounts in cents, in
    # millions or in a tiny unit all start the optimizer at the same place. A penalty is not
    # equivariant, so with one the amounts are used as they are (as lifetimes does).
    unit = 1.0
    if penalizer == 0:
        order = np.argsort(m)
        unit = float(m[order][np.searchsorted(np.cumsum(n[order]), n.sum() / 2)])
    ms = m / unit

    def objective(lp: np.ndarray) -> tuple[float, np.ndarray]:
        # lifetimes' GammaGammaFitter objective: mean negative log-likelihood + penalizer * sum(params**2)
        ll, g = gamma_gamma_loglik_and_gradient(lp, x, ms, n, by_x=by_x)
        sq = np.exp(2 * lp)
        value, grad = -ll / n_cust + penalizer * sq.sum(), -g / n_cust + 2 * penalizer * sq
        return (value, grad) if np.isfinite(value) else (np.inf, np.zeros_like(lp))

    res = _minimize(objective, np.full(3, 0.1))
    est = {k: float(v) for k, v in zip(GAMMA_GAMMA_PARAMS, np.exp(res.x))}
    est["v"] *= unit
    if not all(np.isfinite(v) and v > 0 for v in est.values()):
        raise ModelFitError(f"Gamma-Gamma: the estimates are not finite positive numbers ({est}). {advice}")
    if est["p"] > 1e4 or est["q"] > 1e4:
        raise ModelFitError(
            f"Gamma-Gamma: the estimate {'p' if est['p'] > 1e4 else 'q'} = {max(est['p'], est['q']):.3g} is"
            " implausibly large: the spends do not look like one population of customers whose order values vary"
            " around their own average (typically a few accounts spend orders of magnitude more than the rest)."
            f" {advice}"
        )
    if est["q"] <= 1:
        raise ModelFitError(
            f"Gamma-Gamma: the estimate q = {est['q']:.3f} is <= 1. The mean spend of the population, p*v/(q-1),"
            " is then infinite (the spend distribution has too heavy a right tail), so expected spend and CLV are"
            f" undefined. {advice}"
        )

    def nll(log_theta: np.ndarray) -> float:
        return -float(np.sum(n * gamma_gamma_log_likelihood(np.exp(log_theta), x, m)))

    log_theta = np.log([est[k] for k in GAMMA_GAMMA_PARAMS])
    loglik = -nll(log_theta)
    with np.errstate(all="ignore"):
        cov, ci = _covariance_and_ci(
            "Gamma-Gamma", GAMMA_GAMMA_PARAMS, log_theta, nll, ci_level, "any", check_stationary=penalizer == 0,
            nll_gradient=lambda lt: -gamma_gamma_loglik_and_gradient(lt, x, m, n, by_x=by_x)[1],
        )
    corr = _weighted_correlation(x, m, n)
    biggest = max(abs(corr["pearson"]), abs(corr["spearman"]))
    warning_text = None
    if np.isfinite(biggest) and biggest > correlation_threshold:
        from analysis.reporting.i18n import say

        warning_text = say(
            "Frequency and average spend are correlated among repeat customers (Pearson {pearson}, Spearman"
            " {spearman}); the Gamma-Gamma model assumes they are independent, so its spend predictions (and CLV)"
            " should be read with caution.", pearson=fmt.current().number(corr["pearson"]),
            spearman=fmt.current().number(corr["spearman"]))
    return GammaGammaFit(
        params=est, loglik=loglik, aic=6 - 2 * loglik, bic=3 * math.log(n_cust) - 2 * loglik, n_customers=n_cust,
        ci=ci, cov_log=cov, correlation=corr, correlation_warning=warning_text, ci_level=ci_level,
    )
