"""Time-invariant covariates on the purchase and dropout processes: Fader & Hardie (2007), "Incorporating
time-invariant covariates into the Pareto/NBD and BG/NBD models" (brucehardie.com note 019), as CLVTools'
static covariates and PyMC-Marketing offer them.

A customer's characteristics z (acquisition channel as 0/1 columns, first order value, region, ...) scale
their model parameters: the purchase process through ``alpha_i = alpha_0 exp(-gamma_purchase' z_i)`` (a
positive coefficient means more purchases), the dropout process through ``beta_i = beta_0
exp(-gamma_dropout' z_i)`` for Pareto/NBD and GGompertz/NBD (a positive coefficient means dropping out sooner)
and ``a_i = a_0 exp(gamma_a' z_i)``, ``b_i = b_0 exp(gamma_b' z_i)`` for BG/NBD and MBG/NBD (note 019, eq. 3).
Given z, each customer's likelihood is the model's own with their parameters, so every prediction of the model
applies per customer.

The fit maximises the summed log-likelihood over the distinct (x, t_x, T, z) rows, by BFGS from the fit without
covariates (gamma = 0); the intervals come from the curvature of the log-likelihood. The gradient follows by the
chain rule from the model's own gradient in its log-parameters: with up to :data:`MAX_PATTERNS` distinct covariate
rows (categories) the model's summed gradient per combination; beyond that (a continuous covariate, every
customer with their own parameters) the model's gradient per row
(:meth:`~analysis.models.base.TransactionModel.loglik_and_gradient_rows`: Pareto/NBD, BG/NBD, MBG/NBD). A model
without one (GGompertz/NBD) takes central differences of the whole log-likelihood there, far slower.

Beside the notebook API, the report uses this module when ``models.covariates`` names a file of customer
characteristics: :func:`read_covariates` reads it and :mod:`analysis.scoring.modelstage` fits Pareto/NBD with
covariates on all data (DuckDB engine), whose effects page 02 shows (cell ``cell-covariates``) and
``model.json`` keeps under ``covariates``; pages 03 and 04 group the customers by the characteristics as
:func:`read_characteristics` reads them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import DataValidationError, ModelFitError, format_examples, rows_of
from analysis.models.base import _resolve_time_unit, _validate_summary, has_row_gradient
from analysis.models.fitted import fit_model
from analysis.models.fitting import (_hessian_of_gradient, _minimize, _numerical_gradient_hessian, _weighted_rows,
                                     distinct_rows)
from analysis.models.registry import REGISTRY, get

_log = logging.getLogger("analysis.models")

#: Up to this many distinct covariate rows (combinations of categories) the fit works per combination, with the
#: model's analytic gradient; beyond it (a continuous covariate) per customer, with the model's analytic gradient
#: per row (numerical derivatives for a model without one).
MAX_PATTERNS = 64


def _individual(model, log_base: Sequence[float], lin: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Each customer's parameters: ``exp(log_base + sign * lin[process])`` for a parameter the model links to a
    process (:attr:`~analysis.models.base.TransactionModel.covariate_links`), ``exp(log_base)`` otherwise."""
    out = []
    for k, lb in zip(model.param_names, log_base):
        process, sign = model.covariate_links.get(k, (None, 0.0))
        out.append(np.exp(lb + (sign * lin[process] if process in lin else 0.0)))
    return tuple(out)


def _covariate_matrix(covariates: pd.DataFrame, index: pd.Index, columns: Sequence[str]) -> np.ndarray:
    missing = [c for c in columns if c not in covariates.columns]
    if missing:
        raise ValueError(f"Covariate column {missing[0]} is missing (the covariates have: {list(covariates.columns)})")
    absent = index.difference(covariates.index)
    if len(absent):  # no ids in the message: they may identify a person
        raise ValueError(f"{len(absent):,} of the {len(index):,} customers of the summary have no covariate row")
    z = covariates.reindex(index)[list(columns)]
    for c in columns:
        values = pd.to_numeric(z[c], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            raise ValueError(f"Covariate column {c} has {int(bad.sum())} missing or non-numeric values, e.g."
                             f" {format_examples(z[c][bad])}; code categories as 0/1 columns")
        if values.nunique() < 2:
            raise DataValidationError(f"Covariate column {c} has the same value for every customer, so its effect cannot be"
                             " estimated; leave it out")
    return z.to_numpy(dtype=float)


def read_characteristics(path: str | Path, customers: pd.Index, customer_id: str = "customer_id",
                         columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The covariate file (CSV or Parquet: one row per customer) as it is, indexed by ``customer_id`` (string) in
    the order of ``customers``, checked like the transaction file: every customer has one row, every chosen
    column is there and complete, a text column has at most 20 values. Numbers stay numbers (float), text is
    stripped. Raises DataValidationError naming the file, the column, how many rows and a few example values
    (never customer ids)."""
    path = Path(path)
    where = f"Covariate file {path}"
    if not path.is_file():
        raise DataValidationError(f"{where} not found: check models.covariates.path (relative to the project folder).")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            raw = pd.read_parquet(path)
        else:
            from analysis.data.ingest import _guess_delimiter

            with path.open(encoding="utf-8-sig", errors="replace") as f:
                header = f.readline()
            raw = pd.read_csv(path, dtype={customer_id: str}, sep=_guess_delimiter(header) or ",",
                              encoding="utf-8-sig")
    except Exception as exc:  # noqa: BLE001 - any reader failure is a file the user must fix
        raise DataValidationError(f"{where} cannot be read as CSV or Parquet: {exc}") from None
    if customer_id not in raw.columns:
        raise DataValidationError(f"{where}: column {customer_id!r} not found; the file has {list(raw.columns)}."
                                  " Set models.covariates.customer_id to the name in the file.")
    wanted = [c for c in raw.columns if c != customer_id] if columns is None else list(columns)
    missing = [c for c in wanted if c not in raw.columns]
    if missing or not wanted:
        raise DataValidationError(f"{where}: column(s) {missing or '(none)'} not found; the file has"
                                  f" {list(raw.columns)}. Set models.covariates.columns to names in the file.")
    n = len(raw)
    ids = raw[customer_id].astype(str).str.strip()
    dup = ids.duplicated(keep=False)
    if dup.any():
        raise DataValidationError(f"{where}: column {customer_id!r} repeats {int(ids[dup].nunique()):,} customer"
                                  f" id(s) in {int(dup.sum()):,} of {n:,} rows ({rows_of(dup)}). List each customer"
                                  " once.")
    frame = raw[wanted].set_axis(pd.Index(ids.to_numpy(), name="customer_id"))
    absent = ~customers.isin(frame.index)
    if absent.any():
        raise DataValidationError(f"{where}: {int(absent.sum()):,} of the {len(customers):,} customers have no row."
                                  " Give every customer a row (a value such as 'unknown' is fine in a text column).")
    frame = frame.reindex(customers)
    out = {}
    for col in wanted:
        values = frame[col]
        numeric = pd.to_numeric(values, errors="coerce")
        if values.dtype.kind in "biuf" or numeric.notna().all():
            if numeric.isna().any():
                bad = numeric.isna().to_numpy()
                raise DataValidationError(f"{where}: column {col!r} is empty for {int(bad.sum()):,} of the"
                                          f" {len(frame):,} customers. Fill it in, or leave the column out.")
            out[col] = numeric.astype(float)
            continue
        text = values.astype(str).str.strip()
        if text.nunique() > 20:
            raise DataValidationError(f"{where}: column {col!r} has {text.nunique():,} different values, e.g."
                                      f" {format_examples(text.unique())}; merge them into at most 20 groups.")
        out[col] = text
    return pd.DataFrame(out, index=frame.index)


def read_covariates(path: str | Path, customers: pd.Index, customer_id: str = "customer_id",
                    columns: Sequence[str] | None = None) -> pd.DataFrame:
    """:func:`read_characteristics` as numeric columns for :func:`fit_with_covariates`: a text column becomes 0/1
    columns ``name=value``, one per value except the most common (the reference)."""
    raw = read_characteristics(path, customers, customer_id, columns)
    out = {}
    for col in raw.columns:
        if raw[col].dtype.kind == "f":
            out[col] = raw[col].to_numpy(dtype=float)
            continue
        counts = raw[col].value_counts()
        for value in sorted(counts.index[1:]):  # the most common value is the reference
            out[f"{col}={value}"] = raw[col].eq(value).to_numpy(dtype=float)
    return pd.DataFrame(out, index=raw.index)


@dataclass(frozen=True, eq=False)
class CovariateFit:
    """A transaction model fitted with covariates: ``params`` (the base parameters, for z = 0), ``gamma``
    (process -> covariate -> coefficient), intervals for both at ``ci_level`` (base parameters from the log
    scale, coefficients on their own), the sample log-likelihood, AIC, BIC and the number of customers."""

    name: str
    params: dict[str, float]
    gamma: dict[str, dict[str, float]]
    ci: dict[str, tuple[float, float]]
    gamma_ci: dict[str, dict[str, tuple[float, float]]]
    loglik: float
    aic: float
    bic: float
    n_customers: int
    time_unit: str
    ci_level: float = 0.95

    def to_json(self) -> dict:
        """Plain numbers for ``model.json``: the base parameters with their intervals and, per process and
        covariate, the coefficient and its factor ``exp(coefficient)`` on the pace of that process (buying, or
        dropping out) for one unit more, with the factor's interval."""
        return {
            "model": self.name, "time_unit": self.time_unit, "ci_level": float(self.ci_level),
            "params": {k: float(v) for k, v in self.params.items()},
            "ci": {k: [float(lo), float(hi)] for k, (lo, hi) in self.ci.items()},
            "effects": {process: {name: {"coefficient": float(g), "factor": math.exp(g),
                                         "factor_ci": [math.exp(self.gamma_ci[process][name][0]),
                                                       math.exp(self.gamma_ci[process][name][1])]}
                                  for name, g in coefficients.items()}
                        for process, coefficients in self.gamma.items()},
            "loglik": float(self.loglik), "aic": float(self.aic), "bic": float(self.bic),
            "n_customers": int(self.n_customers),
        }

    def individual_params(self, covariates: pd.DataFrame) -> tuple[np.ndarray, ...]:
        """Each customer's parameters (arrays in the model's parameter order) from their covariate rows."""
        lin = {p: np.zeros(len(covariates)) for p in self.gamma}
        for process, coefficients in self.gamma.items():
            for col, g in coefficients.items():
                lin[process] = lin[process] + covariates[col].to_numpy(dtype=float) * g
        model = get(self.name)
        return _individual(model, [math.log(self.params[k]) for k in model.param_names], lin)

    def p_alive(self, frequency, recency, T, covariates: pd.DataFrame) -> np.ndarray:
        """P(alive) of each customer (rows of ``covariates`` in the order of the histories)."""
        return get(self.name).p_alive(self.individual_params(covariates), frequency, recency, T)

    def conditional_expected_purchases(self, t, frequency, recency, T, covariates: pd.DataFrame) -> np.ndarray:
        """Expected repeat purchases in the next ``t`` time units, per customer."""
        model, params = get(self.name), self.individual_params(covariates)
        return model.p_alive(params, frequency, recency, T) * model.alive_expectation(params, frequency, T, t)


def fit_with_covariates(summary: pd.DataFrame, name: str, covariates: pd.DataFrame, *,
                        purchase: Sequence[str] | None = None, dropout: Sequence[str] | None = None,
                        time_unit: str | None = None, ci_level: float = 0.95) -> CovariateFit:
    """Fit model ``name`` with covariates (note 019).

    ``summary``: indexed by ``customer_id`` with ``frequency, recency, T``. ``covariates``: indexed by
    ``customer_id``, numeric columns (categories as 0/1 columns, one category left out). ``purchase`` and
    ``dropout``: the columns that act on each process (default: all columns on both).
    """
    available = [n for n, m in REGISTRY.items() if m.covariate_links]
    if name not in available:
        raise ValueError(f"Covariates are available for {available}, not {name!r}")
    model = get(name)
    _validate_summary(summary, ["frequency", "recency", "T"])
    unit = _resolve_time_unit(summary, time_unit)
    columns = list(covariates.columns)
    purchase = list(columns if purchase is None else purchase)
    dropout = list(columns if dropout is None else dropout)
    processes = {"purchase": purchase}
    for process in dict.fromkeys(link for link, _ in model.covariate_links.values()):
        if process != "purchase":
            processes[process] = dropout
    used = list(dict.fromkeys(purchase + dropout))
    z_all = _covariate_matrix(covariates, summary.index, used)
    base = fit_model(summary, name, time_unit=unit, ci_level=ci_level)  # the start, and the check that it fits

    zcols = [f"z{i}" for i in range(z_all.shape[1])]
    rows = summary[["frequency", "recency", "T"]].assign(**dict(zip(zcols, z_all.T)))
    (x, tx, T, *zs), n = _weighted_rows(rows, ["frequency", "recency", "T", *zcols], None)
    z_all = np.column_stack(zs)
    seen = T > 0
    x, tx, T, z_all, n = x[seen], tx[seen], T[seen], z_all[seen], n[seen]
    col = {c: i for i, c in enumerate(used)}
    names = list(model.param_names)
    slots = [(p, c) for p, cols in processes.items() for c in cols]
    k0 = len(names)

    def individual(theta: np.ndarray) -> tuple[np.ndarray, ...]:
        lin = {p: np.zeros(len(x)) for p in processes}
        for j, (p, c) in enumerate(slots):
            lin[p] = lin[p] + z_all[:, col[c]] * theta[k0 + j]
        return _individual(model, theta[:k0], lin)

    total = float(n.sum())

    def nll_per_customer(theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            value = -float(n @ model.log_likelihood(individual(theta), x, tx, T))
        return value if np.isfinite(value) else np.inf

    # link[k, j]: the sign with which coefficient j (a process and a covariate) acts on parameter k, or 0
    links = [model.covariate_links.get(k, (None, 0.0)) for k in names]
    link = np.array([[sign if process == p else 0.0 for p, _ in slots] for process, sign in links])
    slot_columns = [col[c] for _, c in slots]
    pattern_rows, pattern_of = distinct_rows([z_all[:, j] for j in range(z_all.shape[1])])
    start = np.concatenate([base.log_params, np.zeros(len(slots))])
    loglik_and_gradient = None
    nll = nll_per_customer
    per_row = False  # the fit per customer with the model's gradient per row
    if len(pattern_rows) <= MAX_PATTERNS:
        # Few distinct covariate rows (categories): within each, every customer has the same parameters, so
        # the model's own likelihood-and-gradient on that group's rows serves, and the chain rule gives the
        # gradient in the coefficients (log theta_k = base_k + sign_k * z'gamma_process(k)).
        groups = [(model.loglik_and_gradient(x[m], tx[m], T[m], n[m]), link * z_all[row, slot_columns])
                  for m, row in ((pattern_of == g, row) for g, row in enumerate(pattern_rows))]

        def loglik_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
            ll, grad = 0.0, np.zeros(len(theta))
            with np.errstate(all="ignore"):
                for both, design in groups:
                    value, g = both(theta[:k0] + design @ theta[k0:])
                    ll += value
                    grad[:k0] += g
                    grad[k0:] += design.T @ g
            return ll, grad

        def nll(theta: np.ndarray) -> float:
            value = -loglik_and_gradient(theta)[0]
            return value if np.isfinite(value) else np.inf
    elif has_row_gradient(model):
        # A continuous covariate: every customer has their own parameters. The model's gradient per row in its
        # log-parameters gives the gradient in the coefficients by the chain rule: d ln L_i / d gamma_j =
        # sum_k (d ln L_i / d log theta_ik) * link[k, j] * z_ij, and d ln L_i / d log theta_0k = d ln L_i / d
        # log theta_ik.
        z_rows = np.ascontiguousarray(z_all[:, slot_columns].T)  # (coefficients, rows)
        nz_rows = z_rows * n  # weighted by the customers each row stands for
        # The optimizer compares sums over up to a million rows whose differences near the maximum are below
        # the rounding of the sums themselves (its line searches then fail over and over): each row's
        # log-likelihood is taken relative to its value at the start, which leaves the maximum where it is.
        offset = np.zeros(len(x))

        def summed(ll_rows: np.ndarray, g_rows: np.ndarray) -> tuple[float, np.ndarray]:
            with np.errstate(all="ignore"):
                g_gamma = ((nz_rows @ g_rows) * link.T).sum(axis=1)
                return float(n @ (ll_rows - offset)), np.concatenate([n @ g_rows, g_gamma])

        def loglik_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
            if np.array_equal(theta, at_start[0]):
                return at_start[1]
            # each row's log-parameters: log theta_0k + sign_k * z'gamma_process(k)
            log_rows = [theta[k] + (link[k] * theta[k0:]) @ z_rows if link[k].any() else theta[k] for k in range(k0)]
            with np.errstate(all="ignore"):
                return summed(*model.loglik_and_gradient_rows(log_rows, x, tx, T))

        with np.errstate(all="ignore"):
            start_rows, start_gradient_rows = model.loglik_and_gradient_rows(list(base.log_params), x, tx, T)
        offset = np.where(np.isfinite(start_rows), start_rows, 0.0)
        # the optimizer starts there (gamma = 0): its first call gets these rows rather than computing them again
        at_start = (start, summed(start_rows, start_gradient_rows))
        per_row = True

    if loglik_and_gradient is not None:
        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            ll, grad = loglik_and_gradient(theta)
            ok = np.isfinite(ll) and np.all(np.isfinite(grad))
            return (-ll / total, -grad / total) if ok else (np.inf, np.zeros_like(theta))

        def hessian(theta: np.ndarray) -> np.ndarray:
            return _hessian_of_gradient(lambda t: -loglik_and_gradient(t)[1], theta)
    else:  # a continuous covariate and a model without a gradient per row: central differences
        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            f0, h = nll(theta) / total, 1e-6
            grad = np.array([(nll(theta + h * e) - nll(theta - h * e)) / (2 * h * total) for e in np.eye(len(theta))])
            return (f0, grad) if np.isfinite(f0) and np.all(np.isfinite(grad)) else (np.inf, np.zeros_like(theta))

        def hessian(theta: np.ndarray) -> np.ndarray:
            return _numerical_gradient_hessian(nll, theta, h=1e-4)[1]

    _log.info("%s with covariates: fitting on %s distinct rows (%s combinations of the covariates) of %s customers",
              model.label, f"{len(n):,}", f"{len(pattern_rows):,}", f"{int(total):,}")
    # per customer, near the maximum the summed value changes below its rounding (see _minimize)
    theta = np.asarray(_minimize(objective, start, first_stationary=per_row).x, dtype=float)
    loglik = -nll(theta)
    if not np.isfinite(loglik) or loglik < base.loglik - 1e-6:
        raise ModelFitError(f"{model.label} with covariates: the optimizer did not improve on the fit without"
                            " covariates; check the covariate columns (scale continuous ones, e.g. to thousands).")
    with np.errstate(all="ignore"):
        H = hessian(theta)
    eig = np.linalg.eigvalsh((H + H.T) / 2)
    if not np.all(np.isfinite(H)) or eig.min() <= 0:
        raise ModelFitError(f"{model.label} with covariates: the likelihood is flat in some coefficient (the data"
                            " do not pin it down); use fewer covariate columns or merge rare categories.")
    se = np.sqrt(np.diag(np.linalg.inv((H + H.T) / 2)))
    z = stats.norm.ppf(0.5 + ci_level / 2)
    params = {k: float(np.exp(theta[i])) for i, k in enumerate(names)}
    ci = {k: (float(np.exp(theta[i] - z * se[i])), float(np.exp(theta[i] + z * se[i]))) for i, k in enumerate(names)}
    gamma: dict[str, dict[str, float]] = {p: {} for p in processes}
    gamma_ci: dict[str, dict[str, tuple[float, float]]] = {p: {} for p in processes}
    for j, (p, c) in enumerate(slots):
        g, s = theta[k0 + j], se[k0 + j]
        gamma[p][c] = float(g)
        gamma_ci[p][c] = (float(g - z * s), float(g + z * s))
    k = len(theta)
    return CovariateFit(name=name, params=params, gamma=gamma, ci=ci, gamma_ci=gamma_ci, loglik=loglik,
                        aic=2 * k - 2 * loglik, bic=k * math.log(total) - 2 * loglik, n_customers=int(total),
                        time_unit=unit, ci_level=ci_level)


__all__ = ["CovariateFit", "fit_with_covariates", "read_characteristics", "read_covariates"]
