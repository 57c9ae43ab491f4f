"""The model stage: fit, validate on the holdout, refit, and score every customer.

Data flow (Fader, Hardie & Lee 2005):

1. calibration/holdout split of the purchases at ``calibration_end``;
2. the candidate purchase models (BG/NBD, Pareto/NBD, MBG/NBD) fitted on the
   calibration period and judged on the holdout; Gamma-Gamma on the
   calibration period's repeat customers, with the frequency-spend correlation;
3. the model chosen by ``models.model`` (``auto``: lowest holdout MAE per customer);
4. both models refitted on all data up to the observation end; those parameters
   score the customers (P(alive), expected purchases, expected order value, CLV
   with its band).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from analysis.clv import ClvResult, customer_lifetime_value, to_jsonable
from analysis.config import RunParams
from analysis.holdout import holdout_errors, holdout_predictions, holdout_table, tracking_table
from analysis.models import FittedModel, GammaGammaFit, ModelFitError, fit_gamma_gamma, fit_model, select_model
from analysis.summary import _date, calibration_holdout_summary, days_per_unit, purchases_relation

_log = logging.getLogger(__name__)


@dataclass
class ModelStage:
    """Everything the model report shows and the artifacts record."""

    calibration: pd.DataFrame
    fits: dict[str, FittedModel]
    failures: dict[str, str]
    errors: dict[str, dict]
    holdout_tables: dict[str, pd.DataFrame]
    selected: str
    gamma_gamma: GammaGammaFit
    final: FittedModel
    final_gamma_gamma: GammaGammaFit
    clv: ClvResult
    tracking: pd.DataFrame
    calibration_end_t: float
    holdout_end_t: float
    notes: list[str] = field(default_factory=list)

    def comparison(self) -> pd.DataFrame:
        """One row per fitted model: log-likelihood, AIC, BIC and holdout errors."""
        rows = []
        for name, m in self.fits.items():
            e = self.errors[name]
            rows.append({"model": name, "loglik": m.loglik, "aic": m.aic, "bic": m.bic,
                         "expected_holdout": e["total_expected"], "actual_holdout": e["total_actual"],
                         "total_error_pct": e["total_error_pct"], "mae": e["mae"], "rmse": e["rmse"],
                         "selected": name == self.selected})
        return pd.DataFrame(rows).set_index("model")

    def to_json(self, dates: dict) -> dict:
        """The content of ``artifacts/model.json``."""
        out = {
            "time_unit": dates["time_unit"],
            "calibration_end": dates["calibration_end"],
            "observation_end": dates["observation_end"],
            "calibration_end_t": self.calibration_end_t,
            "selected_model": self.selected,
            "models": to_jsonable(self.fits, self.gamma_gamma,
                                  {n: e["total_expected"] for n, e in self.errors.items()}),
            "not_converged": self.failures,
            "holdout": {
                "actual": float(self.errors[self.selected]["total_actual"]),
                "expected": float(self.errors[self.selected]["total_expected"]),
                "errors": {n: {k: float(v) for k, v in e.items()} for n, e in self.errors.items()},
            },
            "final": {
                "model": self.final.name,
                "params": {k: float(v) for k, v in self.final.params.items()},
                "loglik": float(self.final.loglik),
                "ci": {k: [float(lo), float(hi)] for k, (lo, hi) in self.final.ci.items()},
                "gamma_gamma": {k: float(v) for k, v in self.final_gamma_gamma.params.items()},
                "n_customers": int(self.final.n_customers),
            },
            "clv": {
                "total": float(self.clv.total_clv),
                "low": float(self.clv.total_clv_low),
                "high": float(self.clv.total_clv_high),
                "level": float(self.clv.level),
                "n_draws": int(self.clv.n_draws),
                "seed": int(self.clv.seed),
                "method": self.clv.method,
                "horizon_months": int(self.clv.horizon_months),
                "annual_discount_rate": float(self.clv.annual_discount_rate),
                "gross_margin": float(self.clv.gross_margin),
            },
            "notes": self.notes,
        }
        out["gamma_gamma"] = out["models"].pop("gamma_gamma")
        return out


def _events(purchases, cohort_start: dt.date, calibration_end: dt.date, observation_end: dt.date,
            time_unit: str) -> tuple[pd.Series, pd.DataFrame]:
    """First purchase times and repeat purchase events, in time units since the cohort start."""
    con = duckdb.connect()
    source = purchases_relation(con, purchases)
    unit = days_per_unit(time_unit)
    start, cal, end = _date(cohort_start), _date(calibration_end), _date(observation_end)
    days = con.execute(
        f"""
        WITH d AS (SELECT DISTINCT CAST(customer_id AS VARCHAR) AS customer_id, CAST(date AS DATE) AS date
                   FROM {source} WHERE CAST(date AS DATE) <= {end}),
             f AS (SELECT customer_id, min(date) AS first FROM d GROUP BY customer_id HAVING min(date) <= {cal})
        SELECT d.customer_id, date_diff('day', {start}, d.date) / {unit} AS t, d.date = f.first AS is_first
        FROM d JOIN f USING (customer_id)
        """
    ).df()
    first = days[days["is_first"]].set_index("customer_id")["t"]
    repeats = days[~days["is_first"]][["customer_id", "t"]].reset_index(drop=True)
    return first, repeats


def run_model_stage(purchases: str | Path | pd.DataFrame, customers: pd.DataFrame, dates: dict,
                    params: RunParams) -> ModelStage:
    """Fit, validate, refit and score (see the module docstring).

    Parameters
    ----------
    purchases
        The purchases table (Parquet path or DataFrame).
    customers
        Whole-period summary up to the observation end, indexed by ``customer_id``.
    dates
        ``observation_end``, ``calibration_end`` (ISO dates) and ``time_unit``.
    params
        The run configuration.
    """
    unit = dates["time_unit"]
    cal_end = dt.date.fromisoformat(dates["calibration_end"])
    obs_end = dt.date.fromisoformat(dates["observation_end"])
    mp = params.models
    _log.info("model stage: calibration/holdout split at %s", cal_end)
    cal = calibration_holdout_summary(purchases, cal_end, obs_end, unit)
    if cal.empty:
        raise ModelFitError(f"No customer bought before the calibration end {cal_end}: set period.calibration_end later.")

    wanted = list(dict.fromkeys(([mp.model] if mp.model != "auto" else []) + list(mp.compare)))
    fits: dict[str, FittedModel] = {}
    failures: dict[str, str] = {}
    for name in wanted:
        try:
            fits[name] = fit_model(cal, name, penalizer=mp.penalizer, time_unit=unit)
        except ModelFitError as exc:
            if name == mp.model:
                raise
            failures[name] = str(exc)
    if not fits:
        raise ModelFitError("None of the purchase models could be fitted: " + "; ".join(failures.values()))

    _log.info("model stage: holdout predictions of %s", ", ".join(fits))
    predictions = {name: holdout_predictions(cal, m) for name, m in fits.items()}
    errors = {name: holdout_errors(p) for name, p in predictions.items()}
    tables = {name: holdout_table(p) for name, p in predictions.items()}
    selected = select_model(fits, {n: e["mae"] for n, e in errors.items()}, mp.model).name
    gg_cal = fit_gamma_gamma(cal)

    notes = []
    if gg_cal.correlation_warning:
        notes.append(gg_cal.correlation_warning)

    cohort_start = pd.Timestamp(customers["first_purchase"].min()).date()
    first, repeats = _events(purchases, cohort_start, cal_end, obs_end, unit)
    unit_days = days_per_unit(unit)
    cal_t = (cal_end - cohort_start).days / unit_days
    end_t = (obs_end - cohort_start).days / unit_days
    tracking = tracking_table(first, repeats, fits[selected], calibration_end=cal_t, holdout_end=end_t,
                              period_length=7.0 / unit_days)

    full = customers[["frequency", "recency", "T", "monetary_value"]].copy()
    _log.info("model stage: refitting %s and Gamma-Gamma on %s customers up to %s", selected, f"{len(full):,}", obs_end)
    final = fit_model(full, selected, penalizer=mp.penalizer, time_unit=unit)
    gg_final = fit_gamma_gamma(full)
    _log.info("model stage: scoring %s customers (CLV band from %d parameter draws)", f"{len(full):,}", mp.n_draws)
    clv = customer_lifetime_value(full, final, gg_final, horizon_months=params.clv.horizon_months,
                                  annual_discount_rate=params.clv.annual_discount_rate,
                                  gross_margin=params.clv.gross_margin, n_draws=mp.n_draws,
                                  level=mp.interval_level, seed=mp.seed)
    return ModelStage(calibration=cal, fits=fits, failures=failures, errors=errors, holdout_tables=tables,
                      selected=selected, gamma_gamma=gg_cal, final=final, final_gamma_gamma=gg_final, clv=clv,
                      tracking=tracking, calibration_end_t=cal_t, holdout_end_t=end_t, notes=notes)


def frequency_recency_grid(model: FittedModel, T: float, what: str = "expected", t: float = 1.0,
                           max_frequency: int | None = None, n_recency: int = 20) -> pd.DataFrame:
    """Expected purchases in the next ``t`` (``what="expected"``) or P(alive) over a frequency x recency grid.

    Rows are frequencies 0..max_frequency, columns recency values from 0 to ``T``, for a
    customer first seen ``T`` time units ago.
    """
    max_frequency = max_frequency or 20
    freqs = np.arange(max_frequency + 1, dtype=float)
    recs = np.linspace(0, T, n_recency)
    f, r = np.meshgrid(freqs, recs, indexing="ij")
    # recency is 0 when frequency is 0 and positive otherwise: mask impossible cells
    if what == "expected":
        values = model.conditional_expected_number_of_purchases_up_to_time(np.full(f.size, t), f.ravel(), r.ravel(), np.full(f.size, T))
    else:
        values = model.p_alive(f.ravel(), r.ravel(), np.full(f.size, T))
    grid = np.asarray(values, dtype=float).reshape(f.shape)
    grid[(f > 0) & (r == 0)] = np.nan
    grid[(f == 0) & (r > 0)] = np.nan
    return pd.DataFrame(grid, index=freqs.astype(int), columns=np.round(recs, 1))
