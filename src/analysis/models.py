"""Buy-till-you-die transaction models and the Gamma-Gamma spend model.

The parameters are estimated on the unique ``(frequency, recency, T)`` rows of a customer
summary, weighted by how many customers share each row: BG/NBD, MBG/NBD and Gamma-Gamma by
maximising the objective of ``lifetimes`` 0.11.3's fitters with the analytic gradients of
this module (:func:`bg_family_loglik_and_gradient`, :func:`pareto_nbd_loglik_and_gradient`,
:func:`gamma_gamma_loglik_and_gradient`; several times faster than lifetimes' autograd, and for
Pareto/NBD hundreds of times faster than its gradient-free Nelder-Mead; same estimates up to
its tolerance). lifetimes itself is not imported here: the tests use it as the independent
check. Everything reported afterwards -- the
log-likelihood, AIC, BIC, the covariance of the estimates and every prediction -- comes from
the independent numpy/scipy implementations in this module, written from the papers:

* BG/NBD: Fader, Hardie & Lee (2005a), "Counting your customers the easy way: an
  alternative to the Pareto/NBD model", *Marketing Science* 24(2), 275-284, eq. (6)
  (log-likelihood; section 7 and Hardie's note 004), eq. (9)-(10) (expectations) and
  Hardie's note 021 (P(alive)).
* MBG/NBD: Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison of
  models for customer base analysis", *International Journal of Research in Marketing*
  24(3), 201-209 (dropout may also happen right after the first purchase).
* Pareto/NBD: Schmittlein, Morrison & Colombo (1987); the likelihood, P(alive) and the
  conditional expectation as in Fader & Hardie (2005), "A note on deriving the Pareto/NBD
  model and related expressions" (brucehardie.com note 009), eqs. (22), (34)/(35), (41).
* Gamma-Gamma: Fader, Hardie & Lee (2005b), "RFM and CLV: using iso-value curves for
  customer base analysis", *Journal of Marketing Research* 42(4), 415-430, and Fader &
  Hardie (2013), "The Gamma-Gamma model of monetary value" (note 025).

Why not use the lifetimes numbers directly: its ``_negative_log_likelihood_`` is a
per-customer mean on internally rescaled time, so it is not the papers' log-likelihood;
``ParetoNBDFitter`` has no standard errors; and its Pareto/NBD P(alive) can become NaN for
heavy buyers. Importing ``lifetimes`` changes the global warning filters.

Time is in the unit of the summary, ``"D"`` (days) or ``"W"`` (weeks = days / 7). The
fitted result records it (``time_unit``) so that downstream code (CLV horizons in months)
converts correctly.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import integrate, stats
from scipy.special import betaln, expit, gammaln, hyp2f1

from analysis import fmt
from analysis.errors import ModelFitError, format_examples, plain, rows_of  # noqa: F401 (re-exported)

MODEL_NAMES: tuple[str, ...] = ("bgnbd", "pareto", "mbgnbd")
"""Transaction models this module fits: BG/NBD, Pareto/NBD and MBG/NBD."""

PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "pareto": ("r", "alpha", "s", "beta"),
    "mbgnbd": ("r", "alpha", "a", "b"),
}
GAMMA_GAMMA_PARAMS: tuple[str, ...] = ("p", "q", "v")
MODEL_LABELS: dict[str, str] = {"bgnbd": "BG/NBD", "pareto": "Pareto/NBD", "mbgnbd": "MBG/NBD"}

DAYS_PER_UNIT: dict[str, float] = {"D": 1.0, "W": 7.0}

SELECTION_METRIC = "mean absolute error per customer of the holdout repeat transactions (MAE)"
"""What ``select_model(..., choice="auto")`` minimises."""

SILENCE_AWARE: tuple[str, ...] = ("pareto", "mbgnbd")
"""Models in which every customer's P(alive) falls while they stay silent. Under BG/NBD a
customer can only drop out right after a repeat purchase, so a one-time buyer keeps
P(alive) = 1 however long ago they bought: ``auto`` chooses among these models first."""

CORRELATION_THRESHOLD = 0.3

_FIT_ADVICE = (
    "What to try: check that the calibration period is long enough and that recency and T are"
    " in the intended time unit ({unit}); fit with a small penalizer (e.g. penalizer=0.001);"
    " look for and remove outlier customers (e.g. wholesale accounts with extreme frequency)."
)


_log = logging.getLogger(__name__)

_MAX_LOG_SE = 5.0  # exp(1.96 * 5) > 10^4: beyond this the estimates carry no information


# ---------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------


def _validate_summary(
    summary: pd.DataFrame, columns: Sequence[str], what: str = "customer summary", *, by_customer: bool = True
) -> None:
    """Fail loudly when ``summary`` cannot be used (missing columns, bad values).

    ``by_customer=False``: the rows are not customers (e.g. distinct rows with a weight
    column), so the ``customer_id`` index is not required.
    """
    if not isinstance(summary, pd.DataFrame):
        raise TypeError(f"The {what} must be a pandas DataFrame indexed by customer_id, not {type(summary).__name__}")
    if by_customer and summary.index.name != "customer_id":
        raise ValueError(
            f"The {what} must be indexed by customer_id (index name is {summary.index.name!r});"
            " use summary.set_index('customer_id')."
        )
    if by_customer and summary.index.has_duplicates:
        dup = summary.index[summary.index.duplicated()].unique()
        raise ValueError(f"The {what} has {len(dup)} duplicated customer_id values, at"
                         f" {rows_of(summary.index.duplicated())}")
    missing = [c for c in columns if c not in summary.columns]
    if missing:
        raise ValueError(f"Required column {missing[0]} missing from the {what} (has: {list(summary.columns)})")
    if len(summary) == 0:
        raise ValueError(f"The {what} has no rows")
    for col in columns:
        values = pd.to_numeric(summary[col], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            raise ValueError(
                f"Column {col} of the {what} has {int(bad.sum())} missing or non-numeric values,"
                f" at {rows_of(bad)}"
            )

    def _fail(mask: np.ndarray, text: str) -> None:
        if mask.any():
            rows = summary.loc[mask, [c for c in ("frequency", "recency", "T") if c in summary.columns]]
            examples = rows_of(mask) + ": " + ", ".join(str(plain(dict(r))) for _, r in rows.head(3).iterrows())
            raise ValueError(f"{int(mask.sum())} rows of the {what} have {text}, e.g. {examples}")

    if "frequency" in columns:
        f = summary["frequency"].to_numpy(dtype=float)
        _fail((f < 0) | (f != np.round(f)), "a frequency that is not a non-negative whole number")
    if "T" in columns:
        _fail(summary["T"].to_numpy(dtype=float) < 0, "T < 0 (T is the time from first purchase to the end)")
    if "recency" in columns:
        r = summary["recency"].to_numpy(dtype=float)
        _fail(r < 0, "a negative recency")
        if "T" in columns:
            _fail(r > summary["T"].to_numpy(dtype=float) * (1 + 1e-12), "recency > T")
        if "frequency" in columns:
            _fail((summary["frequency"].to_numpy(dtype=float) == 0) & (r != 0), "frequency 0 but recency != 0")
    if "monetary_value" in columns:
        _fail(summary["monetary_value"].to_numpy(dtype=float) < 0, "a negative monetary_value")


def _resolve_time_unit(summary: pd.DataFrame, time_unit: str | None) -> str:
    unit = time_unit if time_unit is not None else summary.attrs.get("time_unit")
    if unit is None:
        raise ValueError(
            "The time unit of the summary is unknown: pass time_unit='D' (days) or 'W' (weeks = days/7),"
            " the unit in which recency and T were computed."
        )
    if unit not in DAYS_PER_UNIT:
        raise ValueError(f"time_unit must be 'D' or 'W', not {unit!r}")
    return unit


def _as_params(name: str, params: Mapping[str, float] | Sequence[float] | np.ndarray) -> tuple:
    names = PARAM_NAMES[name] if name in PARAM_NAMES else GAMMA_GAMMA_PARAMS
    if isinstance(params, Mapping):
        return tuple(params[k] for k in names)
    if len(params) != len(names):
        raise ValueError(f"{name} needs {len(names)} parameters {names}, got {len(params)}")
    return tuple(params)


# ---------------------------------------------------------------------------------------
# Log-likelihoods (individual level, the papers' sense)
# ---------------------------------------------------------------------------------------


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
    r, alpha, a, b = _as_params("bgnbd", params)
    x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    term_alive = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    with np.errstate(invalid="ignore", divide="ignore"):
        term_dead = betaln(a + 1, b + x - 1) - (r + x) * np.log(alpha + tx)
    term_dead = np.where(x > 0, term_dead, -np.inf)
    return common + np.logaddexp(term_alive, term_dead)


def mbgnbd_log_likelihood(
    params: Mapping[str, float] | Sequence[float], frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Individual MBG/NBD log-likelihood (Batislam, Denizel & Filiztekin 2007).

    Same as BG/NBD except that a customer may also drop out right after the first
    purchase::

        L = B(a, b+x+1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
            + B(a+1, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))

    Parameters and return value as :func:`bgnbd_log_likelihood`.
    """
    r, alpha, a, b = _as_params("mbgnbd", params)
    x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    term_alive = betaln(a, b + x + 1) - (r + x) * np.log(alpha + T)
    term_dead = betaln(a + 1, b + x) - (r + x) * np.log(alpha + tx)
    return common + np.logaddexp(term_alive, term_dead)


def _log1mexp(d: np.ndarray) -> np.ndarray:
    """log(1 - exp(d)) for d <= 0, accurate at both ends (Maechler 2012)."""
    d = np.asarray(d, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > -math.log(2.0), np.log(-np.expm1(d)), np.log1p(-np.exp(d)))


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
    r, alpha, s, beta = _as_params("pareto", params)
    x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    dead = np.log(s) + _pareto_log_gap(r, alpha, s, beta, x, tx, T)
    return head + np.logaddexp(alive, dead)


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
    p, q, v = _as_params("gamma_gamma", params)
    x, m = (np.asarray(a, dtype=float) for a in (frequency, monetary_value))
    px = p * x
    return (
        gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
        + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(v + x * m)
    )


_LOGLIK: dict[str, Callable[..., np.ndarray]] = {
    "bgnbd": bgnbd_log_likelihood,
    "pareto": pareto_nbd_log_likelihood,
    "mbgnbd": mbgnbd_log_likelihood,
}


# ---------------------------------------------------------------------------------------
# Weighted sample log-likelihoods with analytic gradients (for fitting)
# ---------------------------------------------------------------------------------------


def _by_value(x: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct values of ``x``, the position of each row's value and the weight per value."""
    ux, inverse = np.unique(x, return_inverse=True)
    return ux, inverse, np.bincount(inverse, weights=n, minlength=len(ux))


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
    log_aT, log_atx = np.log(alpha + T), np.log(alpha + tx)
    b_shift = b + (np.maximum(x, 1.0) - 1.0 if c == 0.0 else x + c - 1.0)
    alive = -(r + x) * log_aT
    dead = math.log(a) - np.log(b_shift) - (r + x) * log_atx
    if c == 0.0:
        dead = np.where(x > 0, dead, -np.inf)
    both = np.logaddexp(alive, dead)
    w_dead = np.exp(dead - both)
    w_alive = 1.0 - w_dead
    ll += n @ both
    g_r -= n @ (w_alive * log_aT + w_dead * log_atx)
    g_alpha -= n @ ((r + x) * (w_alive / (alpha + T) + w_dead / (alpha + tx)))
    nw = n * w_dead
    g_a += nw.sum() / a
    g_b -= nw @ (1.0 / b_shift)
    return float(ll), np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])


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
    log_aT, log_bT = np.log(alpha + T), np.log(beta + T)
    alive = -(r + x) * log_aT - s * log_bT
    gap = plan.gap
    lg = np.full(len(x), -np.inf)
    lg[gap] = plan.log_gap(r, alpha, s, beta)
    dead = math.log(s) + lg
    both = np.logaddexp(alive, dead)
    w = np.where(gap, np.exp(dead - both), 0.0)
    w_alive = 1.0 - w
    ll += n @ both
    g_r -= n @ (w_alive * log_aT)
    g_alpha -= n @ (w_alive * (r + x) / (alpha + T))
    g_s -= n @ (w_alive * log_bT)
    g_beta -= n @ (w_alive * s / (beta + T))
    if gap.any():
        xs, nw, lgs = x[gap], (n * w)[gap], lg[gap]
        d_alpha = -(r + xs) * np.exp(plan.log_gap(r, alpha, s, beta, dx=1.0) - lgs)
        d_beta = -(s + 1.0) * np.exp(plan.log_gap(r, alpha, s + 1.0, beta) - lgs)
        h_r, h_s = 1e-6 * max(r, 1e-3), 1e-6 * max(s, 1e-3)
        d_r = (plan.log_gap(r + h_r, alpha, s, beta) - plan.log_gap(r - h_r, alpha, s, beta)) / (2 * h_r)
        d_s = (plan.log_gap(r, alpha, s + h_s, beta) - plan.log_gap(r, alpha, s - h_s, beta)) / (2 * h_s)
        g_r += nw @ d_r
        g_alpha += nw @ d_alpha
        g_s += nw @ (1.0 / s + d_s)
        g_beta += nw @ d_beta
    return float(ll), np.array([g_r * r, g_alpha * alpha, g_s * s, g_beta * beta])


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
            lt_x = _pareto_log_tail(r, alpha, s, beta, self.xa + dx, self.ta)[self.ia]
            lt_T = _pareto_log_tail(r, alpha, s, beta, self.xb + dx, self.tb)[self.ib]
            return lt_x + _log1mexp(np.minimum(lt_T - lt_x, 0.0))


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


def _gradient_hessian(grad: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, h: float = 1e-4):
    """Gradient at ``x0`` and the Hessian by central differences of the analytic gradient."""
    k = len(x0)
    H = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = h
        H[i] = (grad(x0 + step) - grad(x0 - step)) / (2 * h)
    return grad(x0), (H + H.T) / 2


def _minimize(objective: Callable[[np.ndarray], tuple[float, np.ndarray]], x0: np.ndarray):
    """BFGS on ``objective`` (value and gradient), as lifetimes' fitters call it, with a tighter tolerance."""
    from scipy.optimize import minimize

    with np.errstate(all="ignore"):
        return minimize(objective, x0, jac=True, method="BFGS", options={"gtol": 1e-9, "maxiter": 2000})


# ---------------------------------------------------------------------------------------
# Predictions (pure functions; parameters may be arrays that broadcast, e.g. draws)
# ---------------------------------------------------------------------------------------


def p_alive(
    name: str, params: Mapping[str, float] | Sequence, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Probability that a customer with history (x, t_x, T) is still active at T.

    * BG/NBD: Fader, Hardie & Lee (2005a) / Hardie's note 021:
      ``1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``.
    * MBG/NBD: Batislam et al. (2007): ``1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))``.
    * Pareto/NBD: note 009, eq. (34): ``1 / (1 + s (alpha+T)^(r+x) (beta+T)^s Δ)`` with
      ``Δ = integral_{t_x}^T (alpha+u)^-(r+x) (beta+u)^-(s+1) du``, in log space.

    Parameters
    ----------
    name
        ``"bgnbd"``, ``"pareto"`` or ``"mbgnbd"``.
    params
        Parameter dict or sequence (arrays broadcast against the data).
    frequency, recency, T
        Customer history in the model's time unit.

    Returns
    -------
    numpy.ndarray
        Probabilities in [0, 1].
    """
    x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    if name == "bgnbd":
        r, alpha, a, b = _as_params(name, params)
        log_odds_dead = np.log(a) - np.log(b + np.maximum(x, 1.0) - 1.0) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return np.where(x > 0, expit(-log_odds_dead), 1.0)
    if name == "mbgnbd":
        r, alpha, a, b = _as_params(name, params)
        log_odds_dead = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return expit(-log_odds_dead)
    if name == "pareto":
        r, alpha, s, beta = _as_params(name, params)
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        dead = np.log(s) + _pareto_log_gap(r, alpha, s, beta, x, tx, T)
        return np.exp(alive - np.logaddexp(alive, dead))
    raise ValueError(f"Unknown model {name!r}; expected one of {MODEL_NAMES}")


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


def alive_expectation(name: str, params: Mapping[str, float] | Sequence, frequency: np.ndarray, T: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Expected repeat purchases in (T, T+t] for a customer who is alive at T with x purchases.

    The conditional expectation of each model factors as
    ``E[X(T, T+t) | x, t_x, T] = P(alive | x, t_x, T) * alive_expectation(x, T, t)``:

    * BG/NBD (FHL 2005a, eq. (10) times the denominator):
      ``(a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]``;
    * MBG/NBD (Batislam et al. 2007):
      ``(a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))]``;
    * Pareto/NBD (note 009, eq. (41)): ``(r+x)(beta+T)/((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]``.

    Parameters
    ----------
    name
        Model name.
    params
        Parameter dict or sequence (arrays broadcast).
    frequency, T
        x and T of the customer.
    t
        Length of the future period, same time unit.

    Returns
    -------
    numpy.ndarray
    """
    x, T, t = (np.asarray(v, dtype=float) for v in (frequency, T, t))
    if name == "bgnbd":
        r, alpha, a, b = _as_params(name, params)
        return _bg_family_alive_expectation(a + b + x - 1.0, a, a + b - 1.0 - r, a + b + x - 1.0, alpha + T, t)
    if name == "mbgnbd":
        r, alpha, a, b = _as_params(name, params)
        return _bg_family_alive_expectation(a + b + x, a, a + b - r, a + b + x, alpha + T, t)
    if name == "pareto":
        r, alpha, s, beta = _as_params(name, params)
        L = np.log1p(t / (beta + T))  # log((beta+T+t)/(beta+T))
        c = np.asarray(s, dtype=float) - 1.0
        small = np.abs(c) < 1e-10
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(small, L, -np.expm1(-c * L) / np.where(small, 1.0, c))
        return (r + x) * (beta + T) / (alpha + T) * frac
    raise ValueError(f"Unknown model {name!r}; expected one of {MODEL_NAMES}")


def conditional_expected_purchases(
    name: str, params: Mapping[str, float] | Sequence, t: np.ndarray, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """E[X(T, T+t) | x, t_x, T]: expected repeat purchases in the next ``t`` time units.

    FHL (2005a) eq. (10) (BG/NBD), Batislam et al. (2007) (MBG/NBD), Fader & Hardie
    note 009 eq. (41) (Pareto/NBD); computed as :func:`p_alive` times
    :func:`alive_expectation`.
    """
    return p_alive(name, params, frequency, recency, T) * alive_expectation(name, params, frequency, T, t)


def expected_purchases(name: str, params: Mapping[str, float] | Sequence, t: np.ndarray) -> np.ndarray:
    """E[X(t)]: expected repeat purchases in (0, t] of a customer just acquired at time 0.

    FHL (2005a) eq. (9) (BG/NBD); Batislam et al. (2007) (MBG/NBD:
    ``b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]``); note 009 eq. (27)
    (Pareto/NBD). Evaluated as the conditional expectation at x = t_x = T = 0; negative
    ``t`` gives 0.
    """
    t = np.maximum(np.asarray(t, dtype=float), 0.0)
    zero = np.zeros_like(t)
    return conditional_expected_purchases(name, params, t, zero, zero, zero)


_PMF_NODES = np.polynomial.legendre.leggauss(96)  # Gauss-Legendre nodes and weights on [-1, 1]


def purchase_count_pmf(name: str, params: Mapping[str, float] | Sequence, t: np.ndarray, n_max: int) -> np.ndarray:
    """P(X(t) = n) for n = 0 .. n_max - 1 and P(X(t) >= n_max) in the last column: how many repeat purchases a
    customer just acquired makes in (0, t]. Rows follow ``t``; each row sums to 1.

    BG/NBD: FHL (2005a) eq. (8). MBG/NBD: Batislam et al. (2007), the same with a possible drop-out at time 0
    (``B(a, b+x+1)`` and ``B(a+1, b+x)``, as lifetimes' ``ModifiedBetaGeoFitter``). Pareto/NBD: while alive the
    purchases are NBD, and the lifetime tau has the Pareto (Lomax) density ``s beta^s / (beta+tau)^(s+1)``, so
    ``P(X(t)=x) = (beta/(beta+t))^s NBD(x; t) + int_0^t s beta^s/(beta+tau)^(s+1) NBD(x; tau) dtau`` (Fader &
    Hardie 2006, "Deriving an expression for P(X(t) = x) under the Pareto/NBD model", before its closed form),
    integrated with 96-point Gauss-Legendre quadrature. NBD(x; t) is the negative binomial with ``r`` and
    ``alpha/(alpha+t)``.
    """
    if name not in PARAM_NAMES:
        raise ValueError(f"Unknown model {name!r}; expected one of {MODEL_NAMES}")
    t = np.atleast_1d(np.asarray(t, dtype=float))
    columns = [np.broadcast_to(np.asarray(v, dtype=float), t.shape)[:, None] for v in _as_params(name, params)]
    return _count_pmf(name, *columns, t[:, None], n_max)


def _count_pmf(family: str, r, alpha, c, d, t, n_max: int) -> np.ndarray:
    """:func:`purchase_count_pmf` with parameters and ``t`` as columns (one row per customer), so each row may
    have its own parameters."""
    n = np.arange(n_max)[None, :]

    def nbd(x, time):
        return stats.nbinom.pmf(x, r, alpha / (alpha + time))

    if family == "pareto":
        s, beta = c, d
        nodes, weights = _PMF_NODES
        tau = t[..., None] * (nodes + 1.0) / 2.0  # (m, 1, k) points in [0, t]
        # s beta^s / (beta+tau)^(s+1) = s/(beta+tau) (1 + tau/beta)^-s, in logs: a fit may end with beta and s
        # far beyond what a power of floats holds (no drop-out seen: both run off to infinity together)
        s3, beta3 = s[..., None], beta[..., None]
        density = s3 / (beta3 + tau) * np.exp(-s3 * np.log1p(tau / beta3)) * (t[..., None] / 2.0) * weights
        inner = stats.nbinom.pmf(n[..., None], r[..., None], alpha[..., None] / (alpha[..., None] + tau))
        pmf = np.exp(-s * np.log1p(t / beta)) * nbd(n, t) + (density * inner).sum(axis=-1)
    else:
        a, b = c, d
        tail = stats.nbinom.sf(n - 1, r, alpha / (alpha + t))  # P(NBD >= x)
        if family == "mbgnbd":
            pmf = (np.exp(betaln(a, b + n + 1.0) - betaln(a, b)) * nbd(n, t)
                   + np.exp(betaln(a + 1.0, b + n) - betaln(a, b)) * tail)
        else:  # bgnbd
            pmf = (np.exp(betaln(a, b + n) - betaln(a, b)) * nbd(n, t)
                   + np.where(n > 0, np.exp(betaln(a + 1.0, b + n - 1.0) - betaln(a, b)), 0.0) * tail)
    return np.column_stack([pmf, np.clip(1.0 - pmf.sum(axis=1), 0.0, 1.0)])


def conditional_purchase_count_pmf(name: str, params: Mapping[str, float] | Sequence, t: float, frequency: np.ndarray,
                                   recency: np.ndarray, T: np.ndarray, n_max: int) -> np.ndarray:
    """P(X(T, T+t) = n | x, t_x, T): how many repeat purchases each customer makes in the next ``t`` time units,
    given their history; columns as in :func:`purchase_count_pmf`, one row per customer.

    A customer who has dropped out makes none; one who is alive at T (probability :func:`p_alive`) buys from T on
    as a customer just acquired, with the parameters updated by their history: lambda ~ gamma(r+x, alpha+T) and
    for BG/NBD p ~ beta(a, b+x), for MBG/NBD beta(a, b+x+1) without a further drop-out at T (so BG/NBD's
    formula), for Pareto/NBD mu ~ gamma(s, beta+T). The expectation of these distributions is
    :func:`alive_expectation` (FHL 2005a eq. 10; Batislam et al. 2007; note 009 eq. 41); for Pareto/NBD this is
    Fader & Hardie note 028.
    """
    x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    alive = p_alive(name, params, x, tx, T)
    r, alpha, c, d = (np.broadcast_to(np.asarray(v, dtype=float), x.shape) for v in _as_params(name, params))
    if name == "pareto":
        future = ("pareto", r + x, alpha + T, c, d + T)
    else:
        future = ("bgnbd", r + x, alpha + T, c, d + x + (1.0 if name == "mbgnbd" else 0.0))
    col = lambda v: np.asarray(v, dtype=float).reshape(-1, 1)  # noqa: E731
    pmf = _count_pmf(future[0], *(col(v) for v in future[1:]), col(np.full(x.shape, float(t))), n_max)
    pmf = alive.reshape(-1, 1) * pmf
    pmf[:, 0] += 1.0 - alive.reshape(-1)
    return pmf


def p_alive_path(name: str, params: Mapping[str, float] | Sequence, purchase_dates, until, time_unit: str = "W"
                 ) -> pd.DataFrame:
    """One customer's story: P(alive) on every day from their first purchase up to ``until`` (lifetimes'
    ``calculate_alive_path`` / ``plot_history_alive``), from :func:`p_alive` with the history known that day.

    ``purchase_dates``: the customer's purchase dates (several on one day count as one purchase day, as
    everywhere in the kit); ``params`` in ``time_unit``. Returns ``date, p_alive, purchase`` (True on a purchase
    day), one row per day.
    """
    days = pd.DatetimeIndex(pd.to_datetime(pd.Series(purchase_dates))).normalize().unique().sort_values()
    if days.empty:
        raise ValueError("p_alive_path needs at least one purchase date")
    index = pd.date_range(days[0], pd.Timestamp(until).normalize(), freq="D")
    if index.empty:
        raise ValueError(f"until ({pd.Timestamp(until).date()}) is before the first purchase ({days[0].date()})")
    bought = index.isin(days)
    age = np.arange(len(index), dtype=float)
    last = np.maximum.accumulate(np.where(bought, age, 0.0))
    unit = DAYS_PER_UNIT[time_unit]
    alive = p_alive(name, params, np.cumsum(bought) - 1.0, last / unit, age / unit)
    return pd.DataFrame({"date": index, "p_alive": alive, "purchase": bought})


def repeat_purchase_check(name: str, params: Mapping[str, float] | Sequence, frequency: np.ndarray, T: np.ndarray,
                          n_max: int = 7) -> tuple[pd.DataFrame, dict[str, float]]:
    """How many customers made 0, 1, ..., n_max-1 and n_max or more repeat purchases in their time ``T`` (the
    calibration period), against how many the model expects (the sum of each customer's
    :func:`purchase_count_pmf` at their own T; FHL 2005a, Figure 3), with a chi-square goodness-of-fit test.

    Returns the table (``repeat_purchases`` as text, "7+" for the last group; ``actual``, ``expected``) and
    ``{"chi2", "df", "p_value"}``; df = groups - 1 - number of parameters. Groups with fewer than 5 expected
    customers are merged into the group before them for the test (not in the table).
    """
    frequency, T = np.asarray(frequency, dtype=float), np.asarray(T, dtype=float)
    values, inverse, counts = np.unique(T, return_inverse=True, return_counts=True)
    expected = (purchase_count_pmf(name, params, values, n_max) * counts[:, None]).sum(axis=0)
    actual = np.bincount(np.minimum(frequency, n_max).astype(int), minlength=n_max + 1)[: n_max + 1]
    labels = [str(k) for k in range(n_max)] + [f"{n_max}+"]
    table = pd.DataFrame({"repeat_purchases": labels, "actual": actual, "expected": expected})
    obs, exp = list(actual.astype(float)), list(expected)
    while len(exp) > 2 and exp[-1] < 5.0:  # merge small tail groups for the test
        last_obs, last_exp = obs.pop(), exp.pop()
        obs[-1] += last_obs
        exp[-1] += last_exp
    obs, exp = np.array(obs), np.array(exp)
    chi2 = float(((obs - exp) ** 2 / exp).sum())
    df = len(exp) - 1 - len(PARAM_NAMES[name])
    p_value = float(stats.chi2.sf(chi2, df)) if df > 0 else math.nan
    return table, {"chi2": chi2, "df": int(df), "p_value": p_value}


# ---------------------------------------------------------------------------------------
# Result objects
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FittedModel:
    """A fitted transaction model: estimates, fit statistics and predictions.

    Attributes
    ----------
    name
        ``"bgnbd"``, ``"pareto"`` or ``"mbgnbd"``.
    params
        Maximum-likelihood estimates: ``r, alpha, a, b`` or ``r, alpha, s, beta`` (alpha and
        beta in ``time_unit``).
    loglik, aic, bic
        Sample log-likelihood in the papers' sense, ``AIC = 2k - 2 LL``,
        ``BIC = k ln(n) - 2 LL`` with n = number of customers.
    n_customers
        Number of customers the model was fitted on.
    ci
        Confidence interval ``(low, high)`` per parameter at ``ci_level``:
        ``exp(log(theta) -/+ z se)`` from ``cov_log``.
    cov_log
        Asymptotic covariance of the log-parameters (inverse Hessian of the total negative
        log-likelihood in log-parameter space, central differences of its analytic gradient, or of
        the log-likelihood for Pareto/NBD), in the order of
        ``params``.
    time_unit
        ``"D"`` or ``"W"``.
    ci_level
        Confidence level of ``ci``.
    penalizer
        L2 penalizer as in lifetimes' fitters (0: plain maximum likelihood).
    """

    name: str
    params: dict[str, float]
    loglik: float
    aic: float
    bic: float
    n_customers: int
    ci: dict[str, tuple[float, float]]
    cov_log: np.ndarray
    time_unit: str
    ci_level: float = 0.95
    penalizer: float = 0.0

    @property
    def log_params(self) -> np.ndarray:
        """Log of the parameters in the order of ``params``."""
        return np.log(np.array([self.params[k] for k in PARAM_NAMES[self.name]], dtype=float))

    def p_alive(self, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(alive | x, t_x, T); see :func:`p_alive`."""
        return p_alive(self.name, self.params, frequency, recency, T)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: np.ndarray, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """Expected repeat purchases in the next ``t`` time units given the history."""
        return conditional_expected_purchases(self.name, self.params, t, frequency, recency, T)

    def expected_number_of_purchases_up_to_time(self, t: np.ndarray) -> np.ndarray:
        """Expected repeat purchases in ``(0, t]`` for a newly acquired customer."""
        return expected_purchases(self.name, self.params, t)


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
    p, q, v = _as_params("gamma_gamma", params)
    x = np.asarray(frequency, dtype=float)
    m = np.where(x > 0, np.asarray(monetary_value, dtype=float), 0.0)
    return (v + m * x) * p / (p * x + q - 1.0)


# ---------------------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------------------


def _numerical_gradient_hessian(f: Callable[[np.ndarray], float], x0: np.ndarray, h: float = 1e-3):
    """Central finite-difference gradient and Hessian of ``f`` at ``x0``."""
    k = len(x0)
    f0 = f(x0)
    eye = np.eye(k) * h
    fp = np.array([f(x0 + eye[i]) for i in range(k)])
    fm = np.array([f(x0 - eye[i]) for i in range(k)])
    grad = (fp - fm) / (2 * h)
    H = np.empty((k, k))
    for i in range(k):
        H[i, i] = (fp[i] - 2 * f0 + fm[i]) / h**2
        for j in range(i):
            H[i, j] = H[j, i] = (
                f(x0 + eye[i] + eye[j]) - f(x0 + eye[i] - eye[j]) - f(x0 - eye[i] + eye[j]) + f(x0 - eye[i] - eye[j])
            ) / (4 * h**2)
    return grad, H


def _covariance_and_ci(
    label: str,
    names: Sequence[str],
    log_theta: np.ndarray,
    nll: Callable[[np.ndarray], float],
    ci_level: float,
    unit: str,
    check_stationary: bool,
    nll_gradient: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, dict[str, tuple[float, float]]]:
    """Covariance of the log-parameters (inverse Hessian of the total NLL) and the intervals.

    The Hessian is the central difference of ``nll_gradient`` (analytic) when given, else of
    ``nll`` itself.
    """
    if nll_gradient is not None:
        grad, H = _gradient_hessian(nll_gradient, log_theta)
    else:
        grad, H = _numerical_gradient_hessian(nll, log_theta)
    advice = _FIT_ADVICE.format(unit=unit)
    if not np.all(np.isfinite(H)):
        raise ModelFitError(f"{label}: the log-likelihood is not finite around the estimate. {advice}")
    eig = np.linalg.eigvalsh((H + H.T) / 2)
    if eig.min() <= 0:
        raise ModelFitError(
            f"{label}: the log-likelihood is flat or not at a maximum at the estimate (Hessian not positive"
            f" definite, smallest eigenvalue {eig.min():.3g}), so standard errors are undefined. {advice}"
        )
    cov = np.linalg.inv(H)
    cov = (cov + cov.T) / 2
    se = np.sqrt(np.diag(cov))
    if se.max() > _MAX_LOG_SE:
        worst = names[int(np.argmax(se))]
        raise ModelFitError(
            f"{label}: the data do not pin down the parameters (the standard error of log({worst}) is"
            f" {se.max():.3g}, i.e. its confidence interval spans more than a factor of 10,000 either way). {advice}"
        )
    if check_stationary:
        step = np.linalg.solve(H, grad)
        worst = np.max(np.abs(step) / se)
        if worst > 0.5:
            raise ModelFitError(
                f"{label}: the optimizer stopped away from the maximum of the likelihood (a Newton step would move"
                f" a parameter by {worst:.2f} standard errors). {advice}"
            )
    z = stats.norm.ppf(0.5 + ci_level / 2)
    ci = {n: (float(np.exp(lt - z * s)), float(np.exp(lt + z * s))) for n, lt, s in zip(names, log_theta, se)}
    return cov, ci


def _check_estimates(label: str, params: Mapping[str, float], scale: float, unit: str) -> None:
    values = np.array(list(params.values()), dtype=float)
    advice = _FIT_ADVICE.format(unit=unit)
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ModelFitError(f"{label}: the estimates are not finite positive numbers ({dict(params)}). {advice}")
    for k, val in params.items():
        rel = val / scale if k in ("alpha", "beta") else val
        if rel > 1e5 or rel < 1e-6:
            raise ModelFitError(
                f"{label}: the estimate {k} = {val:.4g} is implausibly {'large' if rel > 1 else 'small'}"
                f" (the optimizer ran off to the edge of the parameter space). {advice}"
            )


def distinct_rows(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of equally long columns, in lexicographic order (hashing, no row sort).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``where``: the position of one input row per distinct row; ``inverse``: for each
        input row, the number of its distinct row. ``[c[where] for c in columns]`` are the
        distinct rows and ``c[where][inverse]`` gives ``c`` back.
    """
    codes, sizes = [], []
    for v in columns:
        c, u = pd.factorize(v, sort=True)
        codes.append(c.astype(np.int64))
        sizes.append(max(len(u), 1))
    if math.prod(sizes) < 2**62:  # one integer key per row, ordered like the rows' values
        key = codes[0]
        for c, size in zip(codes[1:], sizes[1:]):
            key = key * size + c
        inverse, uniques = pd.factorize(key, sort=True)
        where = np.empty(len(uniques), dtype=np.int64)
        where[inverse] = np.arange(len(inverse))  # a row of each distinct key
    else:  # too many combinations for one integer key
        _, where, inverse = np.unique(np.column_stack(codes), axis=0, return_index=True, return_inverse=True)
    return where, np.asarray(inverse, dtype=np.int64).ravel()


def _weighted_rows(
    summary: pd.DataFrame, columns: list[str], weights: str | None, what: str = "customer summary"
) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct rows of ``summary[columns]`` and how many customers share each.

    With ``weights`` (a column name) the rows are already distinct-with-counts; rows that
    still repeat are merged and their weights added. Rows come out in lexicographic order.
    """
    values = [summary[c].to_numpy(dtype=float) for c in columns]
    if weights is None:
        n = np.ones(len(summary))
    else:
        if weights not in summary.columns:
            raise ValueError(f"Weight column {weights} missing from the {what} (has: {list(summary.columns)})")
        n = pd.to_numeric(summary[weights], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(n) | (n < 0) | (n != np.round(n))
        if bad.any():
            raise ValueError(
                f"Column {weights} of the {what} must hold customer counts (whole numbers >= 0); {int(bad.sum())}"
                f" rows do not, e.g. {format_examples(summary[weights][bad])}"
            )
    where, inverse = distinct_rows(values)
    counts = np.bincount(inverse, weights=n, minlength=len(where))
    keep = counts > 0
    return [v[where][keep] for v in values], counts[keep]


def _start(start: Mapping[str, float] | None, names: Sequence[str], scale: float, default: float) -> np.ndarray:
    """Starting log-parameters on the rescaled time axis: ``default`` for each, or a previous fit's
    estimates (e.g. the calibration fit when refitting on all data, which saves iterations)."""
    if start is None:
        return np.full(len(names), default)
    values = np.array([float(start[k]) * (scale if k in ("alpha", "beta") else 1.0) for k in names])
    return np.log(values) if np.all(np.isfinite(values) & (values > 0)) else np.full(len(names), default)


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

    res = _minimize(objective, _start(start, PARAM_NAMES[model], scale, 0.1))
    log_theta = np.array(res.x, dtype=float)
    log_theta[1] -= math.log(scale)
    return log_theta, bool(np.all(np.isfinite(log_theta)))


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

    res = _minimize(objective, _start(start, PARAM_NAMES["pareto"], scale, 0.0))
    log_theta = np.array(res.x, dtype=float)
    log_theta[[1, 3]] -= math.log(scale)
    return log_theta, bool(np.all(np.isfinite(log_theta)))


def fit_model(
    summary: pd.DataFrame,
    model: str = "bgnbd",
    *,
    penalizer: float = 0.0,
    time_unit: str | None = None,
    ci_level: float = 0.95,
    weights: str | None = None,
    start: Mapping[str, float] | None = None,
) -> FittedModel:
    """Fit one transaction model to a customer summary.

    Parameters
    ----------
    summary
        Indexed by ``customer_id`` with ``frequency, recency, T``; or, with ``weights``,
        any rows of those columns with a count column.
    model
        ``"bgnbd"`` (BG/NBD, FHL 2005a), ``"pareto"`` (Pareto/NBD, SMC 1987) or ``"mbgnbd"``
        (MBG/NBD, Batislam et al. 2007).
    penalizer
        L2 penalizer coefficient as in lifetimes' fitters (0 = maximum likelihood).
    time_unit
        ``"D"`` or ``"W"``, the unit of recency and T; defaults to ``summary.attrs["time_unit"]``.
    ci_level
        Level of the parameter confidence intervals.
    weights
        Name of a column with how many customers each row stands for (e.g. the distinct
        ``(frequency, recency, T)`` rows a Spark cluster sends to the driver). ``None``:
        one row per customer.
    start
        Parameters to start the optimizer from (e.g. the calibration-period fit when refitting
        on all data); ``None``: lifetimes' fixed start. The maximum is the same either way, up
        to the optimizer's tolerance.

    Returns
    -------
    FittedModel

    Raises
    ------
    ModelFitError
        If the optimizer fails or the estimates are not usable; the message says what to try.

    Notes
    -----
    The fit runs on the distinct ``(frequency, recency, T)`` rows weighted by their counts.
    BG/NBD and MBG/NBD maximise the likelihood with analytic gradients
    (:func:`bg_family_loglik_and_gradient`, same objective as lifetimes); Pareto/NBD uses
    lifetimes' ``ParetoNBDFitter``. The covariance is the inverse Hessian of the papers'
    log-likelihood (central differences of the analytic gradient where there is one).
    """
    if model not in MODEL_NAMES:
        raise ValueError(f"Unknown model {model!r}; expected one of {MODEL_NAMES}")
    _validate_summary(summary, ["frequency", "recency", "T"], by_customer=weights is None)
    unit = _resolve_time_unit(summary, time_unit)
    if penalizer < 0:
        raise ValueError(f"penalizer must be >= 0, got {penalizer}")
    (x, tx, T), n = _weighted_rows(summary, ["frequency", "recency", "T"], weights)
    if len(n) == 0:
        raise ValueError("The customer summary has no rows with a positive weight")
    names = PARAM_NAMES[model]
    label = MODEL_LABELS[model]
    advice = _FIT_ADVICE.format(unit=unit)
    # A customer first seen on the last day of the period (T = 0) has likelihood 1 under every
    # model (nothing could have happened yet): such rows carry no information and are left out.
    seen = T > 0
    if not seen.all():
        _log.info("%s: %s customers first bought on the last day of the period (T = 0) and are left out of the fit",
                  label, f"{int(n[~seen].sum()):,}")
        if not seen.any():
            raise ModelFitError(
                f"{label}: every customer made their first purchase on the last day of the period, so nothing"
                " about repeat buying can be learnt yet. Use a later observation or calibration end."
            )
        x, tx, T, n = x[seen], tx[seen], T[seen], n[seen]
    _log.info("%s: fitting on %s distinct (frequency, recency, T) rows of %s customers", label, f"{len(n):,}",
              f"{int(n.sum()):,}")

    log_fit, finite = (_fit_bg_family(model, x, tx, T, n, penalizer, start) if model in ("bgnbd", "mbgnbd")
                       else _fit_pareto(x, tx, T, n, penalizer, start))
    if not finite:
        raise ModelFitError(f"{label}: the optimizer did not converge (it ran off to infinity). {advice}")
    est = {k: float(v) for k, v in zip(names, np.exp(log_fit))}

    _check_estimates(label, est, float(T.max()), unit)

    def nll(log_theta: np.ndarray) -> float:
        return -float(np.sum(n * _LOGLIK[model](np.exp(log_theta), x, tx, T)))

    if model in ("bgnbd", "mbgnbd"):
        by_x = _by_value(x, n)

        def gradient(log_theta: np.ndarray) -> np.ndarray:
            return -bg_family_loglik_and_gradient(model, log_theta, x, tx, T, n, by_x=by_x)[1]
    else:
        plan = _ParetoGapPlan(x, tx, T, n)

        def gradient(log_theta: np.ndarray) -> np.ndarray:
            return -pareto_nbd_loglik_and_gradient(log_theta, x, tx, T, n, plan=plan)[1]

    log_theta = np.log([est[k] for k in names])
    loglik = -nll(log_theta)
    if not np.isfinite(loglik):
        raise ModelFitError(f"{label}: the log-likelihood at the estimates is not finite ({est}). {advice}")
    with np.errstate(all="ignore"):
        cov, ci = _covariance_and_ci(label, names, log_theta, nll, ci_level, unit, check_stationary=penalizer == 0,
                                     nll_gradient=gradient)
    n_cust = int(n.sum())
    k = len(names)
    return FittedModel(
        name=model, params=est, loglik=loglik, aic=2 * k - 2 * loglik, bic=k * math.log(n_cust) - 2 * loglik,
        n_customers=n_cust, ci=ci, cov_log=cov, time_unit=unit, ci_level=ci_level, penalizer=penalizer,
    )


def fit_models(
    cal_summary: pd.DataFrame,
    models: Iterable[str] = MODEL_NAMES,
    penalizer: float = 0.0,
    *,
    time_unit: str | None = None,
    ci_level: float = 0.95,
) -> dict[str, FittedModel]:
    """Fit each requested transaction model (see :func:`fit_model`).

    Returns
    -------
    dict
        Model name -> :class:`FittedModel`, in the requested order.
    """
    return {
        m: fit_model(cal_summary, m, penalizer=penalizer, time_unit=time_unit, ci_level=ci_level) for m in models
    }


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
        from analysis.i18n import say

        warning_text = say(
            "Frequency and average spend are correlated among repeat customers (Pearson {pearson}, Spearman"
            " {spearman}); the Gamma-Gamma model assumes they are independent, so its spend predictions (and CLV)"
            " should be read with caution.", pearson=fmt.current().number(corr["pearson"]),
            spearman=fmt.current().number(corr["spearman"]))
    return GammaGammaFit(
        params=est, loglik=loglik, aic=6 - 2 * loglik, bic=3 * math.log(n_cust) - 2 * loglik, n_customers=n_cust,
        ci=ci, cov_log=cov, correlation=corr, correlation_warning=warning_text, ci_level=ci_level,
    )


def select_model(
    results: Mapping[str, FittedModel], holdout_errors: Mapping[str, float], choice: str = "auto"
) -> FittedModel:
    """Choose the transaction model used downstream.

    Parameters
    ----------
    results
        Model name -> fitted model (from :func:`fit_models`).
    holdout_errors
        Model name -> per-customer mean absolute error of the holdout repeat transactions
        (``holdout.holdout_errors(...)["mae"]``). Only used when ``choice="auto"``.
    choice
        ``"bgnbd"``, ``"pareto"``, ``"mbgnbd"`` or ``"auto"``. ``"auto"`` picks, among the
        fitted models of ``SILENCE_AWARE`` (Pareto/NBD, MBG/NBD), the one with the lowest MAE
        (see ``SELECTION_METRIC``), and BG/NBD only when neither could be fitted; ties go to
        the earlier model in ``("bgnbd", "pareto", "mbgnbd")``.

    Returns
    -------
    FittedModel
    """
    valid = (*MODEL_NAMES, "auto")
    if choice not in valid:
        raise ValueError(f"model choice must be one of {valid}, not {choice!r}")
    if choice != "auto":
        if choice not in results:
            raise ValueError(f"Model {choice!r} was requested but not fitted (fitted: {list(results)})")
        return results[choice]
    candidates = ([m for m in MODEL_NAMES if m in results and m in SILENCE_AWARE]
                  or [m for m in MODEL_NAMES if m in results])
    missing = [m for m in candidates if m not in holdout_errors or not np.isfinite(holdout_errors[m])]
    if missing:
        raise ValueError(f"No finite holdout error for fitted model(s) {missing}; cannot choose automatically")
    if not candidates:
        raise ValueError("No fitted models to choose from")
    best = min(candidates, key=lambda m: (holdout_errors[m], MODEL_NAMES.index(m)))
    return results[best]


__all__ = [
    "MODEL_NAMES", "MODEL_LABELS", "PARAM_NAMES", "GAMMA_GAMMA_PARAMS", "SELECTION_METRIC", "SILENCE_AWARE", "ModelFitError", "FittedModel",
    "GammaGammaFit", "bgnbd_log_likelihood", "mbgnbd_log_likelihood", "pareto_nbd_log_likelihood",
    "gamma_gamma_log_likelihood", "bg_family_loglik_and_gradient", "pareto_nbd_loglik_and_gradient", "gamma_gamma_loglik_and_gradient",
    "distinct_rows", "p_alive", "alive_expectation", "conditional_expected_purchases",
    "expected_purchases", "expected_average_value", "fit_model", "fit_models", "fit_gamma_gamma",
    "frequency_spend_correlation", "select_model", "purchase_count_pmf", "conditional_purchase_count_pmf",
    "repeat_purchase_check", "p_alive_path",
]
