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

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.models import (
    DAYS_PER_UNIT,
    GAMMA_GAMMA_PARAMS,
    PARAM_NAMES,
    FittedModel,
    GammaGammaFit,
    _validate_summary,
    alive_expectation,
    expected_average_value,
    p_alive,
)

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
        (at the parameter estimates), ``clv_low``, ``clv_high`` (band at ``level``).
    total_clv, total_clv_low, total_clv_high
        Sum of ``clv`` and the band of the per-draw sums.
    level, n_draws, seed, method
        Band level, number of parameter draws used, random seed, ``UNCERTAINTY_METHOD``.
    horizon_months, annual_discount_rate, gross_margin, model_name, time_unit
        The inputs, for the record.
    """

    customers: pd.DataFrame
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


def _unique_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows of the given columns and, for each input row, the position of its unique row."""
    uniq, inverse = np.unique(np.column_stack(columns), axis=0, return_inverse=True)
    return [uniq[:, j] for j in range(uniq.shape[1])], inverse.ravel()


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
    prev = np.zeros((params[0].shape[0], len(ux)))
    disc = np.zeros_like(prev)
    for m in range(1, horizon_months + 1):
        g = alive_expectation(name, params, ux, uT, m * month)
        disc += (g - prev) / (1.0 + monthly_rate) ** m
        prev = g
    pa = p_alive(name, params, x, tx, T)
    pa = np.broadcast_to(pa, (params[0].shape[0], len(x)))
    return pa, pa * disc[:, codes], pa * prev[:, codes]


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

    Returns
    -------
    ClvResult

    Notes
    -----
    The formula is in the module docstring. Computations run on the unique histories and
    are mapped back by ``customer_id``.
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

    (ux, utx, uT), codes = _unique_rows(*(summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T")))
    freq = summary["frequency"].to_numpy(dtype=float)
    spend = summary["monetary_value"].to_numpy(dtype=float)

    def transaction_part(log_theta: np.ndarray):
        params = tuple(np.exp(log_theta[:, [j]]) for j in range(len(names)))
        return _discounted_purchases(model.name, params, ux, utx, uT, month, horizon_months, d)

    def spend_part(log_phi: np.ndarray) -> np.ndarray:
        params = tuple(np.exp(log_phi[:, [j]]) for j in range(len(GAMMA_GAMMA_PARAMS)))
        return expected_average_value(params, freq, spend)

    pa, disc, exp_h = transaction_part(model.log_params[None, :])
    avg_value = spend_part(gamma_gamma.log_params[None, :])[0]
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
    if n_draws > 0:
        rng = np.random.default_rng(seed)
        theta = _draw_log_params(rng, model.log_params, model.cov_log, n_draws, lambda z: np.all(np.isfinite(z), axis=1))
        q_col = GAMMA_GAMMA_PARAMS.index("q")
        phi = _draw_log_params(
            rng, gamma_gamma.log_params, gamma_gamma.cov_log, n_draws, lambda z: np.exp(z[:, q_col]) > 1.0
        )
        _, disc_draws, _ = transaction_part(theta)
        with np.errstate(invalid="ignore", over="ignore"):
            clv_draws = gross_margin * spend_part(phi) * disc_draws[:, codes]
        ok = np.all(np.isfinite(clv_draws), axis=1)
        used = int(ok.sum())
        if used < max(10, n_draws // 2):
            raise ValueError(
                f"Only {used} of {n_draws} parameter draws gave finite CLVs; the estimates are too uncertain for"
                " a simulated band (try a longer calibration period)."
            )
        clv_draws = clv_draws[ok]
        tails = [(1 - level) / 2, (1 + level) / 2]
        low, high = np.quantile(clv_draws, tails, axis=0)
        total_low, total_high = (float(v) for v in np.quantile(clv_draws.sum(axis=1), tails))
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
    )


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
            "expected_holdout": _num(expected_holdout[name]),
        }
    out["gamma_gamma"] = {
        "params": {k: _num(gamma_gamma.params[k]) for k in GAMMA_GAMMA_PARAMS},
        "loglik": _num(gamma_gamma.loglik),
        "correlation": {k: _num(gamma_gamma.correlation[k]) for k in ("pearson", "spearman")},
    }
    return out


__all__ = [
    "DAYS_PER_MONTH", "UNCERTAINTY_METHOD", "CLV_COLUMNS", "ClvResult", "monthly_discount_rate", "month_length",
    "customer_lifetime_value", "to_jsonable",
]
