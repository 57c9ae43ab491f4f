"""Customer lifetime value from a fitted transaction model and the Gamma-Gamma spend model.

For customer i with history (x, t_x, T) and mean repeat spend mbar, over ``horizon_months``
months (Fader, Hardie & Lee 2005b, "RFM and CLV", eq. (2) in discrete monthly form)::

    CLV_i = gross_margin * E[M_i] * sum_{m=1..H} (E[X(t_m) | x, t_x, T] - E[X(t_{m-1}) | x, t_x, T]) / (1 + d)^m

* ``t_m`` = m months in the model's time unit (a month is 365.25/12 days; a week is 7 days),
  so the result does not depend on whether the model was fitted in days or weeks;
* ``d = (1 + annual_discount_rate)^(1/12) - 1`` is the equivalent monthly discount rate;
* ``E[X(t) | ...]`` is the model's conditional expectation (FHL 2005a eq. (10) for BG/NBD);
* ``E[M_i]`` is the Gamma-Gamma expected mean spend (FHL 2005b eq. (5)); customers without a
  repeat purchase get the population mean ``p v / (q - 1)``.

Uncertainty: see ``UNCERTAINTY_METHOD``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import ClvBandError
from analysis.models import (
    DAYS_PER_UNIT,
    GAMMA_GAMMA_PARAMS,
    PARAM_NAMES,
    FittedModel,
    GammaGammaFit,
    _validate_summary,
    alive_expectation,
    dert,
    distinct_rows,
    expected_average_value,
    get,
    p_alive,
)

_log = logging.getLogger(__name__)

BLOCK_SIZE = 4096
"""Customers per block of the simulated band: each block holds a (customers x draws) array."""

DAYS_PER_MONTH = 365.25 / 12

UNCERTAINTY_METHOD = (
    "simulation from the asymptotic normal distribution of the parameter estimates (Krinsky–Robb),"
    " equivalent in spirit to the delta method"
)
"""How ``clv_low``/``clv_high`` are obtained (Krinsky & Robb 1986, Review of Economics and Statistics 68(4)).

Parameter sets are drawn from the multivariate normal distribution of the log-parameters
(maximum-likelihood estimate, inverse Hessian) of the transaction model and, independently,
of the Gamma-Gamma model; CLV is recomputed for each draw and the band is the central
``level`` interval of the draws (per customer, and of the per-draw total).
"""

CLV_COLUMNS = ["p_alive", "expected_purchases", "expected_avg_value", "clv", "clv_low", "clv_high"]


def monthly_discount_rate(annual_discount_rate: float) -> float:
    """Monthly rate equivalent to an annual one: ``(1 + annual)^(1/12) - 1``."""
    if annual_discount_rate <= -1:
        raise ValueError(f"annual_discount_rate must be > -1, got {annual_discount_rate}")
    return (1.0 + annual_discount_rate) ** (1.0 / 12.0) - 1.0


def month_length(time_unit: str) -> float:
    """Length of one month (365.25/12 days) in ``time_unit`` (``"D"`` or ``"W"``)."""
    if time_unit not in DAYS_PER_UNIT:
        raise ValueError(f"time_unit must be 'D' or 'W', not {time_unit!r}")
    return DAYS_PER_MONTH / DAYS_PER_UNIT[time_unit]


@dataclass(frozen=True, eq=False)
class ClvResult:
    """Per-customer CLV with uncertainty bands, and the cohort total.

    Attributes
    ----------
    customers
        Indexed by ``customer_id``: ``p_alive``, ``expected_purchases`` (expected repeat
        purchases over the horizon, undiscounted), ``expected_avg_value`` (E[M]), ``clv``
        (at the parameter estimates), ``clv_low``, ``clv_high`` (band at ``level``). None when the scores
        were written to storage instead (:func:`analysis.spark_engine.write_customer_scores`).
    total_clv, total_clv_low, total_clv_high
        Sum of ``clv`` and the band of the per-draw sums.
    level, n_draws, seed, method
        Band level, number of parameter draws used, random seed, ``UNCERTAINTY_METHOD``.
    horizon_months, annual_discount_rate, gross_margin, model_name, time_unit
        The inputs, for the record.
    draw_totals
        Total CLV of all customers under each of the parameter draws requested, NaN for the
        draws left out (non-finite CLVs); ``None`` without draws. Totals of disjoint groups
        of customers add up draw by draw (a draw left out in one group is NaN in the sum), and
        :func:`total_band` of the sum is the band of the whole: this is how the Spark engine
        gets the band of the total from its chunks.
    """

    customers: pd.DataFrame | None
    total_clv: float
    total_clv_low: float
    total_clv_high: float
    level: float
    n_draws: int
    seed: int | None
    method: str
    horizon_months: int
    annual_discount_rate: float
    gross_margin: float
    model_name: str
    time_unit: str
    draw_totals: np.ndarray | None = None


def band_failure(used: int, n_draws: int) -> ClvBandError:
    """The error when too few parameter draws give a finite CLV for the band (both engines)."""
    return ClvBandError(
        f"Only {used} of {n_draws} parameter draws gave finite CLVs: the estimates of the fit on all data are too"
        " uncertain for a simulated band (see their intervals on the model page). More history (a transaction file"
        " covering a longer period) narrows them."
    )


def total_band(draw_totals: np.ndarray, level: float) -> tuple[float, float, int]:
    """Band at ``level`` of the total CLV from its per-draw totals (see ``UNCERTAINTY_METHOD``).

    Parameters
    ----------
    draw_totals
        Total CLV under each parameter draw; non-finite entries (draws left out) are ignored.
    level
        Band level, e.g. 0.90.

    Returns
    -------
    (low, high, used)
        The central ``level`` interval of the finite totals (``numpy.quantile``, linear) and how
        many draws it uses.
    """
    totals = np.asarray(draw_totals, dtype=float)
    kept = totals[np.isfinite(totals)]
    if len(kept) == 0:
        return float("nan"), float("nan"), 0
    low, high = np.quantile(kept, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high), int(len(kept))


def _unique_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows of the given columns and, for each input row, the position of its unique row."""
    where, inverse = distinct_rows(columns)
    return [c[where] for c in columns], inverse


def _alive_sums(
    name: str, params: tuple, x: np.ndarray, T: np.ndarray, month: float, horizon_months: int, monthly_rate: float
) -> tuple[np.ndarray, np.ndarray]:
    """For customers alive at T with x repeat purchases: discounted and undiscounted expected purchases.

    ``params`` entries have shape (D, 1) (D parameter sets); x and T are the distinct
    (x, T) pairs. Returns arrays of shape (D, len(x)):
    ``sum_m (g_m - g_{m-1}) / (1+d)^m`` and ``g_H``, with g_m = ``alive_expectation`` at m months.
    """
    prev = np.zeros((params[0].shape[0], len(x)))
    disc = np.zeros_like(prev)
    for m in range(1, horizon_months + 1):
        g = alive_expectation(name, params, x, T, m * month)
        disc += (g - prev) / (1.0 + monthly_rate) ** m
        prev = g
    return disc, prev


def _discounted_purchases(
    name: str,
    params: tuple,
    x: np.ndarray,
    tx: np.ndarray,
    T: np.ndarray,
    month: float,
    horizon_months: int,
    monthly_rate: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For unique histories: P(alive), discounted and undiscounted expected purchases.

    ``params`` entries have shape (D, 1) (D parameter sets). The alive-conditional part of
    the expectation depends on (x, T) only, so it is evaluated on the unique (x, T) pairs.

    Returns arrays of shape (D, len(x)): P(alive), sum_m (E_m - E_{m-1}) / (1+d)^m, E_H.
    """
    (ux, uT), codes = _unique_rows(x, T)
    disc, last = _alive_sums(name, params, ux, uT, month, horizon_months, monthly_rate)
    pa = p_alive(name, params, x, tx, T)
    pa = np.broadcast_to(pa, (params[0].shape[0], len(x)))
    return pa, pa * disc[:, codes], pa * last[:, codes]


def _lerp_quantiles(sorted_rows: np.ndarray, probs: Sequence[float]) -> list[np.ndarray]:
    """Quantiles of each row of an ascending-sorted (rows, k) array, as ``np.quantile(..., axis=1)``.

    Linear interpolation between order statistics (numpy's default ``method="linear"``,
    Hyndman & Fan's type 7), with numpy's own arithmetic (``_lerp``), so the values are
    the same to the last bit; sorting rows first is several times faster than
    ``np.quantile`` on many short rows.
    """
    k = sorted_rows.shape[1]
    out = []
    for q in probs:
        virtual = (k - 1) * np.float64(q)
        lo = int(np.floor(virtual))
        hi = min(lo + 1, k - 1)
        gamma = virtual - lo
        a, b = sorted_rows[:, lo], sorted_rows[:, hi]
        diff = b - a
        out.append(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)
    return out


class _DrawBand:
    """Krinsky-Robb band over customers in bounded-memory blocks (see :func:`customer_lifetime_value`).

    For parameter draw d, customer i's CLV is (FHL 2005b; module docstring)::

        margin * E[M]_d * P(alive)_d * S_d,   E[M]_d = (v_d + mbar_i x_i) * p_d / (p_d x_i + q_d - 1)

    where S_d, the discounted alive-conditional purchases, depends on (x, T) only and is
    tabled once per draw on the distinct (x, T) pairs; P(alive) is evaluated per block on
    the distinct (x, t_x, T) rows (for BG/NBD and MBG/NBD from per-draw tables of
    ln(alpha + t), without logarithms per customer and draw); ``margin p_d / (p_d x + q_d
    - 1)`` is tabled per distinct x. Per customer only ``(v_d + mbar x) * W_d`` remains. Each
    block of customers holds one (customers x draws) array: its quantiles per customer and
    its per-draw sums for the band of the total. Memory is bounded by the block size and
    the number of distinct histories, not by the number of customers.
    """

    def __init__(self, name, theta, phi, histories, codes, x, spend, month, horizon_months, monthly_rate,
                 gross_margin, workers: int = 1):
        self.name = name
        self.tpar = tuple(np.exp(theta[:, j]) for j in range(theta.shape[1]))  # each (D,)
        p, q, self.v = (np.exp(phi[:, j]) for j in range(phi.shape[1]))
        (self.ux, self.utx, self.uT), self.codes = histories, codes
        (xT_x, xT_T), self.xT_code = _unique_rows(self.ux, self.uT)
        col = tuple(par[:, None] for par in self.tpar)

        def sums(lo: int, hi: int) -> np.ndarray:
            return _alive_sums(name, col, xT_x[lo:hi], xT_T[lo:hi], month, horizon_months, monthly_rate)[0]

        cuts = np.linspace(0, len(xT_x), workers + 1).astype(int)
        with ThreadPoolExecutor(max_workers=workers) as pool:  # scipy's hyp2f1 releases the GIL
            parts = list(pool.map(sums, cuts[:-1], cuts[1:]))
        self.disc = np.ascontiguousarray(np.concatenate(parts, axis=1).T)  # (distinct (x, T), D)
        self.finite_draws = np.all(np.isfinite(self.disc), axis=0)
        self.mx = np.where(x > 0, spend, 0.0) * x  # mbar x, 0 without repeat purchases
        vx, self.ix = np.unique(self.ux, return_inverse=True)
        self.spend_factor = gross_margin * p[None, :] / (p[None, :] * vx[:, None] + q[None, :] - 1.0)
        self.alive = get(name).alive_table(self.tpar, self.ux, self.utx, self.uT)

    def p_alive(self, lo: int, hi: int) -> np.ndarray:
        """P(alive) of the distinct histories lo..hi-1 under every draw, shape (hi-lo, D): the model's
        table (:meth:`analysis.models.base.TransactionModel.alive_table`)."""
        return self.alive(lo, hi)

    def block(self, members: np.ndarray, use: np.ndarray, probs: Sequence[float]):
        """CLV draws of the customers ``members``: their band, the per-draw sums and the non-finite draws."""
        codes = self.codes[members]
        lo, hi = int(codes.min()), int(codes.max()) + 1
        with np.errstate(invalid="ignore", over="ignore"):
            per_history = self.p_alive(lo, hi) * self.disc[self.xT_code[lo:hi]] * self.spend_factor[self.ix[lo:hi]]
            draws = self.v[None, :] + self.mx[members, None]
            draws *= per_history[codes - lo]
        bad = ~np.all(np.isfinite(draws), axis=0)
        sums = draws.sum(axis=0)
        kept = draws if use.all() else np.ascontiguousarray(draws[:, use])
        kept.sort(axis=1)
        return _lerp_quantiles(kept, probs), sums, bad


def _worker_count(n_threads: int | None) -> int:
    if n_threads is not None:
        return max(1, int(n_threads))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _draw_log_params(rng: np.random.Generator, mean: np.ndarray, cov: np.ndarray, n: int, valid) -> np.ndarray:
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))  # root @ root.T == cov (also when cov is singular)
    out = np.empty((0, len(mean)))
    for _ in range(100):
        draws = mean + rng.standard_normal((n, len(mean))) @ root.T
        out = np.vstack([out, draws[valid(draws)]])
        if len(out) >= n:
            return out[:n]
    raise ValueError("Could not draw valid parameter sets from the asymptotic distribution (too uncertain estimates)")


def _band_over_blocks(band: _DrawBand, level: float, workers: int, block_size: int):
    """Per-customer band, per-draw totals and the draws used, over blocks of customers in threads.

    Customers are taken in the order of their distinct history, so a block shares its
    P(alive) rows. Blocks are independent and their per-draw sums are added in block order,
    so the result does not depend on the number of threads. A draw found non-finite in a
    block (after the (x, T) table was checked) is dropped and the blocks are recomputed, so
    every customer's band uses the same draws, as in one array over all customers.
    """
    n = len(band.codes)
    order = np.argsort(band.codes, kind="stable")
    starts = list(range(0, n, block_size))
    probs = [(1 - level) / 2, (1 + level) / 2]
    use = band.finite_draws.copy()
    while True:
        low, high = np.empty(n), np.empty(n)
        done = [0]
        step = max(1, len(starts) // 10)

        def run(i: int, use=use):
            members = order[starts[i]:starts[i] + block_size]
            (lo, hi), sums, bad = band.block(members, use, probs)
            low[members], high[members] = lo, hi
            done[0] += 1
            if done[0] % step == 0 and len(starts) >= 20:
                _log.info("CLV band: %d%% of %s customers", round(100 * done[0] / len(starts)), f"{n:,}")
            return sums, bad

        if workers > 1 and len(starts) > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                parts = list(pool.map(run, range(len(starts))))
        else:
            parts = [run(i) for i in range(len(starts))]
        bad = np.any([b for _, b in parts], axis=0) & use
        if not bad.any():
            return low, high, np.sum([s for s, _ in parts], axis=0), use
        use = use & ~bad


def customer_lifetime_value(
    summary: pd.DataFrame,
    model: FittedModel,
    gamma_gamma: GammaGammaFit,
    *,
    horizon_months: int,
    annual_discount_rate: float,
    gross_margin: float,
    n_draws: int = 200,
    level: float = 0.90,
    seed: int | None = 0,
    n_threads: int | None = None,
    block_size: int = BLOCK_SIZE,
) -> ClvResult:
    """Discounted expected gross margin per customer over ``horizon_months``.

    Parameters
    ----------
    summary
        Indexed by ``customer_id`` with ``frequency, recency, T, monetary_value`` in
        ``model.time_unit`` (the end of the summary is "now").
    model
        Fitted transaction model (:func:`analysis.models.fit_model`).
    gamma_gamma
        Fitted spend model (:func:`analysis.models.fit_gamma_gamma`).
    horizon_months
        Number of future months summed (whole months).
    annual_discount_rate
        Yearly discount rate, e.g. 0.10; converted to the equivalent monthly rate.
    gross_margin
        Fraction of revenue kept as margin, in (0, 1].
    n_draws, level, seed
        Number of parameter draws, level of the bands and seed of the simulation (see
        ``UNCERTAINTY_METHOD``). ``n_draws=0`` skips the simulation (bands are NaN).
    n_threads
        Threads for the band (default: the CPUs this process may use). The results do not
        depend on it.
    block_size
        Customers per block of the band; memory grows with ``block_size * n_draws``, not
        with the number of customers.

    Returns
    -------
    ClvResult

    Notes
    -----
    The formula is in the module docstring. Computations run on the unique histories and
    are mapped back by ``customer_id``. The band is computed in blocks of customers (see
    ``_DrawBand``); the per-draw totals of all blocks give the band of the total.
    """
    _validate_summary(summary, ["frequency", "recency", "T", "monetary_value"])
    if int(horizon_months) != horizon_months or horizon_months < 1:
        raise ValueError(f"horizon_months must be a whole number >= 1, got {horizon_months}")
    if not 0 < gross_margin <= 1:
        raise ValueError(f"gross_margin must be in (0, 1], got {gross_margin}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if gamma_gamma.params["q"] <= 1:
        raise ValueError("Gamma-Gamma q <= 1: the mean spend p*v/(q-1) is undefined, so CLV is undefined")
    horizon_months = int(horizon_months)
    d = monthly_discount_rate(annual_discount_rate)
    month = month_length(model.time_unit)
    names = PARAM_NAMES[model.name]

    x, tx, T = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    (ux, utx, uT), codes = _unique_rows(x, tx, T)
    spend = summary["monetary_value"].to_numpy(dtype=float)

    params = tuple(np.exp(model.log_params[None, :][:, [j]]) for j in range(len(names)))
    pa, disc, exp_h = _discounted_purchases(model.name, params, ux, utx, uT, month, horizon_months, d)
    avg_value = expected_average_value(tuple(np.exp(gamma_gamma.log_params[None, :][:, [j]]) for j in range(3)),
                                       x, spend)[0]
    clv = gross_margin * avg_value * disc[0, codes]
    customers = pd.DataFrame(
        {
            "p_alive": pa[0, codes],
            "expected_purchases": exp_h[0, codes],
            "expected_avg_value": avg_value,
            "clv": clv,
        },
        index=summary.index,
    )

    low = high = np.full(len(summary), np.nan)
    total_low = total_high = float("nan")
    used = 0
    draw_totals = None
    if n_draws > 0:
        rng = np.random.default_rng(seed)
        theta = _draw_log_params(rng, model.log_params, model.cov_log, n_draws, lambda z: np.all(np.isfinite(z), axis=1))
        q_col = GAMMA_GAMMA_PARAMS.index("q")
        phi = _draw_log_params(
            rng, gamma_gamma.log_params, gamma_gamma.cov_log, n_draws, lambda z: np.exp(z[:, q_col]) > 1.0
        )
        workers = _worker_count(n_threads)
        band = _DrawBand(model.name, theta, phi, (ux, utx, uT), codes, x, spend, month, horizon_months, d,
                         gross_margin, workers)
        low, high, sums, use = _band_over_blocks(band, level, workers, block_size)
        used = int(use.sum())
        if used < max(10, n_draws // 2):
            raise band_failure(used, n_draws)
        draw_totals = np.where(use, sums, np.nan)
        total_low, total_high, _ = total_band(draw_totals, level)
    customers["clv_low"] = low
    customers["clv_high"] = high
    return ClvResult(
        customers=customers[CLV_COLUMNS],
        total_clv=float(clv.sum()),
        total_clv_low=total_low,
        total_clv_high=total_high,
        level=level,
        n_draws=used,
        seed=seed,
        method=UNCERTAINTY_METHOD,
        horizon_months=horizon_months,
        annual_discount_rate=annual_discount_rate,
        gross_margin=gross_margin,
        model_name=model.name,
        time_unit=model.time_unit,
        draw_totals=draw_totals,
    )


def residual_value(summary: pd.DataFrame, model: FittedModel, gamma_gamma: GammaGammaFit, *,
                   annual_discount_rate: float, gross_margin: float, weights: str | None = None) -> float | None:
    """The total discounted margin of every future purchase, without a horizon: per customer ``gross_margin x
    E[M | x, mbar] x DERT`` (Fader, Hardie & Lee 2005b, "RFM and CLV"; :func:`analysis.models.dert`, the same
    yearly rate as the horizon CLV, compounded continuously). ``summary``: ``frequency, recency, T,
    monetary_value`` in the model's time unit, one row per customer or rows with a count column ``weights``.
    None without discounting (the sum has no end)."""
    if annual_discount_rate <= 0:
        return None
    x, tx, T, m = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value"))
    n = np.ones(len(x)) if weights is None else summary[weights].to_numpy(dtype=float)
    residual = dert(model.name, model.params, annual_discount_rate, x, tx, T, time_unit=model.time_unit)
    value = gross_margin * expected_average_value(gamma_gamma.params, x, m) * residual
    return float(n @ value)


def _num(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def to_jsonable(
    models: Mapping[str, FittedModel],
    gamma_gamma: GammaGammaFit,
    expected_holdout: Mapping[str, float],
) -> dict:
    """Plain dict of the fitted models for ``artifacts/model.json``.

    Parameters
    ----------
    models
        Model name -> fitted model.
    gamma_gamma
        Fitted spend model.
    expected_holdout
        Model name -> expected total repeat transactions in the holdout
        (``holdout.holdout_errors(...)["total_expected"]``).

    Returns
    -------
    dict
        ``{name: {"params", "loglik", "aic", "bic", "ci", "expected_holdout"}, ...,
        "gamma_gamma": {"params", "loglik", "correlation": {"pearson", "spearman"}}}``;
        intervals are ``[low, high]`` lists and non-finite numbers become ``None``.
    """
    out: dict = {}
    for name, m in models.items():
        if name not in expected_holdout:
            raise ValueError(f"expected_holdout has no value for model {name!r}")
        out[name] = {
            "params": {k: _num(v) for k, v in m.params.items()},
            "loglik": _num(m.loglik),
            "aic": _num(m.aic),
            "bic": _num(m.bic),
            "ci": {k: [_num(lo), _num(hi)] for k, (lo, hi) in m.ci.items()},
            "ci_level": float(m.ci_level),
            "penalizer": float(m.penalizer),
            "expected_holdout": _num(expected_holdout[name]),
        }
    out["gamma_gamma"] = {
        "params": {k: _num(gamma_gamma.params[k]) for k in GAMMA_GAMMA_PARAMS},
        "loglik": _num(gamma_gamma.loglik),
        "ci": {k: [_num(lo), _num(hi)] for k, (lo, hi) in gamma_gamma.ci.items()},
        "ci_level": float(gamma_gamma.ci_level),
        "correlation": {k: _num(gamma_gamma.correlation[k]) for k in ("pearson", "spearman")},
    }
    return out


__all__ = [
    "DAYS_PER_MONTH", "UNCERTAINTY_METHOD", "CLV_COLUMNS", "ClvResult", "monthly_discount_rate", "month_length",
    "customer_lifetime_value", "total_band", "to_jsonable", "residual_value",
]
