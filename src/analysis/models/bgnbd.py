"""BG/NBD: Fader, Hardie & Lee (2005a), "Counting your customers the easy way: an alternative to the
Pareto/NBD model", *Marketing Science* 24(2), 275-284: eq. (6) (log-likelihood; section 7 and Hardie's note
004), eq. (8) (P(X(t) = x)), eqs. (9)-(10) (expectations) and Hardie's note 021 (P(alive)).

While alive a customer buys at a Poisson rate lambda ~ gamma(r, alpha); after each repeat purchase they drop
out with probability p ~ beta(a, b). The fit maximises lifetimes' ``BetaGeoFitter`` objective with the
analytic gradient :func:`bg_family_loglik_and_gradient`, shared with MBG/NBD (:mod:`analysis.models.mbgnbd`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats
from scipy.special import betaln, expit, gammaln, hyp2f1

from analysis.models.base import TransactionModel, nbd_pmf, param_values
from analysis.models.fitting import _by_value, _minimize, _start

PARAMS: tuple[str, ...] = ("r", "alpha", "a", "b")


def bgnbd_log_likelihood(
    params: Mapping[str, float] | Sequence[float], frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Individual BG/NBD log-likelihood ln L(r, alpha, a, b | x, t_x, T).

    Fader, Hardie & Lee (2005a), eq. (6)::

        L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
            + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))

    evaluated in log space (log-sum-exp of the two terms, cf. Hardie's note 027).

    Parameters
    ----------
    params
        ``{"r", "alpha", "a", "b"}`` or a sequence in that order; arrays broadcast.
    frequency, recency, T
        x, t_x and T per customer (same time unit as ``alpha``).

    Returns
    -------
    numpy.ndarray
        One log-likelihood per customer; the sample log-likelihood is their sum.
    """
    r, alpha, a, b = param_values("bgnbd", PARAMS, params)
    x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    term_alive = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    with np.errstate(invalid="ignore", divide="ignore"):
        term_dead = betaln(a + 1, b + x - 1) - (r + x) * np.log(alpha + tx)
    term_dead = np.where(x > 0, term_dead, -np.inf)
    return common + np.logaddexp(term_alive, term_dead)


def bg_family_loglik_and_gradient(
    model: str, log_params: np.ndarray, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray, weights: np.ndarray,
    *, by_x: tuple | None = None,
) -> tuple[float, np.ndarray]:
    """Weighted sample log-likelihood of BG/NBD or MBG/NBD and its gradient in the log-parameters.

    ``sum_i n_i ln L_i`` with ``ln L_i`` as in :func:`bgnbd_log_likelihood` (FHL 2005a,
    eq. (6)) or :func:`mbgnbd_log_likelihood`, written as::

        ln L = ln G(r+x) - ln G(r) + r ln(alpha) + ln B(a, b+x+c) - ln B(a, b)
               + logaddexp(-(r+x) ln(alpha+T), ln a - ln(b+x+c-1) - (r+x) ln(alpha+t_x))

    with c = 0 for BG/NBD (the second term only when x > 0; ``B(a+1, b+x-1)/B(a, b+x) =
    a/(b+x-1)``) and c = 1 for MBG/NBD. The gradient follows by differentiating each term
    (``d ln G(z)/dz = digamma(z)``; the log-sum-exp term splits with the weights
    ``w = 1/(1+exp(dead-alive))`` and ``1-w``), times the parameter (chain rule for
    ``log_params``). Terms that depend on x alone are evaluated once per distinct x.

    Parameters
    ----------
    model
        ``"bgnbd"`` or ``"mbgnbd"``.
    log_params
        ``log(r, alpha, a, b)``.
    frequency, recency, T, weights
        Rows (typically the distinct ``(x, t_x, T)`` rows) and how many customers share each.
    by_x
        ``_by_value(frequency, weights)``, when already computed (repeated calls while fitting).

    Returns
    -------
    (float, numpy.ndarray)
        The log-likelihood and its gradient with respect to ``log_params`` (4 values).
    """
    from scipy.special import digamma

    r, alpha, a, b = np.exp(np.asarray(log_params, dtype=float))
    x, tx, T, n = (np.asarray(v, dtype=float) for v in (frequency, recency, T, weights))
    c = 1.0 if model == "mbgnbd" else 0.0
    ux, _, nx = by_x or _by_value(x, n)
    total = nx.sum()
    # terms in x alone, summed per distinct x
    ll = (nx @ (gammaln(r + ux) + betaln(a, b + ux + c)) + total * (-gammaln(r) + r * math.log(alpha) - betaln(a, b)))
    g_r = nx @ digamma(r + ux) + total * (-digamma(r) + math.log(alpha))
    g_alpha = total * r / alpha
    psi_abxc = digamma(a + b + ux + c)
    g_a = nx @ (digamma(a + b) - psi_abxc)
    g_b = nx @ (digamma(b + ux + c) - digamma(b) + digamma(a + b) - psi_abxc)
    # the two-term part, per row
    both, w_alive, w_dead, log_aT, log_atx, b_shift = _bg_family_two_terms(r, alpha, math.log(a), b, x, tx, T, c)
    ll += n @ both
    g_r -= n @ (w_alive * log_aT + w_dead * log_atx)
    g_alpha -= n @ ((r + x) * (w_alive / (alpha + T) + w_dead / (alpha + tx)))
    nw = n * w_dead
    g_a += nw.sum() / a
    g_b -= nw @ (1.0 / b_shift)
    return float(ll), np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])


def _bg_family_two_terms(r, alpha, log_a, b, x, tx, T, c: float) -> tuple[np.ndarray, ...]:
    """Per row, the log-sum-exp term of :func:`bg_family_loglik_and_gradient`, ``logaddexp(alive, dead)``, with
    the weights ``w_alive`` and ``w_dead`` into which its derivatives split, ``ln(alpha+T)``, ``ln(alpha+t_x)``
    and ``b + x + c - 1`` (BG/NBD: ``b + x - 1``, and no dead term when x = 0). Parameters: scalars or arrays
    that broadcast against the rows."""
    log_aT, log_atx = np.log(alpha + T), np.log(alpha + tx)
    b_shift = b + (np.maximum(x, 1.0) - 1.0 if c == 0.0 else x + c - 1.0)
    alive = -(r + x) * log_aT
    dead = log_a - np.log(b_shift) - (r + x) * log_atx
    if c == 0.0:
        dead = np.where(x > 0, dead, -np.inf)
    both = np.logaddexp(alive, dead)
    w_dead = np.exp(dead - both)
    w_alive = 1.0 - w_dead
    return both, w_alive, w_dead, log_aT, log_atx, b_shift


def bg_family_loglik_and_gradient_rows(
    model: str, log_params: Sequence, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's BG/NBD or MBG/NBD log-likelihood and its gradient in ``log(r, alpha, a, b)``, with parameters
    that may differ from row to row (a customer's own, given their covariates: note 019).

    The terms of :func:`bg_family_loglik_and_gradient` (FHL 2005a, eq. (6); Batislam et al. 2007) per row,
    without the weights and the sums::

        d ln L / d r     = psi(r+x) - psi(r) + ln alpha - w_alive ln(alpha+T) - w_dead ln(alpha+t_x)
        d ln L / d alpha = r/alpha - (r+x) (w_alive/(alpha+T) + w_dead/(alpha+t_x))
        d ln L / d a     = psi(a+b) - psi(a+b+x+c) + w_dead/a
        d ln L / d b     = psi(b+x+c) - psi(b) + psi(a+b) - psi(a+b+x+c) - w_dead/(b+x+c-1)

    times the parameter (the gradient in the log-parameters).

    Parameters
    ----------
    model
        ``"bgnbd"`` or ``"mbgnbd"``.
    log_params
        ``log(r, alpha, a, b)``: four scalars or arrays that broadcast against the rows.
    frequency, recency, T
        x, t_x and T per row.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``ln L`` per row (shape ``(n,)``) and its gradient per row (shape ``(n, 4)``).
    """
    from scipy.special import digamma

    x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    log_r, log_alpha, log_a, log_b = (np.asarray(v, dtype=float) for v in log_params)
    r, alpha, a, b = np.exp(log_r), np.exp(log_alpha), np.exp(log_a), np.exp(log_b)
    c = 1.0 if model == "mbgnbd" else 0.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        both, w_alive, w_dead, log_aT, log_atx, b_shift = _bg_family_two_terms(r, alpha, log_a, b, x, tx, T, c)
        ll = gammaln(r + x) + betaln(a, b + x + c) - gammaln(r) + r * log_alpha - betaln(a, b) + both
        psi_ab, psi_abxc = digamma(a + b), digamma(a + b + x + c)
        g_r = digamma(r + x) - digamma(r) + log_alpha - (w_alive * log_aT + w_dead * log_atx)
        g_alpha = r / alpha - (r + x) * (w_alive / (alpha + T) + w_dead / (alpha + tx))
        g_a = psi_ab - psi_abxc + w_dead / a
        g_b = digamma(b + x + c) - digamma(b) + psi_ab - psi_abxc - w_dead / b_shift
    grad = np.stack(np.broadcast_arrays(g_r * r, g_alpha * alpha, g_a * a, g_b * b)).T  # columns contiguous
    return ll + np.zeros(x.shape), grad


def _bg_family_alive_expectation(
    lead: np.ndarray, a: np.ndarray, A: np.ndarray, C: np.ndarray, alpha_T: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """lead/(a-1) * [1 - u^(a-1) 2F1(A, a-1; C; 1-u)], u = (alpha+T)/(alpha+T+t).

    This is FHL (2005a) eq. (10)'s numerator after Euler's transformation
    ``2F1(r+x, b+x; c; z) = (1-z)^(c-r-b-2x) 2F1(c-r-x, c-b-x; c; z)``: the factor
    ``((alpha+T)/(alpha+T+t))^(r+x)`` cancels against ``(1-z)^...``, leaving
    a hypergeometric function with small parameters that neither overflows nor loses
    precision for heavy buyers.
    """
    z = t / (alpha_T + t)
    u_pow = np.exp((a - 1.0) * np.log1p(-z))
    with np.errstate(invalid="ignore", over="ignore"):
        return lead / (a - 1.0) * (1.0 - u_pow * hyp2f1(A, a - 1.0, C, z))


def _fit_bg_family(model: str, x, tx, T, n, penalizer: float,
                   start: Mapping[str, float] | None = None) -> tuple[np.ndarray, bool]:
    """Maximum likelihood for BG/NBD or MBG/NBD: lifetimes' objective, with analytic gradients.

    lifetimes (``BetaGeoFitter``) minimises the mean negative log-likelihood plus
    ``penalizer * sum(params**2)`` on time rescaled so that max(T) = 1, by BFGS from
    log-parameters 0.1. This does the same with :func:`bg_family_loglik_and_gradient`
    instead of autograd (several times faster) and a tighter gradient tolerance, so the
    estimates are those of lifetimes (penalised or not) up to its tolerance.

    Returns the log-parameters on the original time scale and whether they are finite.
    """
    scale = 1.0 / float(T.max())
    txs, Ts = tx * scale, T * scale
    total = float(n.sum())
    by_x = _by_value(x, n)

    def objective(lp: np.ndarray) -> tuple[float, np.ndarray]:
        ll, g = bg_family_loglik_and_gradient(model, lp, x, txs, Ts, n, by_x=by_x)
        sq = np.exp(2 * lp)
        value, grad = -ll / total + penalizer * sq.sum(), -g / total + 2 * penalizer * sq
        return (value, grad) if np.isfinite(value) else (np.inf, np.zeros_like(lp))

    res = _minimize(objective, _start(start, PARAMS, scale, 0.1))
    log_theta = np.array(res.x, dtype=float)
    log_theta[1] -= math.log(scale)
    return log_theta, bool(np.all(np.isfinite(log_theta)))


class BGNBD(TransactionModel):
    """BG/NBD (FHL 2005a). A customer without repeat purchases cannot have dropped out (drop-out happens
    only right after a repeat purchase), so their P(alive) stays 1 however long they are silent."""

    name = "bgnbd"
    label = "BG/NBD"
    param_names = PARAMS
    time_params = ("alpha",)
    covariate_links = {"alpha": ("purchase", -1.0), "a": ("dropout_a", 1.0), "b": ("dropout_b", 1.0)}  # note 019
    silence_aware = False
    lifetimes_fitter = "BetaGeoFitter"
    references = ("Fader, Hardie & Lee (2005a), Marketing Science 24(2), 275-284", "Hardie, note 021 (P(alive))")

    def log_likelihood(self, params, frequency, recency, T):
        return bgnbd_log_likelihood(params, frequency, recency, T)

    def fit_log_params(self, x, tx, T, n, penalizer: float, start: Mapping[str, float] | None):
        return _fit_bg_family(self.name, x, tx, T, n, penalizer, start)

    def loglik_and_gradient(self, x, tx, T, n):
        by_x = _by_value(x, n)
        return lambda log_theta: bg_family_loglik_and_gradient(self.name, log_theta, x, tx, T, n, by_x=by_x)

    def loglik_and_gradient_rows(self, log_params, x, tx, T):
        return bg_family_loglik_and_gradient_rows(self.name, log_params, x, tx, T)

    def _b_shift(self, b, x):
        """b + x - 1 for a customer with repeat purchases (the argument of P(alive)'s odds)."""
        return b + np.maximum(x, 1.0) - 1.0

    def p_alive(self, params, x, tx, T):
        """Hardie's note 021: ``1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``."""
        x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
        r, alpha, a, b = self.values(params)
        log_odds_dead = np.log(a) - np.log(self._b_shift(b, x)) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return np.where(x > 0, expit(-log_odds_dead), 1.0)

    def alive_expectation(self, params, x, T, t):
        """FHL (2005a) eq. (10) times its denominator:
        ``(a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]``."""
        x, T, t = (np.asarray(v, dtype=float) for v in (x, T, t))
        r, alpha, a, b = self.values(params)
        return _bg_family_alive_expectation(a + b + x - 1.0, a, a + b - 1.0 - r, a + b + x - 1.0, alpha + T, t)

    def count_pmf(self, params, t, n):
        """FHL (2005a) eq. (8)."""
        r, alpha, a, b = params
        tail = stats.nbinom.sf(n - 1, r, alpha / (alpha + t))  # P(NBD >= x)
        return (np.exp(betaln(a, b + n) - betaln(a, b)) * nbd_pmf(n, r, alpha, t)
                + np.where(n > 0, np.exp(betaln(a + 1.0, b + n - 1.0) - betaln(a, b)), 0.0) * tail)

    def future(self, params, x, T):
        """lambda ~ gamma(r+x, alpha+T), p ~ beta(a, b+x)."""
        r, alpha, c, d = params
        return BGNBD(), (r + x, alpha + T, c, d + x + 0.0)

    def alive_table(self, params, ux, utx, uT):
        """P(alive) from tables per distinct x, t_x and T, with the operations of :meth:`p_alive`."""
        r, alpha, a, b = params
        vx, ix = np.unique(ux, return_inverse=True)
        vtx, itx = np.unique(utx, return_inverse=True)
        vT, iT = np.unique(uT, return_inverse=True)
        log_ab = np.log(a)[None, :] - np.log(self._b_shift(b[None, :], vx[:, None]))
        log_atx = np.log(alpha[None, :] + vtx[:, None])
        log_aT = np.log(alpha[None, :] + vT[:, None])
        sure = self._alive_without_repeat

        def table(lo: int, hi: int) -> np.ndarray:
            x = ux[lo:hi, None]
            log_odds_dead = log_ab[ix[lo:hi]] + (r[None, :] + x) * (log_aT[iT[lo:hi]] - log_atx[itx[lo:hi]])
            pa = expit(-log_odds_dead)
            return np.where(x > 0, pa, 1.0) if sure else pa

        return table

    _alive_without_repeat = True
