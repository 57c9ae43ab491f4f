"""The model stage: fit, validate on the holdout, refit, and score every customer.

Data flow (Fader, Hardie & Lee 2005):

1. calibration/holdout split of the purchases at ``calibration_end``;
2. the candidate purchase models (BG/NBD, Pareto/NBD, MBG/NBD) fitted on the
   calibration period and judged on the holdout; Gamma-Gamma on the
   calibration period's repeat customers, with the frequency-spend correlation;
3. the model chosen by ``models.model`` (``auto``: lowest holdout MAE per customer);
4. both models refitted on all data up to the observation end; those parameters
   score the customers (P(alive), expected purchases, expected order value, CLV
   with its band). This step is :func:`fit_and_score`, which the spark-submit job
   (:func:`analysis.spark_engine.run_job`: a configured model, no holdout, scores written
   as Parquet on the cluster) runs as well, with :class:`SparkJobStage`.

With ``engine: spark`` in the run configuration the summaries (steps 1 and 4) are computed
by Spark, the models are fitted on the driver from the distinct summary rows with their
counts, and the customers are scored on the cluster (:mod:`analysis.spark_engine`); the
holdout check and the tracking table use the calibration summary brought to the driver
(one row per customer), exactly as with DuckDB.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data import duck
from analysis.reporting import fmt
from analysis.scoring.clv import ClvResult, customer_lifetime_value, residual_value, to_jsonable
from analysis.config import RunParams
from analysis.errors import ModelAtLimit
from analysis.scoring.holdout import holdout_errors, holdout_predictions, holdout_table, tracking_from_counts
from analysis.reporting.i18n import say
from analysis.models import (MODEL_LABELS, FittedModel, GammaGammaFit, ModelFitError, fit_gamma_gamma, fit_model,
                             repeat_purchase_check, select_model)
from analysis.models.covariates import CovariateFit, fit_with_covariates, read_covariates
from analysis.data.summary import _date, calibration_holdout_summary, days_per_unit, purchases_relation, rfm_summary

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
    at_limit: dict[str, str] = field(default_factory=dict)
    """Models of ``failures`` whose fit ran to a limit where they are a simpler model, with why (page text)."""
    residual_total: float | None = None
    """The customers' discounted margin of every future purchase, without a horizon (DERT-based; None without
    discounting or when it could not be computed)."""
    covariates: CovariateFit | None = None
    """The effects of the customer characteristics of ``models.covariates`` (Pareto/NBD, all data)."""
    covariate_note: str | None = None
    """Why those effects could not be estimated, when they were asked for."""

    def repeat_counts(self, n_max: int = 7) -> tuple[pd.DataFrame, dict[str, dict]]:
        """Customers by number of repeat purchases in the calibration period: ``repeat_purchases``, ``actual``
        and one column of expected customers per fitted model, with each model's chi-square test
        (:func:`analysis.models.repeat_purchase_check`)."""
        table, tests = None, {}
        for name, fit in self.fits.items():
            counts, tests[name] = repeat_purchase_check(name, fit.params, self.calibration["frequency"],
                                                        self.calibration["T"], n_max)
            if table is None:
                table = counts[["repeat_purchases", "actual"]].copy()
            table[name] = counts["expected"]
        return table, tests

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
                "ci_level": float(self.final.ci_level),
                "penalizer": float(self.final.penalizer),
                "gamma_gamma": {k: float(v) for k, v in self.final_gamma_gamma.params.items()},
                "gamma_gamma_ci": {k: [float(lo), float(hi)] for k, (lo, hi) in self.final_gamma_gamma.ci.items()},
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
                "spend_draws_left_out_share": float(self.final_gamma_gamma.share_of_draws_with_infinite_mean),
                "horizon_months": int(self.clv.horizon_months),
                "annual_discount_rate": float(self.clv.annual_discount_rate),
                "gross_margin": float(self.clv.gross_margin),
            },
            "notes": self.notes,
        }
        out["gamma_gamma"] = out["models"].pop("gamma_gamma")
        if self.covariates is not None or self.covariate_note:  # only when models.covariates names a file
            out["covariates"] = ({"estimated": True, **self.covariates.to_json()} if self.covariates is not None
                                 else {"estimated": False, "reason": self.covariate_note})
        return out


def _event_counts(purchases, cohort_start: dt.date, calibration_end: dt.date, observation_end: dt.date,
                  time_unit: str, one_row_per_day: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For the tracking chart, of the customers who first bought by the calibration end: how many first bought
    at each time, and how many repeat purchases (distinct purchase days after the first) happened at each time;
    times in units since the cohort start, ascending. Counted in DuckDB: handing over one row per purchase day
    (10M at a million customers) took seconds. Each customer's first day comes from a window over their days,
    not from a join of the days with the customers' first days: 0.27 s against 0.40-0.48 s at a million
    customers, the same counts. ``one_row_per_day``: ``purchases`` is a run's purchases table, one row per
    customer and day already (the DISTINCT was 1-2 s of it at a million customers)."""
    con = duck.connect()
    source = purchases_relation(con, purchases)
    unit = days_per_unit(time_unit)
    start, cal, end = _date(cohort_start), _date(calibration_end), _date(observation_end)
    counts = con.execute(
        f"""
        WITH d AS (SELECT {"" if one_row_per_day else "DISTINCT"} customer_id, CAST(date AS DATE) AS date
                   FROM {source} WHERE CAST(date AS DATE) <= {end}),
             w AS (SELECT date, min(date) OVER (PARTITION BY customer_id) AS first FROM d)
        SELECT date = first AS is_first, date_diff('day', {start}, date) / {unit} AS t, count(*) AS n
        FROM w WHERE first <= {cal} GROUP BY ALL ORDER BY is_first, t
        """
    ).df()
    first, repeat = counts[counts["is_first"]], counts[~counts["is_first"]]
    return (first["t"].to_numpy(dtype=float), first["n"].to_numpy(dtype=np.int64),
            repeat["t"].to_numpy(dtype=float), repeat["n"].to_numpy(dtype=np.int64))


def _spark_purchases(purchases: str | Path | pd.DataFrame, params: RunParams):
    """The purchases table as a Spark DataFrame, in the process's session (:func:`analysis.spark_engine.run_session`)."""
    from analysis import spark_engine

    spark = spark_engine.run_session(params.spark)
    if isinstance(purchases, pd.DataFrame):
        return spark.createDataFrame(purchases[["customer_id", "date", "amount"]].astype({"customer_id": str}))
    return spark.read.parquet(spark_engine.data_path_text(purchases))


def customer_summary(purchases: str | Path | pd.DataFrame, observation_end: dt.date | str,
                     params: RunParams, time_unit: str | None = None, one_row_per_day: bool = False) -> pd.DataFrame:
    """The whole-period customer summary with the run's engine (``params.engine``).

    :func:`analysis.data.summary.rfm_summary` with DuckDB, :func:`analysis.spark_engine.rfm_summary`
    with Spark; either way a pandas frame indexed by ``customer_id`` in the same order, with
    the same columns and dtypes.

    Parameters
    ----------
    purchases
        The purchases table (Parquet path or DataFrame) with ``customer_id, date, amount``.
    observation_end
        Last day of the period (inclusive).
    params
        The run configuration (``engine``, ``spark``, ``period.time_unit``).
    time_unit
        The run's time unit (``run.json``), instead of ``period.time_unit``.
    one_row_per_day
        ``purchases`` is a run's ``purchases.parquet``, one row per customer and purchase day
        (:func:`analysis.data.summary.rfm_summary`; DuckDB only).
    """
    unit = time_unit or params.period.time_unit
    if params.engine != "spark":
        return rfm_summary(purchases, observation_end, unit, one_row_per_day=one_row_per_day)
    from analysis import spark_engine

    _log.info("summary: with Spark, up to %s", observation_end)
    df = spark_engine.to_pandas(spark_engine.rfm_summary(_spark_purchases(purchases, params), observation_end, unit))
    _log.info("summary: %s customers", f"{len(df):,}")
    return df


#: Up to this many purchase rows the two summaries of :func:`summaries` are made side by side; above, one after the
#: other, for memory. The model stage alone at 10M customers (107M rows): side by side 93.4 s at a peak of 8.44 GB,
#: one after the other 102.4 s at 7.44 GB (the whole report, one page at a time, peaks at 10.5 GB; goal: 12 GB).
SUMMARIES_SIDE_BY_SIDE_MAX_ROWS = 30_000_000


def summaries(purchases: str | Path, dates: dict, params: RunParams,
              one_row_per_day: bool = False) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The whole-period customer summary (:func:`customer_summary`) and, with DuckDB, the calibration/holdout
    summary of :func:`run_model_stage` (its ``calibration``), made side by side up to
    :data:`SUMMARIES_SIDE_BY_SIDE_MAX_ROWS` purchase rows (each query's conversion to pandas leaves a core idle).
    With Spark the second is None (its stage makes it on the cluster). A failure of the first is raised before one
    of the second, as when they were made one after the other. ``one_row_per_day``: ``purchases`` is a run's
    ``purchases.parquet`` (:func:`customer_summary`)."""
    whole = functools.partial(customer_summary, purchases, dates["observation_end"], params, dates["time_unit"],
                              one_row_per_day)
    if params.engine == "spark":
        return whole(), None
    calibration = functools.partial(calibration_holdout_summary, purchases,
                                    dt.date.fromisoformat(dates["calibration_end"]),
                                    dt.date.fromisoformat(dates["observation_end"]), dates["time_unit"],
                                    one_row_per_day=one_row_per_day)
    import pyarrow.parquet as pq

    rows = len(purchases) if isinstance(purchases, pd.DataFrame) else pq.ParquetFile(purchases).metadata.num_rows
    customers, cal = _results(_outcomes([whole, calibration], parallel=rows <= SUMMARIES_SIDE_BY_SIDE_MAX_ROWS))
    return customers, cal


class _DuckDBStage:
    """Summaries, fits and scores on this machine (DuckDB summaries, pandas fits and scores)."""

    parallel = True  # independent fits may run side by side (_side_by_side)

    def __init__(self, purchases, customers: pd.DataFrame, params: RunParams, one_row_per_day: bool = False):
        self.purchases, self.params, self.one_row_per_day = purchases, params, one_row_per_day
        self.full = customers[["frequency", "recency", "T", "monetary_value"]].copy()
        self.cal: pd.DataFrame | None = None

    def calibration(self, cal_end: dt.date, obs_end: dt.date, unit: str) -> pd.DataFrame:
        if self.cal is None:  # else made already, alongside the whole-period summary (summaries)
            self.cal = calibration_holdout_summary(self.purchases, cal_end, obs_end, unit,
                                                   one_row_per_day=self.one_row_per_day)
        return self.cal

    def fit(self, period: str, name: str, unit: str, penalizer: float, start: dict | None = None) -> FittedModel:
        data = self.cal if period == "calibration" else self.full
        return fit_model(data, name, penalizer=penalizer, time_unit=unit, start=start)

    def fit_gamma_gamma(self, period: str, penalizer: float = 0.0) -> GammaGammaFit:
        return fit_gamma_gamma(self.cal if period == "calibration" else self.full, penalizer=penalizer)

    def score(self, final: FittedModel, gg: GammaGammaFit, **kwargs) -> ClvResult:
        return customer_lifetime_value(self.full, final, gg, **kwargs)

    def residual(self, final: FittedModel, gg: GammaGammaFit, **kwargs) -> float | None:
        return residual_value(self.full, final, gg, **kwargs)

    def close(self) -> None:
        pass


class _SparkFits:
    """Fits on the driver from the distinct rows of the Spark summaries in ``frames`` (``"calibration"``,
    ``"full"``), which the engine caches and releases; ``se`` is :mod:`analysis.spark_engine`."""

    se: object
    frames: dict

    def fit(self, period: str, name: str, unit: str, penalizer: float, start: dict | None = None) -> FittedModel:
        return self.se.fit_model(self.frames[period], name, time_unit=unit, penalizer=penalizer, start=start)

    def fit_gamma_gamma(self, period: str, penalizer: float = 0.0) -> GammaGammaFit:
        return self.se.fit_gamma_gamma(self.frames[period], penalizer=penalizer)

    def residual(self, final: FittedModel, gg: GammaGammaFit, **kwargs) -> float | None:
        rows = self.se.unique_rows(self.frames["full"], ["frequency", "recency", "T", "monetary_value"])
        return residual_value(rows, final, gg, weights="n", **kwargs)

    def close(self) -> None:
        for frame in self.frames.values():
            frame.unpersist()


class _SparkStage(_SparkFits):
    """The same on Spark: summaries on the cluster, fits on the driver from distinct rows, scores on the cluster."""

    def __init__(self, purchases, customers: pd.DataFrame, params: RunParams):
        from analysis import spark_engine

        self.se, self.params, self.customers = spark_engine, params, customers
        self.purchases = _spark_purchases(purchases, params)
        self.frames = {}

    def calibration(self, cal_end: dt.date, obs_end: dt.date, unit: str) -> pd.DataFrame:
        self.frames["calibration"] = self.se.calibration_holdout_summary(self.purchases, cal_end, obs_end, unit).cache()
        self.frames["full"] = self.se.rfm_summary(self.purchases, obs_end, unit).cache()
        return self.se.to_pandas(self.frames["calibration"])

    def score(self, final: FittedModel, gg: GammaGammaFit, **kwargs) -> ClvResult:
        clv = self.se.customer_lifetime_value(self.frames["full"], final, gg, **kwargs)
        index = self.customers.index
        if len(clv.customers) != len(index) or not clv.customers.index.isin(index).all():
            raise ValueError(
                f"The Spark summary has {len(clv.customers):,} customers, the customer table {len(index):,}:"
                " both must come from the same purchases and observation end."
            )
        scores = clv.customers.reindex(index)
        return dataclasses.replace(clv, customers=scores, total_clv=float(scores["clv"].to_numpy().sum()))


class SparkJobStage(_SparkFits):
    """The engine of the spark-submit job (:func:`analysis.spark_engine.run_job`): only the whole-period
    summary, on the cluster (no holdout, no customer table on the driver); the fits as in :class:`_SparkStage`,
    and the scores written as Parquet to ``scores_path`` (:func:`analysis.spark_engine.write_customer_scores`)
    instead of brought to the driver, so its :class:`ClvResult` has no ``customers``."""

    def __init__(self, summary, scores_path: str):
        from analysis import spark_engine

        self.se, self.scores_path = spark_engine, scores_path
        self.frames = {"full": summary}

    def score(self, final: FittedModel, gg: GammaGammaFit, **kwargs) -> ClvResult:
        return self.se.write_customer_scores(self.frames["full"], final, gg, self.scores_path, **kwargs)


def run_model_stage(purchases: str | Path | pd.DataFrame, customers: pd.DataFrame, dates: dict,
                    params: RunParams, one_row_per_day: bool = False,
                    calibration: pd.DataFrame | None = None) -> ModelStage:
    """Fit, validate, refit and score (see the module docstring).

    Parameters
    ----------
    purchases
        The purchases table (Parquet path or DataFrame).
    customers
        Whole-period summary up to the observation end, indexed by ``customer_id``. With
        ``engine: spark`` the fits and scores use Spark's own summary of ``purchases``,
        which must have the same customers; the scores follow this table's order.
    dates
        ``observation_end``, ``calibration_end`` (ISO dates) and ``time_unit``.
    params
        The run configuration; ``params.engine`` chooses DuckDB or Spark.
    one_row_per_day
        ``purchases`` is a run's ``purchases.parquet`` (one row per customer and purchase day, as the ingest
        writes it): the calibration summary and the tracking chart's counts need not make the days distinct
        again.
    calibration
        The calibration/holdout summary up to the dates' calibration end, when already made
        (:func:`summaries`; DuckDB only).
    """
    engine = (_SparkStage(purchases, customers, params) if params.engine == "spark"
              else _DuckDBStage(purchases, customers, params, one_row_per_day))
    if calibration is not None:
        engine.cal = calibration
    try:
        return _run_model_stage(engine, purchases, customers, dates, params, one_row_per_day)
    finally:
        engine.close()


def _run_model_stage(engine: _DuckDBStage | _SparkStage, purchases, customers: pd.DataFrame, dates: dict,
                     params: RunParams, one_row_per_day: bool = False) -> ModelStage:
    unit = dates["time_unit"]
    cal_end = dt.date.fromisoformat(dates["calibration_end"])
    obs_end = dt.date.fromisoformat(dates["observation_end"])
    mp = params.models
    _log.info("model stage: calibration/holdout split at %s (%s)", cal_end, params.engine)
    cal = engine.calibration(cal_end, obs_end, unit)
    if cal.empty:
        raise ModelFitError(f"No customer bought before the calibration end {cal_end}: set period.calibration_end later.")
    covariates = None
    if mp.covariates is not None:  # read first: a broken file stops the run before the long work
        covariates = read_covariates(mp.covariates.path, customers.index, mp.covariates.customer_id,
                                     mp.covariates.columns)

    wanted = list(dict.fromkeys(([mp.model] if mp.model != "auto" else []) + list(mp.compare)))
    fits: dict[str, FittedModel] = {}
    failures: dict[str, str] = {}
    at_limit: dict[str, str] = {}
    penalized: dict[str, str] = {}
    # the models and the spend model are fitted side by side (independent; see _side_by_side)
    outcomes = _side_by_side(engine, [functools.partial(_fit_identified, engine, "calibration", name, unit,
                                                        mp.penalizer) for name in wanted]
                             + [functools.partial(_gamma_gamma_or_none, engine, "calibration")])
    for exc in (exc for _, exc in outcomes):
        if exc is not None and not isinstance(exc, ModelFitError):
            raise exc  # not a fit that failed: a fault, raised as before
    for name, (result, exc) in zip(wanted, outcomes):
        if exc is None:
            fits[name], why = result
            if why:
                penalized[name] = why
        else:
            failures[name] = str(exc)
            if isinstance(exc, ModelAtLimit):
                at_limit[name] = exc.reason
            _log.info("model stage: %s could not be fitted: %s", MODEL_LABELS[name], exc)
    gg_cal, gg_note = outcomes[-1][0]
    if not fits:
        error = ModelFitError(
            f"None of the purchase models could be fitted on the calibration period up to {cal_end}: "
            + "; ".join(f"{MODEL_LABELS[n]}: {plain_failure(m)}" for n, m in failures.items()) + ". "
            + _no_model_advice(cal, "en"))
        error.advice = _no_model_advice(cal)  # on the model page: in the report language
        raise error

    _log.info("model stage: holdout predictions of %s", ", ".join(MODEL_LABELS[n] for n in fits))
    # side by side like the fits (numpy and scipy release the GIL; each model's predictions as alone)
    predictions = dict(zip(fits, _results(_side_by_side(
        engine, [functools.partial(holdout_predictions, cal, m) for m in fits.values()]))))
    errors = {name: holdout_errors(p) for name, p in predictions.items()}
    tables = {name: holdout_table(p) for name, p in predictions.items()}
    mae = {n: e["mae"] for n, e in errors.items()}
    notes = []
    if mp.model != "auto" and mp.model not in fits:
        selected = select_model(fits, mae, "auto").name
        notes.append(say(
            "The configured model, {model}, could not be identified from these data ({reason}). The report uses"
            " {used} instead, the model with the smallest error on the holdout period among those that could be"
            " fitted.", model=MODEL_LABELS[mp.model], reason=plain_failure(failures[mp.model]),
            used=MODEL_LABELS[selected]))
    else:
        selected = select_model(fits, mae, mp.model).name
    if selected == "bgnbd":
        notes.append(say(
            "Under the BG/NBD model a customer can only drop out right after a repeat purchase, so customers who"
            " bought only once keep a {full} chance of still being a customer however long ago they bought, and"
            " never appear as at risk. Pareto/NBD or MBG/NBD (models.model: auto) do not have this blind spot.",
            full=fmt.current().percent(1, 0)))
    if selected in penalized and fits[selected].penalizer > mp.penalizer:
        notes.append(say(
            "The data alone do not pin down all parameters of {model} (typically: how much customers differ in how"
            " soon they drop out), so it was fitted with a small penalty (penalizer {penalizer}) that keeps the"
            " estimates finite and changes the fit very little. Its check on the holdout period below shows how well"
            " it predicts.", model=MODEL_LABELS[selected], penalizer=f"{fits[selected].penalizer:g}"))
    elif selected in penalized:
        notes.append(say(
            "With the configured penalty (models.penalizer {configured}) the parameters of {model} are pulled to the"
            " edge of the parameter space ({reason}), so it was fitted with penalizer {used} instead. Set"
            " models.penalizer to 0 or a small value such as 0.001.", configured=f"{mp.penalizer:g}",
            model=MODEL_LABELS[selected], reason=plain_failure(penalized[selected]),
            used=f"{fits[selected].penalizer:g}"))
    yearly = once_a_year_note(customers, bgbb_shown=mp.discrete is not None)
    if yearly:
        notes.append(yearly)
    if gg_note:
        notes.append(gg_note)
    if gg_cal is not None and gg_cal.correlation_warning:
        notes.append(gg_cal.correlation_warning)

    n = f"{len(customers):,}"
    _log.info("model stage: refitting %s and Gamma-Gamma on %s customers up to %s", MODEL_LABELS[selected], n, obs_end)
    cohort_start = pd.Timestamp(customers["first_purchase"].min()).date()
    # the selected model first, then the others by holdout error, each from its calibration fit and penalty;
    # the tracking chart's counts alongside the fits, the residual value beside the scores
    order = [selected] + sorted((m for m in fits if m != selected), key=lambda m: mae[m])
    residual_settings = dict(annual_discount_rate=params.clv.annual_discount_rate,
                             gross_margin=params.clv.gross_margin)
    whole = fit_and_score(engine, [(name, fits[name].penalizer, fits[name].params) for name in order], unit,
                          obs_end, score_settings(params),
                          alongside=[functools.partial(_event_counts, purchases, cohort_start, cal_end, obs_end, unit,
                                                      one_row_per_day)],
                          beside_scores=[functools.partial(engine.residual, **residual_settings)])
    final, gg_final, clv = whole.model, whole.gamma_gamma, whole.clv
    notes += whole.notes
    selected = final.name

    first_t, first_n, repeat_t, repeat_n = whole.alongside[0]
    unit_days = days_per_unit(unit)
    cal_t = (cal_end - cohort_start).days / unit_days
    end_t = (obs_end - cohort_start).days / unit_days
    tracking = tracking_from_counts(first_t, first_n, repeat_t, repeat_n, fits[selected], calibration_end=cal_t,
                                    holdout_end=end_t, period_length=7.0 / unit_days)
    if gg_cal is None:
        gg_cal = gg_final
    residual = whole.beside_scores[0]
    covariate_fit, covariate_note = None, None
    if covariates is not None:
        if params.engine == "spark":
            covariate_note = say("the Spark engine does not estimate them yet; use engine: duckdb")
        else:
            _log.info("model stage: effects of the customer characteristics (%d columns; Pareto/NBD with covariates)"
                      " on %s customers", covariates.shape[1], n)
            try:
                covariate_fit = fit_with_covariates(engine.full, "pareto", covariates, time_unit=unit)
            except (ModelFitError, ValueError) as exc:
                covariate_note = plain_failure(str(exc))
    return ModelStage(calibration=cal, fits=fits, failures=failures, errors=errors, holdout_tables=tables,
                      selected=selected, gamma_gamma=gg_cal, final=final, final_gamma_gamma=gg_final, clv=clv,
                      tracking=tracking, calibration_end_t=cal_t, holdout_end_t=end_t, notes=notes, at_limit=at_limit,
                      residual_total=residual, covariates=covariate_fit, covariate_note=covariate_note)


def score_settings(params: RunParams) -> dict:
    """The keyword arguments of the engines' ``score``: CLV horizon, discounting and margin, and the band's draws,
    level and seed, from the run configuration."""
    return dict(horizon_months=params.clv.horizon_months, annual_discount_rate=params.clv.annual_discount_rate,
                gross_margin=params.clv.gross_margin, n_draws=params.models.n_draws, level=params.models.interval_level,
                seed=params.models.seed)


@dataclass
class WholePeriod:
    """The purchase and spend models fitted on all data up to the observation end, and the customers' scores."""

    model: FittedModel
    gamma_gamma: GammaGammaFit
    clv: ClvResult
    notes: list[str]
    """Page text, in order: why the candidates before ``model`` could not be fitted, and the spend model's q near 1."""
    alongside: list = field(default_factory=list)
    """What the ``alongside`` tasks of :func:`fit_and_score` returned, in order."""
    beside_scores: list = field(default_factory=list)
    """What its ``beside_scores`` tasks returned, in order."""


def fit_and_score(engine, candidates: list[tuple[str, float, dict | None]], unit: str, obs_end: dt.date,
                  settings: dict, alongside: list = (), beside_scores: list = ()) -> WholePeriod:
    """Fit the purchase model and Gamma-Gamma on the whole period and score every customer with the CLV band.

    The part of the model stage that the pipeline (after its holdout check, :func:`run_model_stage`) and the
    spark-submit job (without one, :func:`analysis.spark_engine.run_job`) share, on any engine
    (:class:`_DuckDBStage`, :class:`_SparkStage`, :class:`SparkJobStage`).

    Parameters
    ----------
    engine
        Where the summaries are and the scores go; its ``"full"`` period is the summary up to ``obs_end``.
    candidates
        ``(model, penalizer, start)`` in order of preference: the first that can be fitted, with the penalty
        rules of :func:`_fit_identified`, scores the customers. ``start``: starting values (the calibration fit's
        parameters in the pipeline) or None.
    unit, obs_end
        Time unit of the summary, and its last day (for the messages).
    settings
        The keyword arguments of ``engine.score`` (:func:`score_settings`).
    alongside
        Further independent tasks, run side by side with the fits on this machine's engine (the pipeline's
        tracking counts); what they return is ``WholePeriod.alongside``, what they raise is raised after a
        failed purchase model and before a failed spend model.
    beside_scores
        Tasks called with the fitted purchase and spend models, run side by side with the scoring (the pipeline's
        residual value); what they return is ``WholePeriod.beside_scores``, what they raise is raised after a
        failed scoring.

    Raises
    ------
    ModelFitError
        When none of the candidates can be fitted, or the spend model cannot (with :data:`SPEND_ADVICE`; the spend
        model is fitted without a penalty).
    """
    def fit_purchases() -> tuple[FittedModel | None, list[str]]:
        failed = []
        for name, penalizer, start in candidates:
            try:
                return _fit_identified(engine, "full", name, unit, penalizer, start=start)[0], failed
            except ModelFitError as exc:
                failed.append(f"{MODEL_LABELS[name]} could not be refitted on all data up to {obs_end}"
                              f" ({plain_failure(str(exc))}).")
        return None, failed

    (fitted, exc), (gg, gg_exc), *others = _side_by_side(
        engine, [fit_purchases, functools.partial(engine.fit_gamma_gamma, "full"), *alongside])
    if exc is not None:
        raise exc
    final, failures = fitted
    if final is None:
        raise ModelFitError(" ".join(failures))
    alongside_results = _results(others)
    notes = []
    if final.name != candidates[0][0]:
        notes += failures + [f"The customers are scored with {MODEL_LABELS[final.name]} instead."]
    if isinstance(gg_exc, ModelFitError):
        error = ModelFitError(
            f"The spend model (Gamma-Gamma) could not be fitted on all data up to {obs_end}:"
            f" {plain_failure(str(gg_exc))}. {SPEND_ADVICE}")
        error.advice = say("The spend model could not be fitted: {reason}. {advice}",
                           reason=plain_failure(str(gg_exc)), advice=say(SPEND_ADVICE))
        raise error from None
    if gg_exc is not None:
        raise gg_exc
    left_out = gg.share_of_draws_with_infinite_mean
    if settings["n_draws"] > 0 and left_out >= 0.01:
        notes.append(say(
            "The spend model's q = {q} is close to 1, where the mean spend becomes infinite: about {share} of the"
            " parameter draws for the uncertainty band have q <= 1. Those draws are left out and redrawn, so the band"
            " assumes a finite mean spend and is narrower than the data alone would make it.",
            q=fmt.current().number(gg.params["q"]), share=fmt.current().percent(left_out, 0)))
    _log.info("model stage: scoring the customers with %s (CLV band from %d parameter draws)",
              MODEL_LABELS[final.name], settings["n_draws"])
    clv, *beside = _results(_side_by_side(engine, [functools.partial(engine.score, final, gg, **settings),
                                                   *(functools.partial(task, final, gg) for task in beside_scores)]))
    return WholePeriod(model=final, gamma_gamma=gg, clv=clv, notes=notes, alongside=alongside_results,
                       beside_scores=beside)


#: From this share of the customers who bought again having bought again no more often than once a year, the model
#: page asks whether they have one chance to buy per year (:func:`once_a_year_note`). A simulated donor file (one gift
#: a year, 2% of the donor-years with a second gift): 94%; CDNOW 6%, the apparel data 18%, the bench's shop 2%.
ONCE_A_YEAR_SHARE = 0.9
ONCE_A_YEAR_MIN_REPEATERS = 30


def once_a_year_note(customers: pd.DataFrame, bgbb_shown: bool) -> str | None:
    """A note for the model page when nearly every customer who bought again bought again no more often than once a
    year (repeat purchases no more than the calendar years from the first purchase to the last: :data:`ONCE_A_YEAR_SHARE`
    of them, at least :data:`ONCE_A_YEAR_MIN_REPEATERS`): the data may have one chance to buy per year, which the
    continuous models do not assume and BG/BB (``models.discrete``) does. None otherwise. ``customers``: the
    whole-period summary (``frequency``, ``first_purchase``, ``last_purchase``)."""
    repeat = customers.loc[customers["frequency"] >= 1]
    if len(repeat) < ONCE_A_YEAR_MIN_REPEATERS:
        return None
    years = (pd.to_datetime(repeat["last_purchase"]).dt.year - pd.to_datetime(repeat["first_purchase"]).dt.year)
    share = float(np.mean(repeat["frequency"].to_numpy() <= years.to_numpy()))
    if share < ONCE_A_YEAR_SHARE:
        return None
    values = dict(n=fmt.current().integer(len(repeat)), share=fmt.current().percent(share, 0))
    if bgbb_shown:
        return say("Of the {n} customers who bought again, {share} bought again no more often than once a year: no more"
                   " repeat purchases than calendar years from their first purchase to their last. If customers"
                   " have one chance to buy per year (an annual event, a yearly donation or renewal), the models above,"
                   " which let a customer buy on any day, are not made for these data; the BG/BB model further down"
                   " this page is.", **values)
    return say("Of the {n} customers who bought again, {share} bought again no more often than once a year: no more"
               " repeat purchases than calendar years from their first purchase to their last. If customers"
               " have one chance to buy per year (an annual event, a yearly donation or renewal), the models on this"
               " page, which let a customer buy on any day, are not made for these data; the BG/BB model is (for the"
               " analyst: models.discrete: Y in the run configuration).", **values)


def unavailable_json(dates: dict, exc: ModelFitError) -> dict:
    """``model.json`` of a run whose purchase model could not be fitted: the dates and why (the
    pages that need the model say so; the others are published as usual)."""
    return {"unavailable": str(exc), "time_unit": dates["time_unit"], "calibration_end": dates["calibration_end"],
            "observation_end": dates["observation_end"]}


def unavailable_text(exc: ModelFitError, with_bgbb: bool = False) -> str:
    """The model page's plain-words note when no purchase model could be fitted. ``with_bgbb``: the page then shows
    BG/BB (``models.discrete``), which does give each customer a chance of still being a customer."""
    if with_bgbb:
        return say("No purchase model could be fitted on these data, so this report has no customer lifetime values,"
                   " no segments by value and no campaign figures. {advice} Each customer's chance of still being a"
                   " customer comes from the BG/BB model below, which counts the periods with a purchase. The data"
                   " quality and retention figures (page 01 and the summary) do not need a model and are complete."
                   " (The analyst finds each model's reason in artifacts/model.json.)",
                   advice=getattr(exc, "advice", str(exc)))
    return say("No purchase model could be fitted on these data, so this report has no customer lifetime values, no"
               " chance-of-staying per customer, no segments by value and no campaign figures. {advice} The data"
               " quality and retention figures (page 01 and the summary) do not need a model and are complete. (The"
               " analyst finds each model's reason in artifacts/model.json.)", advice=getattr(exc, "advice", str(exc)))


AUTO_PENALIZERS: tuple[float, ...] = (0.001, 0.01, 0.1)
"""Penalties tried, smallest first, when a model's parameters are not identified without one (lifetimes'
``penalizer_coef``: ``penalizer * sum(params**2)`` added to the mean negative log-likelihood)."""


def _side_by_side(engine, tasks: list) -> list[tuple[object, BaseException | None]]:
    """Run independent pieces of the model stage and return ``(result, None)`` or ``(None, exception)`` for each,
    in order. On this machine's engine they run side by side, one thread per core (numpy, scipy and DuckDB
    release the GIL; each piece computes exactly what it would alone, so the numbers do not change); on Spark
    one after the other (each piece is a cluster job of its own)."""
    return _outcomes(tasks, parallel=getattr(engine, "parallel", False))


def _outcomes(tasks: list, parallel: bool) -> list[tuple[object, BaseException | None]]:
    """:func:`_side_by_side`'s pieces side by side if ``parallel``, else one after the other in this thread."""
    def outcome(task):
        try:
            return task(), None
        except Exception as exc:  # noqa: BLE001 - handed back, raised by the caller where it was raised before
            return None, exc

    if not parallel or len(tasks) < 2:
        return [outcome(task) for task in tasks]
    with ThreadPoolExecutor(max_workers=min(len(tasks), os.cpu_count() or 1),
                            thread_name_prefix="model-stage") as pool:
        return [future.result() for future in [pool.submit(outcome, task) for task in tasks]]


def _results(outcomes: list[tuple[object, BaseException | None]]) -> list:
    """The results of :func:`_side_by_side`'s pieces, in order; the first exception raised, if one failed."""
    for _, exc in outcomes:
        if exc is not None:
            raise exc
    return [result for result, _ in outcomes]


def _fit_identified(engine, period: str, name: str, unit: str, penalizer: float,
                    start: dict | None = None) -> tuple[FittedModel, str | None]:
    """Fit ``name`` with the configured penalizer; if its parameters cannot be pinned down (they run off
    to the edge of the parameter space, or the likelihood is flat), with the smallest larger penalty of
    ``AUTO_PENALIZERS`` that gives usable estimates. Returns the fit and, when a penalty was added, why
    the unpenalised fit failed. Raises the first failure when no penalty helps."""
    try:
        return engine.fit(period, name, unit, penalizer, start=start), None
    except ModelAtLimit:
        raise  # the model is another one there; a penalty does not change that
    except ModelFitError as first:
        # no penalty first, then the smallest that works (a configured penalty can also be too strong:
        # lifetimes' penalty pulls every parameter towards 0)
        for pen in (p for p in (0.0, *AUTO_PENALIZERS) if p != penalizer):
            try:
                fit = engine.fit(period, name, unit, pen, start=start)
            except ModelFitError:
                continue
            _log.info("model stage: %s fitted with penalizer %g (with %g: %s)", MODEL_LABELS[name], pen, penalizer,
                      plain_failure(str(first)))
            return fit, str(first)
        raise first


def _no_model_advice(cal: pd.DataFrame, lang: str | None = None) -> str:
    """What the data lack when no model can be fitted, in one sentence, in ``lang`` (default: the report's)."""
    repeaters = int((cal["frequency"] > 0).sum())
    f = fmt.current()
    if repeaters == 0:
        return say("None of the {n} customers of the calibration period bought a second time, so there is nothing to"
                   " learn about repeat buying yet: use a later calibration end (period.calibration_end or a smaller"
                   " period.holdout_days) or wait for more data.", lang, n=f.integer(len(cal)))
    if repeaters >= len(cal) / 2:  # plenty of repeat buying: what is missing is variety between customers
        return say("{repeaters} of the {n} customers of the calibration period bought again, yet no model could be"
                   " fitted: the models learn from the differences between customers, and these customers hardly"
                   " differ (for example all buying on a fixed schedule, or a few accounts buying extremely often)."
                   " Look for outlier customers (e.g. wholesale accounts) and check that the dates are read correctly"
                   " (data.date_format).", lang, repeaters=f.integer(repeaters), n=f.integer(len(cal)))
    return say("Only {repeaters} of the {n} customers of the calibration period bought again; check that the calibration"
               " period is long enough, that the dates are read correctly (data.date_format), and look for outlier"
               " customers (e.g. wholesale accounts with extreme frequency).", lang,
               repeaters=f.integer(repeaters), n=f.integer(len(cal)))


def plain_failure(message: str, lang: str | None = None) -> str:
    """The reason of a :class:`ModelFitError` without its model label and its "What to try" advice, in ``lang``
    (default: the report language), its numbers in that language's notation: the fits write their reasons in
    English, and the catalogue's patterns (:data:`analysis.reporting.lang_nl.PATTERNS`) translate the known ones."""
    from analysis.reporting.i18n import translate

    reason = message.split(" What to try:")[0].strip()
    if ": " in reason[:20]:
        reason = reason.split(": ", 1)[1]
    lang = lang or fmt.current().language
    return translate(fmt.Formatter(lang).numbers_in(reason.rstrip(".")), lang)


# The spend model is fitted without a penalty: lifetimes' penalty on p, q and v is in the currency unit
# (v is an amount), so the same models.penalizer would pull the spend model by an amount that depends on
# whether amounts are in euros or cents, and it pulls q towards 0, below 1, where CLV is undefined.
SPEND_ADVICE = ("What to try: look for extreme spends (bulk or wholesale orders, data errors, refunds recorded as"
                " sales) and remove them or report those accounts separately, and check that data.columns.amount"
                " is the amount of the order.")


def _gamma_gamma_or_none(engine, period: str) -> tuple[GammaGammaFit | None, str | None]:
    """The calibration-period Gamma-Gamma fit, or None and a note when it cannot be made: it is
    only shown for comparison, so the report goes on with the whole-period fit."""
    try:
        return engine.fit_gamma_gamma(period), None
    except ModelFitError as exc:
        return None, say("The spend model (Gamma-Gamma) could not be fitted on the calibration period alone"
                         " ({reason}); its parameters below are those fitted on all data.",
                         reason=plain_failure(str(exc)))


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
