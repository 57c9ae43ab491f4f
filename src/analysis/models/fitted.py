"""Fitting a transaction model to a customer summary, and the frozen result (:class:`FittedModel`)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import ModelAtLimit, ModelFitError
from analysis.models.base import _resolve_time_unit, _validate_summary
from analysis.models.fitting import _FIT_ADVICE, _check_estimates, _covariance_and_ci, _weighted_rows
from analysis.models.predictions import conditional_expected_purchases, expected_purchases, p_alive
from analysis.models.registry import COMPARED_BY_DEFAULT, get

_log = logging.getLogger("analysis.models")


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
        return np.log(np.array([self.params[k] for k in get(self.name).param_names], dtype=float))

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
    Each model maximises lifetimes' objective with its analytic gradient
    (:meth:`~analysis.models.base.TransactionModel.fit_log_params`). The covariance is the inverse Hessian of the
    papers' log-likelihood (central differences of the analytic gradient).
    """
    spec = get(model)
    _validate_summary(summary, ["frequency", "recency", "T"], by_customer=weights is None)
    unit = _resolve_time_unit(summary, time_unit)
    if penalizer < 0:
        raise ValueError(f"penalizer must be >= 0, got {penalizer}")
    (x, tx, T), n = _weighted_rows(summary, ["frequency", "recency", "T"], weights)
    if len(n) == 0:
        raise ValueError("The customer summary has no rows with a positive weight")
    names = spec.param_names
    label = spec.label
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

    log_fit, finite = spec.fit_log_params(x, tx, T, n, penalizer, start)
    if not finite:
        raise ModelFitError(f"{label}: the optimizer did not converge (it ran off to infinity). {advice}")
    est = {k: float(v) for k, v in zip(names, np.exp(log_fit))}

    limit = spec.limit(est, float(T.max()))
    if limit:
        raise ModelAtLimit(f"{label}: {limit}.", limit)
    _check_estimates(label, est, float(T.max()), unit, spec.time_params, spec.rate_params)

    def nll(log_theta: np.ndarray) -> float:
        return -float(np.sum(n * spec.log_likelihood(np.exp(log_theta), x, tx, T)))

    loglik_gradient = spec.loglik_gradient(x, tx, T, n)

    def gradient(log_theta: np.ndarray) -> np.ndarray:
        return -loglik_gradient(log_theta)

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
    models: Iterable[str] = COMPARED_BY_DEFAULT,
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
