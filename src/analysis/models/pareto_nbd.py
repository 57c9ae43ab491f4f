"""Pareto/NBD: Schmittlein, Morrison & Colombo (1987), "Counting your customers: who are they and what will
they do next?", *Management Science* 33(1), 1-24; the likelihood, P(alive) and the conditional expectation as in
Fader & Hardie (2005), "A note on deriving the Pareto/NBD model and related expressions" (brucehardie.com note
009), eqs. (22), (34)/(35), (41); P(X(t) = x) as in Fader & Hardie (2006), "Deriving an expression for
P(X(t) = x) under the Pareto/NBD model" (note 012).

While alive a customer buys at a Poisson rate lambda ~ gamma(r, alpha); their lifetime is exponential with
rate mu ~ gamma(s, beta), so P(alive) falls while they stay silent. The fit minimises lifetimes'
``ParetoNBDFitter`` objective by BFGS with the gradient :func:`pareto_nbd_loglik_and_gradient`.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import integrate, stats
from scipy.special import gammaln, hyp2f1, hyperu

from analysis.models.base import TransactionModel, nbd_pmf, param_values
from analysis.models.fitting import _by_value, _minimize, _start, distinct_rows

PARAMS: tuple[str, ...] = ("r", "alpha", "s", "beta")

_PMF_NODES = np.polynomial.legendre.leggauss(96)  # Gauss-Legendre nodes and weights on [-1, 1]


def _log1mexp(d: np.ndarray) -> np.ndarray:
    """log(1 - exp(d)) for d <= 0, accurate at both ends (Maechler 2012): ``log(-expm1(d))`` above -log 2,
    ``log1p(-exp(d))`` below.

    The second form is computed on every element and the first replaces it where it applies: picking the
    elements of both branches out and back (boolean indexing) took more time than the arithmetic (a Pareto/NBD
    fit calls this seven times per step on every row). Each element goes through the same functions as
    before, so the values do not change."""
    d = np.asarray(d, dtype=float)
    near = d > -math.log(2.0)
    with np.errstate(divide="ignore", invalid="ignore"):  # log1p(-1) = -inf at d = 0, replaced by the near branch
        out = np.exp(d, out=np.empty(np.shape(d)))
        np.negative(out, out=out)
        np.log1p(out, out=out)
        if near.any():
            out[near] = np.log(-np.expm1(d[near]))
    return out


def _pareto_log_tail(r, alpha, s, beta, x, t):
    """log I(t), I(t) = integral_t^inf (alpha+u)^-(r+x) (beta+u)^-(s+1) du.

    Closed form (Fader & Hardie 2005, note 009, eqs. (19)-(20)) with m = r+s+x:
    alpha >= beta: I = (alpha+t)^-m / m * 2F1(m, s+1; m+1; (alpha-beta)/(alpha+t)),
    alpha <  beta: I = (beta+t)^-m / m * 2F1(m, r+x; m+1; (beta-alpha)/(beta+t)).
    Both 2F1 are evaluated after Euler's transformation 2F1(a,b;c;z) =
    (1-z)^(c-a-b) 2F1(c-a, c-b; c; z), which leaves a first parameter of 1 and keeps the
    large (1-z)^-(r+x) factor in log space (no overflow for heavy buyers).
    """
    m = r + s + x
    a_ge_b = alpha >= beta
    big = np.where(a_ge_b, alpha, beta)
    w = np.abs(alpha - beta) / (big + t)
    # alpha >= beta: 2F1(m, s+1; m+1; w)   = (1-w)^(-s)      2F1(1, r+x; m+1; w)
    # alpha <  beta: 2F1(m, r+x; m+1; w)   = (1-w)^(1-r-x)   2F1(1, s+1; m+1; w)
    expo = np.where(a_ge_b, -s, 1.0 - r - x)
    second = np.where(a_ge_b, r + x, s + 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_f = expo * np.log1p(-w) + np.log(hyp2f1(1.0, second, m + 1.0, w))
        return -m * np.log(big + t) - np.log(m) + log_f


def _pareto_log_gap_quad(r, alpha, s, beta, x, tx, T) -> float:
    """log integral_tx^T (alpha+u)^-(r+x) (beta+u)^-(s+1) du by adaptive quadrature (scalars)."""
    if not tx < T:
        return -np.inf

    def log_f(u: float) -> float:
        return -(r + x) * math.log(alpha + u) - (s + 1.0) * math.log(beta + u)

    ref = log_f(tx)  # the integrand is decreasing: scale by its largest value
    val, _ = integrate.quad(lambda u: math.exp(log_f(u) - ref), tx, T, limit=200, epsabs=0.0, epsrel=1e-10)
    return ref + math.log(val) if val > 0 else -np.inf


def _pareto_log_gap(r, alpha, s, beta, x, tx, T, quadrature: bool = True) -> np.ndarray:
    """log(I(t_x) - I(T)) = log integral_{t_x}^T (alpha+u)^-(r+x) (beta+u)^-(s+1) du.

    Closed form via :func:`_pareto_log_tail` in log space; where that is not finite
    (extreme parameters or a future scipy ``hyp2f1`` regression) the integral is
    evaluated by quadrature instead.
    """
    r, alpha, s, beta, x, tx, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (r, alpha, s, beta, x, tx, T)))
    lt_x = _pareto_log_tail(r, alpha, s, beta, x, tx)
    lt_T = _pareto_log_tail(r, alpha, s, beta, x, T)
    return _pareto_gap_from_tails(lt_x, lt_T, (r, alpha, s, beta, x, tx, T), quadrature)


def _pareto_gap_from_tails(lt_x, lt_T, history: tuple, quadrature: bool = True) -> np.ndarray:
    """log(I(t_x) - I(T)) from the two tails (:func:`_pareto_log_tail`): -inf where t_x >= T, and by
    quadrature where the closed form is not finite. ``history``: ``(r, alpha, s, beta, x, t_x, T)``, arrays
    that broadcast to the tails' shape (a tail table per parameter draw may come from fewer, distinct rows)."""
    tx, T = history[5], history[6]
    out = lt_x + _log1mexp(np.minimum(lt_T - lt_x, 0.0))
    out = np.where(tx >= T, -np.inf, out)
    bad = (tx < T) & ~np.isfinite(out)
    if quadrature and bad.any():
        shape = out.shape
        flat = [np.asarray(v, dtype=float).reshape(-1) for v in np.broadcast_arrays(*history, out)]
        out = flat.pop().copy()
        for i in np.flatnonzero(np.broadcast_to(bad, shape)):
            out[i] = _pareto_log_gap_quad(*(v[i] for v in flat))
        out = out.reshape(shape)
    return out


def pareto_nbd_log_likelihood(
    params: Mapping[str, float] | Sequence[float], frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Individual Pareto/NBD log-likelihood ln L(r, alpha, s, beta | x, t_x, T).

    Fader & Hardie (2005), "A note on deriving the Pareto/NBD model and related
    expressions", eq. (22)::

        L = G(r+x) alpha^r beta^s / G(r) * { 1 / ((alpha+T)^(r+x) (beta+T)^s)
                                              + s/(r+s+x) * A_0 }

    with A_0 from eqs. (19)-(20) (Gauss hypergeometric 2F1). ``s/(r+s+x) A_0`` equals
    ``s * integral_{t_x}^T (alpha+u)^-(r+x) (beta+u)^-(s+1) du``, which is evaluated in log
    space (see ``_pareto_log_gap``).

    Parameters
    ----------
    params
        ``{"r", "alpha", "s", "beta"}`` or a sequence in that order; arrays broadcast.
    frequency, recency, T
        x, t_x and T per customer.

    Returns
    -------
    numpy.ndarray
        One log-likelihood per customer.
    """
    r, alpha, s, beta = param_values("pareto", PARAMS, params)
    x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    dead = np.log(s) + _pareto_log_gap(r, alpha, s, beta, x, tx, T)
    return head + np.logaddexp(alive, dead)


def pareto_nbd_loglik_and_gradient(
    log_params: np.ndarray, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray, weights: np.ndarray,
    *, plan: "_ParetoGapPlan | None" = None,
) -> tuple[float, np.ndarray]:
    """Weighted sample log-likelihood of Pareto/NBD and its gradient in ``log(r, alpha, s, beta)``.

    ``sum_i n_i ln L_i`` with ``ln L_i`` as in :func:`pareto_nbd_log_likelihood` (Fader & Hardie
    2005, note 009, eq. (22))::

        ln L = ln G(r+x) - ln G(r) + r ln(alpha) + s ln(beta) + logaddexp(A, D)
        A = -(r+x) ln(alpha+T) - s ln(beta+T)
        D = ln s + ln G,   G = integral_{t_x}^T (alpha+u)^-(r+x) (beta+u)^-(s+1) du

    The derivatives of the first terms and of A are elementary (``digamma``). For D,
    differentiating under the integral sign gives two integrals of the same family::

        dG/dalpha = -(r+x) G(x -> x+1),      dG/dbeta = -(s+1) G(s -> s+1),

    evaluated in closed form like G itself (:func:`_pareto_log_gap`). ``dG/dr`` and ``dG/ds``
    (integrals with a logarithm in the integrand, no closed form) are central differences of
    ``ln G`` in r and s. The log-sum-exp splits with the weight ``w = exp(D - logaddexp(A, D))``.
    Only the closed form is used (no quadrature fallback): where it is not finite, at parameters
    far from the data, the value is not finite and the optimizer steps back. ``plan``: the
    rows' :class:`_ParetoGapPlan`, when already made (repeated calls while fitting).

    Returns
    -------
    (float, numpy.ndarray)
        The log-likelihood and its gradient with respect to ``log_params`` (4 values).
    """
    from scipy.special import digamma

    r, alpha, s, beta = np.exp(np.asarray(log_params, dtype=float))
    x, tx, T, n = (np.asarray(v, dtype=float) for v in (frequency, recency, T, weights))
    plan = plan or _ParetoGapPlan(x, tx, T)
    ux, _, nx = plan.by_x or _by_value(x, n)
    total = nx.sum()
    ll = nx @ gammaln(r + ux) + total * (-gammaln(r) + r * math.log(alpha) + s * math.log(beta))
    g_r = nx @ digamma(r + ux) + total * (-digamma(r) + math.log(alpha))
    g_alpha, g_s, g_beta = total * r / alpha, total * math.log(beta), total * s / beta
    gap = plan.gap
    gaps, h_r, h_s = _pareto_shifted_gaps(r, alpha, s, beta, plan.log_gap)
    both, w, log_aT, log_bT, lg = _pareto_mix(r, alpha, s, beta, x, T, gap, gaps[0], math.log(s))
    w_alive = 1.0 - w
    ll += n @ both
    g_r -= n @ (w_alive * log_aT)
    g_alpha -= n @ (w_alive * (r + x) / (alpha + T))
    g_s -= n @ (w_alive * log_bT)
    g_beta -= n @ (w_alive * s / (beta + T))
    if gap.any():
        nw = (n * w)[gap]
        d_r, d_alpha, d_s, d_beta = _pareto_gap_derivatives(r, s, x[gap], lg[gap], gaps, h_r, h_s)
        g_r += nw @ d_r
        g_alpha += nw @ d_alpha
        g_s += nw @ (1.0 / s + d_s)
        g_beta += nw @ d_beta
    return float(ll), np.array([g_r * r, g_alpha * alpha, g_s * s, g_beta * beta])


def pareto_nbd_loglik_and_gradient_rows(
    log_params: Sequence, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's Pareto/NBD log-likelihood and its gradient in ``log(r, alpha, s, beta)``, with parameters
    that may differ from row to row (a customer's own, given their covariates: note 019).

    The terms of :func:`pareto_nbd_loglik_and_gradient` (Fader & Hardie 2005, note 009, eq. (22)) per row,
    without the weights and the sums. ``ln G`` and its four derivatives come from one Gauss-Legendre quadrature
    per row (:func:`_pareto_gap_moments`): no two rows share parameters, so the closed form would cost two Gauss
    hypergeometric functions for ``ln G`` and twelve more for its shifted versions and central differences. The
    quadrature agrees with the closed form to rounding where that is accurate (and is accurate where it is not:
    t_x next to T with alpha and beta far above T).

    Parameters
    ----------
    log_params
        ``log(r, alpha, s, beta)``: four scalars or arrays that broadcast against the rows.
    frequency, recency, T
        x, t_x and T per row.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``ln L`` per row (shape ``(n,)``) and its gradient per row (shape ``(n, 4)``).
    """
    x, tx, T = (np.asarray(v, dtype=float).reshape(-1) for v in (frequency, recency, T))
    log_params = [np.broadcast_to(np.asarray(v, dtype=float), x.shape) for v in log_params]
    ll, grad = np.empty(len(x)), np.empty((4, len(x))).T  # columns contiguous

    def task(lo: int) -> None:  # blocks of rows side by side on the cores (numpy releases the GIL)
        sl = slice(lo, lo + _GAP_ROWS)
        ll[sl], grad[sl] = _rows_block([v[sl] for v in log_params], x[sl], tx[sl], T[sl])

    list(_pool().map(task, range(0, len(x), _GAP_ROWS)))
    return ll, grad


def _rows_block(log_params, x, tx, T) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pareto_nbd_loglik_and_gradient_rows` on one block of rows."""
    from scipy.special import digamma

    r, alpha, s, beta = (np.exp(v) for v in log_params)
    gap = tx < T
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_gap, d_r, d_alpha, d_s, d_beta = _pareto_gap_moments(*(v[gap] for v in (r, alpha, s, beta, x, tx, T)))
        both, w, log_aT, log_bT, lg = _pareto_mix(r, alpha, s, beta, x, T, gap, log_gap, np.log(s))
        w_alive = 1.0 - w
        log_alpha, log_beta = np.log(alpha), np.log(beta)
        ll = gammaln(r + x) - gammaln(r) + r * log_alpha + s * log_beta + both
        g_r = digamma(r + x) - digamma(r) + log_alpha - w_alive * log_aT
        g_alpha = r / alpha - w_alive * (r + x) / (alpha + T)
        g_s = log_beta - w_alive * log_bT
        g_beta = s / beta - w_alive * s / (beta + T)
        if gap.any():
            wg = w[gap]
            g_r[gap] += wg * d_r
            g_alpha[gap] += wg * d_alpha
            g_s[gap] += wg * (1.0 / s[gap] + d_s)
            g_beta[gap] += wg * d_beta
    return ll, np.stack([g_r * r, g_alpha * alpha, g_s * s, g_beta * beta]).T


_GAP_NODES = 20  # Gauss-Legendre nodes per panel of :func:`_pareto_gap_moments`
_GAP_PANEL_WIDTH = 4.0  # widest panel, in ln(c + u)
_GAP_SPREAD = 40.0  # the part of the integrand kept: down to e^-40 of its peak
_GAP_ROWS = 65_536  # rows per task on the pool
_GAP_BLOCK = 2_048  # rows per block of (rows, nodes) arrays (a few of them fit in the cache)
_GAP_RULES: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _gap_rule(panels: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes on [-1, 1] and log-weights of ``panels`` equal panels of :data:`_GAP_NODES` Gauss-Legendre nodes."""
    if panels not in _GAP_RULES:
        t, w = np.polynomial.legendre.leggauss(_GAP_NODES)
        edges = np.linspace(-1.0, 1.0, panels + 1)
        nodes = np.concatenate([(lo + hi) / 2 + (hi - lo) / 2 * t for lo, hi in zip(edges[:-1], edges[1:])])
        _GAP_RULES[panels] = nodes, np.log(np.tile(w / panels, panels))
    return _GAP_RULES[panels]


def _pareto_gap_moments(r, alpha, s, beta, x, tx, T) -> np.ndarray:
    """``ln G`` and ``d ln G / d(r, alpha, s, beta)`` for rows with t_x < T, each with its own parameters (1-d
    arrays of one length), with ``G = integral_{t_x}^T (alpha+u)^-(r+x) (beta+u)^-(s+1) du`` (note 009; the
    dead term of the likelihood, :func:`pareto_nbd_log_likelihood`).

    Differentiating under the integral sign, with ``E_f`` the mean over [t_x, T] weighted by the integrand::

        d ln G/dr = -E_f[ln(alpha+u)],      d ln G/dalpha = -(r+x) E_f[1/(alpha+u)],
        d ln G/ds = -E_f[ln(beta+u)],       d ln G/dbeta  = -(s+1) E_f[1/(beta+u)],

    so ``G`` and the four means come from the same quadrature nodes. The variable is ``z = ln(c+u)`` with
    ``c = min(alpha, beta)``: one factor becomes a plain exponential ``e^(-k z)`` and the other, ``(d + e^z)^-m``
    (``d = |alpha - beta|``), is smooth with its singularities at distance pi from the real axis, so the
    log-integrand ``psi(z) = (1-k) z - m ln(d + e^z)`` is concave and its peak has a closed form. Where it falls
    by more than :data:`_GAP_SPREAD` (heavy buyers, long gaps) the interval is cut where it reaches that level
    (Newton's method from the far end, which for a concave function never cuts inside the level: at most e^-40
    of the integral is dropped). The rest is split into equal panels no wider than :data:`_GAP_PANEL_WIDTH` over
    which psi changes by at most the spread, each with :data:`_GAP_NODES` Gauss-Legendre nodes (exact to
    rounding on such panels: checked against the closed form and ``scipy.integrate.quad`` in
    ``tests/test_pareto_rows.py``). The interval's width is taken from ``log1p((T - t_x) / (c + t_x))``, not as a
    difference of logarithms, so t_x next to T keeps its digits. Returns an array (5, rows)."""
    a, b = r + x, s + 1.0
    a_min = alpha <= beta  # which factor is the plain exponential in z = ln(c + u)
    k, m = np.where(a_min, a, b), np.where(a_min, b, a)
    d = np.abs(alpha - beta)
    c0 = np.minimum(alpha, beta) + tx
    z0 = np.log(c0)
    width = np.log1p((T - tx) / c0)  # z runs over z0 + [0, width]

    def psi(v, i=slice(None)):
        return (1.0 - k[i]) * v - m[i] * np.log(d[i] + c0[i] * np.exp(v))

    def slope(v, i=slice(None)):
        e = c0[i] * np.exp(v)
        return 1.0 - k[i] - m[i] * e / (d[i] + e)

    # the peak: psi' = 1 - k - m e/(d+e) falls from left to right; zero at e/(d+e) = (1-k)/m when inside
    zero = np.zeros_like(width)
    p = (1.0 - k) / m
    with np.errstate(divide="ignore", invalid="ignore"):  # used only where 0 < p < 1
        inside = np.clip(np.log(d * p / (1.0 - p)) - z0, 0.0, width)
    top = psi(np.where(slope(zero) <= 0, zero, np.where(slope(width) >= 0, width, inside)))
    level = top - _GAP_SPREAD
    ends = []
    for start in (width, zero):  # from the right end leftwards, from the left end rightwards
        v = start.copy()
        cut = np.flatnonzero(psi(start) < level)
        for _ in range(8):
            v[cut] -= (psi(v[cut], cut) - level[cut]) / slope(v[cut], cut)
        ends.append(v)
    hi, lo = ends
    half, mid = (hi - lo) / 2, (hi + lo) / 2
    drop = top - np.minimum(psi(lo), psi(hi))  # at most the spread, unless Newton stopped early
    panels = np.maximum(np.ceil(np.maximum(2 * half / _GAP_PANEL_WIDTH, drop / _GAP_SPREAD)), 1.0)
    panels = np.where(np.isfinite(panels), np.minimum(panels, 64), 1).astype(int)
    sums = np.empty((5, len(r)))  # sum of F, F v, F ln(d + e), F / e, F / (d + e); F = weight * e^(psi - top)
    one_k = 1.0 - k
    for count in np.unique(panels):
        nodes, log_w = _gap_rule(int(count))
        rows = np.flatnonzero(panels == count)
        for first in range(0, len(rows), _GAP_BLOCK):
            i = rows[first:first + _GAP_BLOCK]
            v = np.multiply.outer(half[i], nodes)
            v += mid[i, None]
            e = np.exp(v)
            e *= c0[i, None]
            other = e + d[i, None]
            log_other = np.log(other)
            F = np.multiply(one_k[i, None], v)
            F -= np.multiply(m[i, None], log_other, out=other)
            F += log_w
            F -= top[i, None]
            np.exp(F, out=F)
            sums[0, i] = F.sum(axis=1)
            sums[1, i] = np.einsum("ij,ij->i", F, v)
            sums[2, i] = np.einsum("ij,ij->i", F, log_other)
            sums[3, i] = np.divide(F, e, out=log_other).sum(axis=1)
            e += d[i, None]
            sums[4, i] = np.divide(F, e, out=e).sum(axis=1)
    total = sums[0]
    log_gap = top + one_k * z0 + np.log(half) + np.log(total)
    mean_log_min, mean_log_other = z0 + sums[1] / total, sums[2] / total  # E_f[ln(c+u)], E_f[ln(d+c+u)]
    inv_min, inv_other = sums[3] / total, sums[4] / total
    return np.stack([log_gap,
                     -np.where(a_min, mean_log_min, mean_log_other),
                     -a * np.where(a_min, inv_min, inv_other),
                     -np.where(a_min, mean_log_other, mean_log_min),
                     -b * np.where(a_min, inv_other, inv_min)])


def _pareto_shifted_gaps(r, alpha, s, beta, log_gap) -> tuple[list[np.ndarray], object, object]:
    """ln G on the rows with t_x < T and the six shifted versions the gradient needs (x + 1, s + 1, and r and s
    up and down by a relative step ``h``), computed side by side on the cores (numpy and scipy's hyp2f1 release
    the GIL): each is the same arithmetic as one after the other. Returns them with the steps ``h_r, h_s``."""
    h_r, h_s = 1e-6 * np.maximum(r, 1e-3), 1e-6 * np.maximum(s, 1e-3)
    shifted = ((r, alpha, s, beta, 0.0), (r, alpha, s, beta, 1.0), (r, alpha, s + 1.0, beta, 0.0),
               (r + h_r, alpha, s, beta, 0.0), (r - h_r, alpha, s, beta, 0.0),
               (r, alpha, s + h_s, beta, 0.0), (r, alpha, s - h_s, beta, 0.0))
    return list(_pool().map(lambda a: log_gap(*a[:4], dx=a[4]), shifted)), h_r, h_s


def _pareto_mix(r, alpha, s, beta, x, T, gap, log_gap, log_s) -> tuple[np.ndarray, ...]:
    """Per row: ``logaddexp(A, D)`` (the likelihood's two terms, see :func:`pareto_nbd_loglik_and_gradient`),
    the weight ``w = exp(D - logaddexp(A, D))`` of the dead term (0 where t_x = T), ``ln(alpha+T)``,
    ``ln(beta+T)`` and ``ln G`` (-inf where t_x = T)."""
    log_aT, log_bT = np.log(alpha + T), np.log(beta + T)
    alive = -(r + x) * log_aT - s * log_bT
    lg = np.full(len(x), -np.inf)
    lg[gap] = log_gap
    dead = log_s + lg
    both = np.logaddexp(alive, dead)
    w = np.where(gap, np.exp(dead - both), 0.0)
    return both, w, log_aT, log_bT, lg


def _pareto_gap_derivatives(r, s, x, lg, gaps, h_r, h_s) -> tuple[np.ndarray, ...]:
    """d ln G / d(r, alpha, s, beta) on the rows with t_x < T, from :func:`_pareto_shifted_gaps` (``r, s, h_r,
    h_s``: scalars, or arrays on those rows)."""
    d_alpha = -(r + x) * np.exp(gaps[1] - lg)
    d_beta = -(s + 1.0) * np.exp(gaps[2] - lg)
    d_r = (gaps[3] - gaps[4]) / (2 * h_r)
    d_s = (gaps[5] - gaps[6]) / (2 * h_s)
    return d_r, d_alpha, d_s, d_beta


_POOL: ThreadPoolExecutor | None = None
_POOL_NAME = "pareto-nbd"  # its threads' names begin with it
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """One pool of worker threads, one per core, for the pieces of the likelihood (made on first use; fits may
    run side by side)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1), thread_name_prefix=_POOL_NAME)
        return _POOL


def _tails_side_by_side(r, alpha, s, beta, pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """:func:`_pareto_log_tail` of each ``(x, t)`` pair of 1-d arrays against the parameter draws ``(1, D)``,
    shape ``(len(x), D)`` each, in slices of rows on the cores (:func:`_pool`; scipy's hyp2f1 releases the GIL).
    Each element is computed as in one call, so the numbers do not change. The CLV band's P(alive) tables: at 1M
    customers 1.5 s in one thread."""
    workers = max(1, os.cpu_count() or 1)
    pieces = [(i, lo, lo + step) for i, (x, _) in enumerate(pairs)
              for step in [max(1, -(-len(x) // workers))] for lo in range(0, len(x), step)]

    def piece(job: tuple[int, int, int]) -> np.ndarray:
        i, lo, hi = job
        x, t = pairs[i]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return _pareto_log_tail(r, alpha, s, beta, x[lo:hi, None], t[lo:hi, None])

    inline = threading.current_thread().name.startswith(_POOL_NAME)  # already on the pool: no waiting on it
    parts = [piece(job) for job in pieces] if inline or len(pieces) < 2 else list(_pool().map(piece, pieces))
    return [np.concatenate([p for (i, _, _), p in zip(pieces, parts) if i == k] or
                           [np.empty((0, np.shape(r)[-1]))]) for k in range(len(pairs))]


class _ParetoGapPlan:
    """The rows of a Pareto/NBD fit with t_x < T, and their distinct (x, t_x) and (x, T) pairs.

    ``ln G = ln(I(t_x) - I(T))`` needs the tail :func:`_pareto_log_tail` at t_x and at T; many
    rows share those pairs (every one-time buyer has x = t_x = 0), so each tail is evaluated
    once per distinct pair. The pairs do not change while the parameters are fitted.
    """

    def __init__(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, weights: np.ndarray | None = None) -> None:
        self.gap = tx < T
        xs, txs, Ts = x[self.gap], tx[self.gap], T[self.gap]
        where_a, self.ia = distinct_rows([xs, txs])
        where_b, self.ib = distinct_rows([xs, Ts])
        self.xa, self.ta = xs[where_a], txs[where_a]
        self.xb, self.tb = xs[where_b], Ts[where_b]
        self.by_x = _by_value(x, weights) if weights is not None else None

    def log_gap(self, r, alpha, s, beta, dx: float = 0.0) -> np.ndarray:
        """ln G for the rows with t_x < T (closed form only; not finite where it fails)."""
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            lt_x = _pareto_log_tail(r, alpha, s, beta, self.xa + dx, self.ta).take(self.ia)
            d = _pareto_log_tail(r, alpha, s, beta, self.xb + dx, self.tb).take(self.ib)
            np.subtract(d, lt_x, out=d)  # lt_T - lt_x, in place: these are the fit's largest arrays
            out = _log1mexp(np.minimum(d, 0.0, out=d))
            out += lt_x
            return out


def _fit_pareto(x, tx, T, n, penalizer: float, start: Mapping[str, float] | None = None) -> tuple[np.ndarray, bool]:
    """Maximum likelihood for Pareto/NBD: lifetimes' objective, with the gradient of
    :func:`pareto_nbd_loglik_and_gradient`.

    lifetimes (``ParetoNBDFitter``, one row per customer) minimises ``-sum(ln L) + penalizer *
    sum(params**2)`` on time rescaled so that max(T) = 1, by Nelder-Mead without a gradient
    (minutes on a few thousand distinct rows). This minimises the same objective, written for
    distinct rows with counts n and divided by the number of customers (the same minimum,
    better scaled), by BFGS with the gradient: the estimates are those of lifetimes (penalised
    or not) up to its tolerance, in about a second. (lifetimes itself, given distinct rows with
    weights, divides by their mean weight, so its penalty would depend on how the rows were
    grouped; per customer it does not.)
    """
    scale = 1.0 / float(T.max())
    txs, Ts = tx * scale, T * scale
    per_row = 1.0 / float(n.sum())
    penalizer = penalizer * per_row

    plan = _ParetoGapPlan(x, txs, Ts, n)

    def objective(lp: np.ndarray) -> tuple[float, np.ndarray]:
        ll, g = pareto_nbd_loglik_and_gradient(lp, x, txs, Ts, n, plan=plan)
        sq = np.exp(2 * lp)
        value, grad = -ll * per_row + penalizer * sq.sum(), -g * per_row + 2 * penalizer * sq
        return (value, grad) if np.isfinite(value) and np.all(np.isfinite(grad)) else (np.inf, np.zeros_like(lp))

    res = _minimize(objective, _start(start, PARAMS, scale, 0.0))
    log_theta = np.array(res.x, dtype=float)
    log_theta[[1, 3]] -= math.log(scale)
    return log_theta, bool(np.all(np.isfinite(log_theta)))


class ParetoNBD(TransactionModel):
    """Pareto/NBD (SMC 1987; Fader & Hardie note 009)."""

    name = "pareto"
    label = "Pareto/NBD"
    param_names = PARAMS
    time_params = ("alpha", "beta")
    covariate_links = {"alpha": ("purchase", -1.0), "beta": ("dropout", -1.0)}  # note 019
    silence_aware = True
    lifetimes_fitter = "ParetoNBDFitter"
    references = ("Schmittlein, Morrison & Colombo (1987), Management Science 33(1), 1-24",
                  "Fader & Hardie (2005), note 009", "Fader & Hardie (2006), note 012")

    def log_likelihood(self, params, frequency, recency, T):
        return pareto_nbd_log_likelihood(params, frequency, recency, T)

    def fit_log_params(self, x, tx, T, n, penalizer: float, start: Mapping[str, float] | None):
        return _fit_pareto(x, tx, T, n, penalizer, start)

    def loglik_and_gradient(self, x, tx, T, n):
        plan = _ParetoGapPlan(x, tx, T, n)
        return lambda log_theta: pareto_nbd_loglik_and_gradient(log_theta, x, tx, T, n, plan=plan)

    def loglik_and_gradient_rows(self, log_params, x, tx, T):
        return pareto_nbd_loglik_and_gradient_rows(log_params, x, tx, T)

    def p_alive(self, params, x, tx, T):
        """Note 009, eq. (34): ``1 / (1 + s (alpha+T)^(r+x) (beta+T)^s Δ)`` with
        ``Δ = integral_{t_x}^T (alpha+u)^-(r+x) (beta+u)^-(s+1) du``, in log space."""
        x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
        r, alpha, s, beta = self.values(params)
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        dead = np.log(s) + _pareto_log_gap(r, alpha, s, beta, x, tx, T)
        return np.exp(alive - np.logaddexp(alive, dead))

    def alive_expectation(self, params, x, T, t):
        """Note 009, eq. (41): ``(r+x)(beta+T)/((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]``."""
        x, T, t = (np.asarray(v, dtype=float) for v in (x, T, t))
        r, alpha, s, beta = self.values(params)
        L = np.log1p(t / (beta + T))  # log((beta+T+t)/(beta+T))
        c = np.asarray(s, dtype=float) - 1.0
        small = np.abs(c) < 1e-10
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(small, L, -np.expm1(-c * L) / np.where(small, 1.0, c))
        return (r + x) * (beta + T) / (alpha + T) * frac

    def dert(self, params, rate, x, tx, T):
        """Fader, Hardie & Lee (2005b), "RFM and CLV", eq. (2) divided by the likelihood's parts that P(alive)
        holds: ``P(alive) (r+x)/(alpha+T) rate^(s-1) (beta+T)^s U(s, s; rate (beta+T))``, with U the confluent
        hypergeometric function of the second kind (their Psi)."""
        x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
        r, alpha, s, beta = self.values(params)
        z = rate * (beta + T)
        residual = (r + x) / (alpha + T) * (beta + T) * np.exp((s - 1.0) * np.log(z)) * hyperu(s, s, z)
        return self.p_alive(params, x, tx, T) * residual

    def count_pmf(self, params, t, n):
        """While alive the purchases are NBD, and the lifetime tau has the Pareto (Lomax) density
        ``s beta^s / (beta+tau)^(s+1)``, so ``P(X(t)=x) = (beta/(beta+t))^s NBD(x; t) + int_0^t s beta^s /
        (beta+tau)^(s+1) NBD(x; tau) dtau`` (note 012, before its closed form), integrated with 96-point
        Gauss-Legendre quadrature."""
        r, alpha, s, beta = params
        nodes, weights = _PMF_NODES
        tau = t[..., None] * (nodes + 1.0) / 2.0  # (m, 1, k) points in [0, t]
        # s beta^s / (beta+tau)^(s+1) = s/(beta+tau) (1 + tau/beta)^-s, in logs: a fit may end with beta and s
        # far beyond what a power of floats holds (no drop-out seen: both run off to infinity together)
        s3, beta3 = s[..., None], beta[..., None]
        density = s3 / (beta3 + tau) * np.exp(-s3 * np.log1p(tau / beta3)) * (t[..., None] / 2.0) * weights
        inner = stats.nbinom.pmf(n[..., None], r[..., None], alpha[..., None] / (alpha[..., None] + tau))
        return np.exp(-s * np.log1p(t / beta)) * nbd_pmf(n, r, alpha, t) + (density * inner).sum(axis=-1)

    def future(self, params, x, T):
        """lambda ~ gamma(r+x, alpha+T), mu ~ gamma(s, beta+T) (note 028)."""
        r, alpha, c, d = params
        return ParetoNBD(), (r + x, alpha + T, c, d + T)

    def alive_table(self, params, ux, utx, uT):
        """P(alive) needs log I(t_x) and log I(T) (two Gauss hypergeometric functions, the costliest part of the
        CLV band): I(t_x) depends on (x, t_x) only and I(T) on (x, T) only, so both are tabled per draw on their
        distinct pairs (1M customers: 24k and 8k pairs for 446k histories), and the histories combine them as
        :func:`_pareto_log_gap` does."""
        r, alpha, s, beta = (par[None, :] for par in params)
        where, i_xtx = distinct_rows((ux, utx))
        px, ptx = ux[where], utx[where]
        where, i_xT = distinct_rows((ux, uT))
        qx, qT = ux[where], uT[where]
        log_tail_tx, log_tail_T = _tails_side_by_side(r, alpha, s, beta, [(px, ptx), (qx, qT)])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            alive_T = -(r + qx[:, None]) * np.log(alpha + qT[:, None]) - s * np.log(beta + qT[:, None])
        log_s = np.log(s)

        def table(lo: int, hi: int) -> np.ndarray:
            history = (r, alpha, s, beta, ux[lo:hi, None], utx[lo:hi, None], uT[lo:hi, None])
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                gap = _pareto_gap_from_tails(log_tail_tx[i_xtx[lo:hi]], log_tail_T[i_xT[lo:hi]], history)
                alive = alive_T[i_xT[lo:hi]]
                return np.exp(alive - np.logaddexp(alive, log_s + gap))

        return table
