"""BG/BB for discrete-time data: Fader, Hardie & Shang (2010), "Customer-base analysis in a discrete-time
noncontractual setting", *Marketing Science* 29(6), 1086-1108 (eq. numbers below are theirs).

Some businesses give a customer one chance to buy per period: a yearly donation drive, an annual event, a
renewal date. Then a customer's history is ``(x, t_x, n)``: of the ``n`` opportunities after the first
purchase they used ``x``, the last one at opportunity ``t_x`` (0 without repeat purchases). While alive, a
customer buys at each opportunity with probability p ~ beta(alpha, beta); before each opportunity an alive
customer drops out with probability theta ~ beta(gamma, delta).

This is the library model (the notebook API): :func:`summary_by_opportunities` makes the histories from a
transaction log, :func:`fit` estimates the parameters on distinct histories with counts, and
:class:`BGBBFit` gives P(alive), expected transactions, the distribution of transactions and DERT. On the
report, ``models.discrete`` adds it to page 02 next to the continuous models (:mod:`analysis.scoring.discrete`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import betaln, gammaln, hyp2f1, logsumexp

from analysis.errors import ModelFitError
from analysis.models.base import param_values
from analysis.models.fitting import _covariance_and_ci, _minimize, _weighted_rows

PARAMS: tuple[str, ...] = ("alpha", "beta", "gamma", "delta")
LABEL = "BG/BB"

_PERIODS = {"Y": "year", "Q": "quarter", "M": "month", "W": "week"}


def _history(frequency, recency, n) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, tx, n = (np.asarray(v, dtype=float) for v in (frequency, recency, n))
    bad = (x < 0) | (x != np.round(x)) | (tx < 0) | (tx != np.round(tx)) | (n != np.round(n)) | (tx > n) | (x > tx) \
        | ((x == 0) & (tx != 0)) | ((x > 0) & (tx < 1))
    if np.any(bad):
        i = int(np.flatnonzero(np.broadcast_to(bad, np.broadcast(x, tx, n).shape))[0])
        row = [float(np.broadcast_to(v, bad.shape).ravel()[i]) for v in (x, tx, n)]
        raise ValueError(f"{int(np.sum(bad))} BG/BB histories are impossible (need whole numbers with 0 <= x <= t_x"
                         f" <= n, and t_x = 0 exactly when x = 0), e.g. x, t_x, n = {row}")
    return x, tx, n


def _log_terms(params, x, tx, n) -> tuple[np.ndarray, np.ndarray]:
    """The two parts of ln L: alive through all n opportunities, and the log-sum over the opportunity after
    which the customer dropped out (eq. 5: i = 0 .. n - t_x - 1), evaluated for the largest gap at once."""
    a, b, g, d = param_values("bgbb", PARAMS, params)
    alive = betaln(a + x, b + n - x) - betaln(a, b) + betaln(g, d + n) - betaln(g, d)
    gaps = (n - tx).astype(int)
    i = np.arange(max(int(gaps.max(initial=0)), 1))[None, :]
    terms = (betaln(a + x[:, None], b + tx[:, None] - x[:, None] + i) - betaln(a, b)
             + betaln(g + 1.0, d + tx[:, None] + i) - betaln(g, d))
    terms = np.where(i < gaps[:, None], terms, -np.inf)
    return alive, logsumexp(terms, axis=1)


def log_likelihood(params: Mapping[str, float] | Sequence[float], frequency, recency, n) -> np.ndarray:
    """ln L(alpha, beta, gamma, delta | x, t_x, n) of each history (FHS 2010, eq. 5)::

        L = B(a+x, b+n-x)/B(a, b) B(g, d+n)/B(g, d)
            + sum_{i=0}^{n-t_x-1} B(a+x, b+t_x-x+i)/B(a, b) B(g+1, d+t_x+i)/B(g, d)
    """
    x, tx, n = (np.atleast_1d(v) for v in _history(frequency, recency, n))
    alive, dead = _log_terms(params, x, tx, n)
    return np.logaddexp(alive, dead)


def summary_by_opportunities(transactions: pd.DataFrame, period: str = "Y", observation_end=None,
                             customer_col: str = "customer_id", date_col: str = "date") -> pd.DataFrame:
    """Each customer's ``(frequency, recency, n)`` in opportunities of one ``period`` (``"Y"``, ``"Q"``, ``"M"``
    or ``"W"``): opportunity 0 is the period of the first purchase; ``n`` counts the periods after it up to and
    including the one holding ``observation_end`` (default: the last purchase date); ``frequency`` the periods
    after the first with at least one purchase (several purchases in one period count once), ``recency`` the
    last of them (0 without). Indexed by ``customer_id``; purchases after ``observation_end`` are left out."""
    if period not in _PERIODS:
        raise ValueError(f"period must be one of {list(_PERIODS)} (year, quarter, month, week), not {period!r}")
    for col in (customer_col, date_col):
        if col not in transactions.columns:
            raise ValueError(f"Column {col} missing from the transactions (has: {list(transactions.columns)})")
    dates = pd.to_datetime(transactions[date_col])
    end = pd.Timestamp(observation_end) if observation_end is not None else dates.max()
    keep = dates <= end
    if not keep.any():
        raise ValueError(f"No purchase on or before {end.date()}")
    freq = "W-SUN" if period == "W" else period
    index = dates[keep].dt.to_period(freq).astype("int64")  # consecutive whole numbers per period
    last = int(pd.Period(end, freq=freq).ordinal)
    frame = pd.DataFrame({"customer_id": transactions.loc[keep, customer_col].to_numpy(), "k": index.to_numpy()})
    frame = frame.drop_duplicates()
    first = frame.groupby("customer_id")["k"].transform("min")
    frame["k"] = frame["k"] - first
    frame["repeat"] = frame["k"] > 0
    frame["first"] = first
    grouped = frame.groupby("customer_id")
    out = pd.DataFrame({"frequency": grouped["repeat"].sum(), "recency": grouped["k"].max()})
    out["n"] = last - grouped["first"].first()
    return out[["frequency", "recency", "n"]].astype(int)


@dataclass(frozen=True, eq=False)
class BGBBFit:
    """A fitted BG/BB model: the estimates (``alpha, beta, gamma, delta``), the sample log-likelihood in the
    paper's sense, AIC/BIC, the customers it was fitted on and the intervals of the estimates."""

    params: dict[str, float]
    loglik: float
    aic: float
    bic: float
    n_customers: int
    ci: dict[str, tuple[float, float]]
    cov_log: np.ndarray
    ci_level: float = 0.95
    label: str = LABEL

    def p_alive(self, frequency, recency, n, m: int = 1) -> np.ndarray:
        """P(alive at opportunity n + m | x, t_x, n): still a customer m opportunities after the last one seen
        (FHS 2010, eq. 11 for m = 1; lifetimes' ``conditional_probability_alive(m)``)."""
        x, tx, n = (np.atleast_1d(v) for v in _history(frequency, recency, n))
        a, b, g, d = (self.params[k] for k in PARAMS)
        alive, dead = _log_terms(self.params, x, tx, n)
        log_alive_m = betaln(a + x, b + n - x) - betaln(a, b) + betaln(g, d + n + m) - betaln(g, d)
        return np.exp(log_alive_m - np.logaddexp(alive, dead))

    def expected_transactions(self, n) -> np.ndarray:
        """E[X(n)]: expected transactions in the first ``n`` opportunities of a new customer (eq. 7)."""
        a, b, g, d = (self.params[k] for k in PARAMS)
        n = np.asarray(n, dtype=float)
        ratio = np.exp(gammaln(g + d) - gammaln(g + d + n) + gammaln(1.0 + d + n) - gammaln(1.0 + d))
        return a / (a + b) * d / (g - 1.0) * (1.0 - ratio)

    def conditional_expected_transactions(self, n_star, frequency, recency, n) -> np.ndarray:
        """E[X(n, n + n*) | x, t_x, n]: expected transactions in the next ``n_star`` opportunities (eq. 13)."""
        x, tx, n = (np.atleast_1d(v) for v in _history(frequency, recency, n))
        a, b, g, d = (self.params[k] for k in PARAMS)
        alive, dead = _log_terms(self.params, x, tx, n)
        log_head = betaln(a + x + 1.0, b + n - x) - betaln(a, b) + gammaln(g + d) - gammaln(1.0 + d)
        now = np.exp(gammaln(1.0 + d + n) - gammaln(g + d + n))
        later = np.exp(gammaln(1.0 + d + n + n_star) - gammaln(g + d + n + n_star))
        # d/(g-1) and (now - later) are both negative when gamma < 1
        return np.exp(log_head - np.logaddexp(alive, dead)) * (d / (g - 1.0)) * (now - later)

    def transactions_pmf(self, n: int) -> np.ndarray:
        """P(X(n) = x) for x = 0 .. n: how many of the first ``n`` opportunities a new customer uses (eq. 8)."""
        a, b, g, d = (self.params[k] for k in PARAMS)
        n = int(n)
        x = np.arange(n + 1, dtype=float)
        log_choose = gammaln(n + 1.0) - gammaln(x + 1.0) - gammaln(n - x + 1.0)
        alive = log_choose + betaln(a + x, b + n - x) - betaln(a, b) + betaln(g, d + n) - betaln(g, d)
        i = np.arange(n, dtype=float)[None, :]
        xi = x[:, None]
        with np.errstate(invalid="ignore"):
            terms = (gammaln(i + 1.0) - gammaln(xi + 1.0) - gammaln(i - xi + 1.0) + betaln(a + xi, b + i - xi)
                     - betaln(a, b) + betaln(g + 1.0, d + i) - betaln(g, d))
        terms = np.where(i >= xi, terms, -np.inf)
        return np.exp(np.logaddexp(alive, logsumexp(terms, axis=1)))

    def dert(self, discount_rate: float, frequency, recency, n) -> np.ndarray:
        """Discounted expected residual transactions at the per-opportunity ``discount_rate`` d (FHS 2010,
        eq. 14): the transactions from opportunity n + 1 on, each discounted by (1 + d)^-(its distance from
        n)::

            DERT = B(a+x+1, b+n-x)/B(a, b) B(g, d+n+1)/(B(g, d)(1+d)) 2F1(1, delta+n+1; g+delta+n+1; 1/(1+d)) / L
        """
        x, tx, n = (np.atleast_1d(v) for v in _history(frequency, recency, n))
        if not discount_rate > 0:
            raise ValueError(f"discount_rate must be > 0 (per opportunity), got {discount_rate}")
        a, b, g, d = (self.params[k] for k in PARAMS)
        alive, dead = _log_terms(self.params, x, tx, n)
        log_head = (betaln(a + x + 1.0, b + n - x) - betaln(a, b) + betaln(g, d + n + 1.0) - betaln(g, d)
                    - math.log1p(discount_rate))
        series = hyp2f1(1.0, d + n + 1.0, g + d + n + 1.0, 1.0 / (1.0 + discount_rate))
        return np.exp(log_head - np.logaddexp(alive, dead)) * series


def fit(summary: pd.DataFrame, *, weights: str | None = None, ci_level: float = 0.95) -> BGBBFit:
    """Maximum likelihood of BG/BB on the ``frequency, recency, n`` histories of ``summary`` (one row per
    customer, or distinct rows with a count column ``weights``), by BFGS on the log-parameters from 1 each;
    the covariance is the inverse Hessian of the log-likelihood (central differences)."""
    (x, tx, n), w = _weighted_rows(summary, ["frequency", "recency", "n"], weights, what="BG/BB summary")
    _history(x, tx, n)
    if len(w) == 0 or not np.any(x > 0):
        raise ModelFitError("BG/BB: no customer used a second opportunity, so nothing about repeat buying can be"
                            " learnt. Use a longer observation period.")
    total = float(w.sum())

    def nll(log_theta: np.ndarray) -> float:
        return -float(w @ np.logaddexp(*_log_terms(np.exp(log_theta), x, tx, n)))

    def objective(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
        value = nll(log_theta) / total
        h = 1e-6
        grad = np.array([(nll(log_theta + h * e) - nll(log_theta - h * e)) / (2 * h * total) for e in np.eye(4)])
        return (value, grad) if np.isfinite(value) else (np.inf, np.zeros(4))

    res = _minimize(objective, np.zeros(4))
    log_theta = np.asarray(res.x, dtype=float)
    est = {k: float(v) for k, v in zip(PARAMS, np.exp(log_theta))}
    if not all(np.isfinite(v) and 1e-6 < v < 1e6 for v in est.values()):
        raise ModelFitError(f"BG/BB: the estimates are not usable ({est}); the histories do not pin the model down.")
    loglik = -nll(log_theta)
    with np.errstate(all="ignore"):
        cov, ci = _covariance_and_ci(LABEL, PARAMS, log_theta, nll, ci_level, "opportunities", check_stationary=True)
    customers = int(total)
    return BGBBFit(params=est, loglik=loglik, aic=8 - 2 * loglik, bic=4 * math.log(customers) - 2 * loglik,
                   n_customers=customers, ci=ci, cov_log=cov, ci_level=ci_level)


__all__ = ["BGBBFit", "PARAMS", "fit", "log_likelihood", "summary_by_opportunities"]
