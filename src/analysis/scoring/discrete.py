"""BG/BB on the model page (``models.discrete``): customers with one chance to buy per period.

Fader, Hardie & Shang (2010), "Customer-base analysis in a discrete-time noncontractual setting", *Marketing
Science* 29(6): a customer's history is ``(x, t_x, n)`` in opportunities, one per period (year, quarter, month
or week; :func:`analysis.models.bgbb.summary_by_opportunities`). The page checks the model as it checks the
continuous ones (section 4 of the paper: calibration 1996-2001, holdout 2002-2006):

1. the periods are split at the period holding ``calibration_end``: the calibration opportunities are the
   periods after a customer's first purchase up to and including that one, the holdout opportunities the
   periods after it up to and including the one holding ``observation_end``;
2. BG/BB is fitted on the calibration histories (distinct rows with counts), and its expected repeat
   transactions in the holdout opportunities (eq. 13) are set against the periods in which each customer
   bought, in total and by the number of calibration repeat transactions;
3. BG/BB is refitted on every customer's history up to the observation end, which gives each customer's
   P(alive) at the next opportunity (eq. 11) and expected transactions in the next ``horizon_periods``;
4. how often a customer bought on more than one day within one period: BG/BB counts those as one, so a
   large share says the data do not fit the discrete view.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import ModelFitError
from analysis.models import bgbb

_log = logging.getLogger(__name__)

#: Period code -> the pandas frequency of its periods (weeks Monday to Sunday, as in summary_by_opportunities).
_FREQ = {"Y": "Y", "Q": "Q", "M": "M", "W": "W-SUN"}
#: Period code -> how many fit in a year (the default horizon: clv.horizon_months in periods).
PERIODS_PER_YEAR = {"Y": 1, "Q": 4, "M": 12, "W": 52}
#: Period code -> its name, one and more (report labels, translated on the page).
PERIOD_NAMES = {"Y": "year", "Q": "quarter", "M": "month", "W": "week"}
PERIOD_PLURALS = {"Y": "years", "Q": "quarters", "M": "months", "W": "weeks"}
NEXT_PERIOD = {"Y": "in the next year", "Q": "in the next quarter", "M": "in the next month", "W": "in the next week"}
#: Share of the periods with a purchase in which the customer bought on more than one day, from which the page
#: says that the data do not fit the one-chance-per-period view.
MULTI_PURCHASE_SHARE = 0.05
#: Calibration repeat transactions shown one by one in the holdout table; more are one group ("7+").
MAX_BIN = 7


def horizon_periods(period: str, configured: int | None, horizon_months: int) -> int:
    """The periods ahead of the forecast: ``configured``, else the CLV horizon in periods (at least one)."""
    if configured is not None:
        return int(configured)
    return max(1, int(round(horizon_months * PERIODS_PER_YEAR[period] / 12)))


@dataclass
class DiscreteStage:
    """What the BG/BB section of page 02 shows and ``model.json["discrete"]`` records."""

    period: str
    horizon_periods: int
    first_period: pd.Period
    calibration_last: pd.Period
    observation_last: pd.Period
    holdout_periods: int
    purchase_periods: int
    """(customer, period) pairs with at least one purchase day, up to the observation end."""
    multi_purchase_periods: int
    """Of those, the pairs with purchases on more than one day (BG/BB counts them once)."""
    calibration: pd.DataFrame | None = None
    """Per calibration customer: ``frequency, recency, n, actual, expected`` (holdout transactions)."""
    fit: bgbb.BGBBFit | None = None
    final: bgbb.BGBBFit | None = None
    customers: pd.DataFrame | None = None
    """Per customer, all data: ``frequency, recency, n, p_alive, expected_transactions``."""
    note: str | None = None
    """Why BG/BB could not be fitted (page text), when it could not."""

    @property
    def multi_purchase_share(self) -> float:
        return self.multi_purchase_periods / self.purchase_periods if self.purchase_periods else 0.0

    @property
    def fits_discrete_view(self) -> bool:
        """Few enough periods with more than one purchase day for BG/BB's one transaction per period."""
        return self.multi_purchase_share < MULTI_PURCHASE_SHARE

    def holdout_table(self) -> pd.DataFrame:
        """Calibration customers by repeat transactions in calibration (``"0"`` .. ``"6"``, ``"7+"``; empty bins
        kept up to the last with customers): ``bin, customers, actual, expected`` holdout transactions, totals per
        bin."""
        cal = self.calibration
        bins = [str(i) for i in range(MAX_BIN)] + [f"{MAX_BIN}+"]
        labels = np.where(cal["frequency"] >= MAX_BIN, f"{MAX_BIN}+", cal["frequency"].astype(str))
        grouped = cal.assign(bin=labels).groupby("bin").agg(customers=("actual", "size"), actual=("actual", "sum"),
                                                           expected=("expected", "sum"))
        out = grouped.reindex(bins).fillna(0).reset_index()
        out["customers"] = out["customers"].astype(int)
        out["actual"] = out["actual"].astype(int)
        out = out.iloc[:int(np.flatnonzero(out["customers"] > 0).max()) + 1]
        return out[["bin", "customers", "actual", "expected"]]

    def to_json(self) -> dict:
        """``model.json["discrete"]``: the periods, the fits with their intervals, the holdout totals, the share
        likely still active, the expected transactions and the periods with more than one purchase day."""
        def fit_json(fit: bgbb.BGBBFit | None) -> dict | None:
            if fit is None:
                return None
            return {"params": {k: float(v) for k, v in fit.params.items()},
                    "ci": {k: [float(lo), float(hi)] for k, (lo, hi) in fit.ci.items()},
                    "ci_level": float(fit.ci_level), "loglik": float(fit.loglik), "n_customers": int(fit.n_customers)}

        out = {"model": "bgbb", "period": self.period, "first_period": str(self.first_period),
               "calibration_last_period": str(self.calibration_last),
               "observation_last_period": str(self.observation_last), "holdout_periods": int(self.holdout_periods),
               "horizon_periods": int(self.horizon_periods), "purchase_periods": int(self.purchase_periods),
               "multi_purchase_periods": int(self.multi_purchase_periods),
               "calibration": fit_json(self.fit), "final": fit_json(self.final)}
        if self.calibration is not None:
            out["holdout"] = {"actual": int(self.calibration["actual"].sum()),
                              "expected": float(self.calibration["expected"].sum())}
        if self.customers is not None:
            out["expected_transactions"] = float(self.customers["expected_transactions"].sum())
            out["mean_p_alive"] = float(self.customers["p_alive"].mean())
        if self.note:
            out["reason"] = self.note
        return out


def _ordinals(dates: pd.Series, period: str) -> np.ndarray:
    return dates.dt.to_period(_FREQ[period]).astype("int64").to_numpy()


def _ordinal(day: dt.date, period: str) -> int:
    return int(pd.Period(pd.Timestamp(day), freq=_FREQ[period]).ordinal)


def _histories(first: pd.Series, used: pd.DataFrame, last: int) -> pd.DataFrame:
    """``frequency, recency, n`` of each customer of ``first`` (their first period's ordinal) from ``used``
    (distinct ``customer_id, k`` pairs) up to the period ``last``."""
    repeat = used[(used["k"] > used["customer_id"].map(first)) & (used["k"] <= last)]
    grouped = repeat.groupby("customer_id")["k"]
    out = pd.DataFrame({"frequency": grouped.size(), "last": grouped.max()}).reindex(first.index)
    out["frequency"] = out["frequency"].fillna(0).astype(int)
    out["recency"] = (out["last"] - first).fillna(0).astype(int)
    out["n"] = (last - first).astype(int)
    return out[["frequency", "recency", "n"]]


def _on_distinct_rows(histories: pd.DataFrame, compute) -> np.ndarray:
    """``compute(frequency, recency, n)`` on the distinct histories, handed back per customer (the formulas
    build a matrix of histories x opportunities; distinct rows keep it small at a million customers)."""
    keys = ["frequency", "recency", "n"]
    distinct = histories[keys].drop_duplicates().reset_index(drop=True)
    values = np.asarray(compute(*(distinct[k].to_numpy() for k in keys)), dtype=float)
    lookup = pd.Series(values, index=pd.MultiIndex.from_frame(distinct))
    return lookup.reindex(pd.MultiIndex.from_frame(histories[keys])).to_numpy()


def _fit(histories: pd.DataFrame, ci_level: float) -> bgbb.BGBBFit:
    rows = histories.groupby(["frequency", "recency", "n"]).size().rename("count").reset_index()
    return bgbb.fit(rows, weights="count", ci_level=ci_level)


def run_discrete_stage(purchases: pd.DataFrame, calibration_end: dt.date, observation_end: dt.date, period: str,
                       horizon: int, ci_level: float = 0.95) -> DiscreteStage:
    """Split, fit, check on the holdout, refit and score with BG/BB (see the module docstring).

    Parameters
    ----------
    purchases
        One row per customer and purchase day: ``customer_id, date`` (a run's ``purchases.parquet``).
    calibration_end, observation_end
        The run's dates; the periods holding them end the calibration and the observation.
    period
        ``"Y"``, ``"Q"``, ``"M"`` or ``"W"``: one opportunity per period.
    horizon
        Periods ahead of the expected transactions (:func:`horizon_periods`).
    ci_level
        Level of the parameters' intervals.

    Returns
    -------
    DiscreteStage
        With ``note`` set and no fits when BG/BB cannot be fitted (nobody bought in a second period).
    """
    days = purchases.loc[pd.to_datetime(purchases["date"]) <= pd.Timestamp(observation_end), ["customer_id", "date"]]
    k = _ordinals(pd.to_datetime(days["date"]), period)
    pairs = pd.DataFrame({"customer_id": days["customer_id"].to_numpy(), "k": k})
    per_period = pairs.groupby(["customer_id", "k"]).size()
    used = per_period.index.to_frame(index=False)
    first = used.groupby("customer_id")["k"].min()
    cal_last, obs_last = _ordinal(calibration_end, period), _ordinal(observation_end, period)
    freq = _FREQ[period]
    stage = DiscreteStage(period=period, horizon_periods=horizon,
                          first_period=pd.Period(ordinal=int(first.min()), freq=freq),
                          calibration_last=pd.Period(ordinal=cal_last, freq=freq),
                          observation_last=pd.Period(ordinal=obs_last, freq=freq),
                          holdout_periods=obs_last - cal_last, purchase_periods=int(len(per_period)),
                          multi_purchase_periods=int((per_period > 1).sum()))
    # the holdout check: customers who first bought by the calibration's last period
    if stage.holdout_periods > 0:
        cal_first = first[first <= cal_last]
        cal = _histories(cal_first, used, cal_last)
        later = used[used["k"] > cal_last].groupby("customer_id").size()
        cal["actual"] = later.reindex(cal.index).fillna(0).astype(int)
        _log.info("model stage: BG/BB on the %s calibration histories (%s periods, up to %s)", f"{len(cal):,}",
                  PERIOD_NAMES[period], stage.calibration_last)
        try:
            stage.fit = _fit(cal, ci_level)
        except (ModelFitError, ValueError) as exc:
            stage.note = str(exc)
        else:
            cal["expected"] = _on_distinct_rows(
                cal, lambda x, tx, n: stage.fit.conditional_expected_transactions(stage.holdout_periods, x, tx, n))
            stage.calibration = cal
    # every customer, all data: P(alive) at the next opportunity and the expected transactions ahead
    histories = _histories(first, used, obs_last)
    try:
        stage.final = _fit(histories, ci_level)
    except (ModelFitError, ValueError) as exc:
        stage.note = stage.note or str(exc)
        return stage
    final = stage.final
    histories["p_alive"] = _on_distinct_rows(histories, lambda x, tx, n: final.p_alive(x, tx, n, m=1))
    histories["expected_transactions"] = _on_distinct_rows(
        histories, lambda x, tx, n: final.conditional_expected_transactions(horizon, x, tx, n))
    stage.customers = histories
    return stage


__all__ = ["DiscreteStage", "MULTI_PURCHASE_SHARE", "NEXT_PERIOD", "PERIOD_NAMES", "PERIOD_PLURALS", "horizon_periods",
           "run_discrete_stage"]
