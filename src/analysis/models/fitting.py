"""Fitting helpers every model shares: distinct weighted rows, the optimizer, the covariance of the
estimates and their plausibility checks."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import ModelFitError, format_examples

_FIT_ADVICE = (
    "What to try: check that the calibration period is long enough and that recency and T are"
    " in the intended time unit ({unit}); fit with a small penalizer (e.g. penalizer=0.001);"
    " look for and remove outlier customers (e.g. wholesale accounts with extreme frequency)."
)

_MAX_LOG_SE = 5.0  # exp(1.96 * 5) > 10^4: beyond this the estimates carry no information


def _by_value(x: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct values of ``x``, the position of each row's value and the weight per value."""
    ux, inverse = np.unique(x, return_inverse=True)
    return ux, inverse, np.bincount(inverse, weights=n, minlength=len(ux))


def _gradient_hessian(grad: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, h: float = 1e-4):
    """Gradient at ``x0`` and the Hessian by central differences of the analytic gradient."""
    H = _hessian_of_gradient(grad, x0, h)
    return grad(x0), H


def _hessian_of_gradient(grad: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """The Hessian at ``x0`` by central differences of the analytic gradient (symmetrised)."""
    k = len(x0)
    H = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = h
        H[i] = (grad(x0 + step) - grad(x0 - step)) / (2 * h)
    return (H + H.T) / 2


_GTOL = 1e-9  # the optimizer's tolerance on the largest component of the gradient


class _Stationary(Exception):
    """Raised inside :func:`_minimize` at a point whose gradient meets the tolerance."""

    def __init__(self, x: np.ndarray, value: float, grad: np.ndarray) -> None:
        super().__init__()
        self.x, self.value, self.grad = x, value, grad


def _minimize(objective: Callable[[np.ndarray], tuple[float, np.ndarray]], x0: np.ndarray, *,
              first_stationary: bool = False):
    """BFGS on ``objective`` (value and gradient), as lifetimes' fitters call it, with a tighter tolerance.

    BFGS tests the tolerance only at the points its line searches accept. With ``first_stationary`` it stops at
    the first point it evaluates whose gradient meets the tolerance: near the maximum of a sum over a million
    customers, each with their own parameters, the changes of the value fall below its rounding, no step is
    accepted any more, and BFGS spends most of its evaluations in failing line searches beside points that meet
    the tolerance (the fit with a continuous covariate at 1M: 86 evaluations, the first such point at the 23rd).
    """
    from scipy.optimize import OptimizeResult, minimize

    options = {"gtol": _GTOL, "maxiter": 2000}
    if not first_stationary:
        with np.errstate(all="ignore"):
            return minimize(objective, x0, jac=True, method="BFGS", options=options)

    def watched(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = objective(x)
        if np.isfinite(value) and np.max(np.abs(grad)) <= _GTOL:
            raise _Stationary(np.array(x, dtype=float), value, grad)
        return value, grad

    try:
        with np.errstate(all="ignore"):
            return minimize(watched, x0, jac=True, method="BFGS", options=options)
    except _Stationary as stop:
        return OptimizeResult(x=stop.x, fun=stop.value, jac=stop.grad, success=True,
                              message="the gradient meets the tolerance at an evaluated point")


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


def _check_estimates(label: str, params: Mapping[str, float], scale: float, unit: str,
                     time_params: Sequence[str] = ("alpha", "beta"), rate_params: Sequence[str] = ()) -> None:
    """Refuse estimates that are not finite and positive, or that ran off to the edge of the parameter space
    (relative to ``scale``, the longest T, for parameters in units of time or of 1/time)."""
    values = np.array(list(params.values()), dtype=float)
    advice = _FIT_ADVICE.format(unit=unit)
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ModelFitError(f"{label}: the estimates are not finite positive numbers ({dict(params)}). {advice}")
    for k, val in params.items():
        rel = val / scale if k in time_params else val * scale if k in rate_params else val
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


def _start(start: Mapping[str, float] | None, names: Sequence[str], scale: float, default: float,
           time_params: Sequence[str] = ("alpha", "beta"), rate_params: Sequence[str] = ()) -> np.ndarray:
    """Starting log-parameters on the rescaled time axis: ``default`` for each, or a previous fit's
    estimates (e.g. the calibration fit when refitting on all data, which saves iterations)."""
    if start is None:
        return np.full(len(names), default)
    values = np.array([float(start[k]) * (scale if k in time_params else 1.0 / scale if k in rate_params else 1.0)
                       for k in names])
    return np.log(values) if np.all(np.isfinite(values) & (values > 0)) else np.full(len(names), default)
