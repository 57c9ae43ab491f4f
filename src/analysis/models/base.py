"""What every transaction model shares: time units, the checks of a customer summary, and the interface a
model implements (:class:`TransactionModel`).

A model is one class in one file of this package (``bgnbd.py``, ``mbgnbd.py``, ``pareto_nbd.py``), registered by
name in :mod:`analysis.models.registry`. It owns its parameter names, label and references, its log-likelihood
and the gradient used to fit it, P(alive), the expected purchases of a customer alive at T, the distribution of
purchase counts, and (optionally) a fast P(alive) table for the CLV band. Code outside this package asks the
registry for the model and calls these methods; it never tests a model's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import plain, rows_of
from analysis.models.fitting import distinct_rows

DAYS_PER_UNIT: dict[str, float] = {"D": 1.0, "W": 7.0}

_LAGUERRE = np.polynomial.laguerre.laggauss(64)  # nodes and weights of int_0^inf e^-u f(u) du


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


def param_values(name: str, names: Sequence[str], params: Mapping[str, float] | Sequence[float] | np.ndarray) -> tuple:
    """``params`` (a mapping by name, or values in the order of ``names``) as a tuple in the order of ``names``."""
    if isinstance(params, Mapping):
        return tuple(params[k] for k in names)
    if len(params) != len(names):
        raise ValueError(f"{name} needs {len(names)} parameters {names}, got {len(params)}")
    return tuple(params)


def nbd_pmf(n, r, alpha, time):
    """P(N(time) = n) of the NBD: Poisson purchases whose rate is gamma(r, alpha) distributed."""
    return stats.nbinom.pmf(n, r, alpha / (alpha + time))


def has_row_gradient(model: "TransactionModel") -> bool:
    """Whether ``model`` implements :meth:`TransactionModel.loglik_and_gradient_rows`."""
    return type(model).loglik_and_gradient_rows is not TransactionModel.loglik_and_gradient_rows


class TransactionModel:
    """A buy-till-you-die model of repeat purchases in continuous time, described by a customer's history
    ``(x, t_x, T)``: repeat purchases, time of the last one and age, all from the first purchase on.

    Subclasses set the class attributes and implement the methods that raise ``NotImplementedError``.
    Parameters are passed as a mapping by name or a sequence in the order of ``param_names``; arrays
    broadcast against the data (the CLV band passes one column per parameter draw).
    """

    name: str = ""
    """The name in the configuration (``models.model``, ``models.compare``) and in ``model.json``."""
    label: str = ""
    """The name shown on the pages."""
    param_names: tuple[str, ...] = ()
    time_params: tuple[str, ...] = ()
    """Parameters in units of time (rescaled with the time axis while fitting)."""
    rate_params: tuple[str, ...] = ()
    """Parameters in units of 1/time."""
    covariate_links: dict[str, tuple[str, float]] = {}
    """For covariates (:mod:`analysis.models.covariates`): parameter -> (the coefficient vector that scales it, the
    sign of its exponent); empty when the model takes none."""
    compared_by_default: bool = True
    """Whether ``models.compare`` lists the model when the configuration does not say."""
    silence_aware: bool = False
    """Whether P(alive) falls while a customer stays silent (``auto`` chooses among these models first)."""
    lifetimes_fitter: str = ""
    """The matching fitter class of ``lifetimes`` (see :meth:`analysis.scoring.saved.SavedFit.to_lifetimes`)."""
    references: tuple[str, ...] = ()

    def values(self, params: Mapping[str, float] | Sequence[float] | np.ndarray) -> tuple:
        """The parameters as a tuple in the order of ``param_names``."""
        return param_values(self.name, self.param_names, params)

    # -- fitting ---------------------------------------------------------------------------
    def log_likelihood(self, params, frequency: np.ndarray, recency: np.ndarray, T: np.ndarray) -> np.ndarray:
        """ln L of each customer, in the papers' sense (the sample log-likelihood is the sum)."""
        raise NotImplementedError

    def fit_log_params(self, x, tx, T, n, penalizer: float, start: Mapping[str, float] | None
                       ) -> tuple[np.ndarray, bool]:
        """Maximise the (penalised) likelihood on distinct rows with counts ``n``: the log-parameters and
        whether they are finite."""
        raise NotImplementedError

    def loglik_and_gradient(self, x, tx, T, n) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
        """The weighted sample log-likelihood of the rows ``(x, t_x, T)`` with counts ``n`` and its gradient in the
        log-parameters, as a function of the log-parameters (work that depends on the rows alone is done once)."""
        raise NotImplementedError

    def loglik_and_gradient_rows(self, log_params, x, tx, T) -> tuple[np.ndarray, np.ndarray]:
        """Each row's log-likelihood (shape ``(n,)``) and its gradient in the log-parameters (shape ``(n, k)``),
        with the log-parameters given per row (arrays that broadcast against the rows): what a fit with a
        continuous covariate needs (:mod:`analysis.models.covariates`). A model without it is fitted there with
        numerical derivatives (see :func:`has_row_gradient`)."""
        raise NotImplementedError

    def loglik_gradient(self, x, tx, T, n) -> Callable[[np.ndarray], np.ndarray]:
        """The gradient of the weighted sample log-likelihood in the log-parameters, for the covariance."""
        both = self.loglik_and_gradient(x, tx, T, n)
        return lambda log_theta: both(log_theta)[1]

    def assumption(self) -> str | None:
        """What the model assumes about dropping out, in plain words (the report's language), for a model the
        model page does not describe already (those not compared by default)."""
        return None

    def limit(self, params: Mapping[str, float], longest: float) -> str | None:
        """When the estimates lie where this model is another, simpler one: why, in plain words (the report's
        language); ``longest`` is the largest T of the fit. None otherwise."""
        return None

    # -- predictions -----------------------------------------------------------------------
    def p_alive(self, params, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(alive at T | x, t_x, T)."""
        raise NotImplementedError

    def alive_expectation(self, params, x: np.ndarray, T: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Expected repeat purchases in (T, T+t] of a customer alive at T with x repeat purchases."""
        raise NotImplementedError

    def count_pmf(self, params: tuple, t, n: np.ndarray) -> np.ndarray:
        """P(X(t) = n) of a customer just acquired; ``params`` (one column per parameter) and ``t`` are columns
        (one row each), ``n`` a row."""
        raise NotImplementedError

    def future(self, params: tuple, x, T) -> tuple["TransactionModel", tuple]:
        """The model and parameters (arrays like ``x``) under which a customer alive at T buys from T on: the
        parameters updated by their history."""
        raise NotImplementedError

    def dert(self, params, rate: float, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Discounted expected residual transactions (Fader, Hardie & Lee 2005b): the purchases from T on, each
        discounted continuously at ``rate`` per time unit, ``P(alive) * int_0^inf e^(-rate t) dE(t)`` with E
        :meth:`alive_expectation`. Integrated by parts, ``int_0^inf e^(-u) E(u / rate) du``, which this default
        evaluates with 64-point Gauss-Laguerre quadrature, once per distinct (x, T); a model with a closed form
        overrides it."""
        x, tx, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, tx, T)))
        nodes, weights = _LAGUERRE
        where, inverse = distinct_rows([x.ravel(), T.ravel()])
        ux, uT = x.ravel()[where], T.ravel()[where]
        grown = self.alive_expectation(params, ux[:, None], uT[:, None], nodes[None, :] / rate) @ weights
        return self.p_alive(params, x, tx, T) * grown[inverse].reshape(x.shape)

    def alive_table(self, params: tuple, ux: np.ndarray, utx: np.ndarray, uT: np.ndarray
                    ) -> Callable[[int, int], np.ndarray]:
        """P(alive) of the histories ``(ux, utx, uT)[lo:hi]`` under every parameter draw (``params``: one
        array of draws per parameter), as ``table(lo, hi)`` of shape (hi-lo, draws). Models may precompute
        what the histories share; this default evaluates :meth:`p_alive` on each slice."""
        cols = tuple(p[None, :] for p in params)

        def table(lo: int, hi: int) -> np.ndarray:
            return self.p_alive(cols, ux[lo:hi, None], utx[lo:hi, None], uT[lo:hi, None])

        return table
