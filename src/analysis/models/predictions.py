"""Predictions of the transaction models by name (pure functions; parameters may be arrays that broadcast,
e.g. draws): each hands on to the registered model's method."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.models.base import DAYS_PER_UNIT
from analysis.models.registry import get


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
    return get(name).p_alive(params, x, tx, T)


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
    return get(name).alive_expectation(params, x, T, t)


def conditional_expected_purchases(
    name: str, params: Mapping[str, float] | Sequence, t: np.ndarray, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """E[X(T, T+t) | x, t_x, T]: expected repeat purchases in the next ``t`` time units.

    FHL (2005a) eq. (10) (BG/NBD), Batislam et al. (2007) (MBG/NBD), Fader & Hardie
    note 009 eq. (41) (Pareto/NBD); computed as :func:`p_alive` times
    :func:`alive_expectation`.
    """
    return p_alive(name, params, frequency, recency, T) * alive_expectation(name, params, frequency, T, t)


def dert(name: str, params: Mapping[str, float] | Sequence, annual_discount_rate: float, frequency: np.ndarray,
         recency: np.ndarray, T: np.ndarray, time_unit: str = "W") -> np.ndarray:
    """Discounted expected residual transactions (Fader, Hardie & Lee 2005b, "RFM and CLV"): every purchase
    from T on, each discounted to T at ``annual_discount_rate`` (the kit's unit rule: a yearly rate, compounded
    continuously as ``ln(1 + rate)`` per 365.25 days, so 15% a year is 0.0027 a week). DERT times the expected
    margin per purchase is the customer's remaining lifetime value without a horizon. Closed form for
    Pareto/NBD; quadrature (:meth:`~analysis.models.base.TransactionModel.dert`) for the others."""
    if not annual_discount_rate > 0:
        raise ValueError(f"annual_discount_rate must be > 0 (without discounting the sum has no end), got"
                         f" {annual_discount_rate}")
    rate = math.log1p(annual_discount_rate) * DAYS_PER_UNIT[time_unit] / 365.25
    x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    return get(name).dert(params, rate, x, tx, T)


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
    model = get(name)
    t = np.atleast_1d(np.asarray(t, dtype=float))
    columns = [np.broadcast_to(np.asarray(v, dtype=float), t.shape)[:, None] for v in model.values(params)]
    return _count_pmf(model, tuple(columns), t[:, None], n_max)


def _count_pmf(model, params: tuple, t, n_max: int) -> np.ndarray:
    """:func:`purchase_count_pmf` with parameters and ``t`` as columns (one row per customer), so each row may
    have its own parameters."""
    pmf = model.count_pmf(params, t, np.arange(n_max)[None, :])
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
    model = get(name)
    alive = model.p_alive(params, x, tx, T)
    values = tuple(np.broadcast_to(np.asarray(v, dtype=float), x.shape) for v in model.values(params))
    then, future = model.future(values, x, T)
    col = lambda v: np.asarray(v, dtype=float).reshape(-1, 1)  # noqa: E731
    pmf = _count_pmf(then, tuple(col(v) for v in future), col(np.full(x.shape, float(t))), n_max)
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
    df = len(exp) - 1 - len(get(name).param_names)
    p_value = float(stats.chi2.sf(chi2, df)) if df > 0 else math.nan
    return table, {"chi2": chi2, "df": int(df), "p_value": p_value}
