"""Holdout validation and tracking of a fitted transaction model.

Two checks from Fader, Hardie & Lee (2005a), "Counting your customers the easy way",
section 5 (figures 2-4):

* conditional expectations: for each customer, the expected number of repeat transactions
  in the holdout given the calibration history, compared with what the customer actually
  did -- in total, by calibration frequency (0, 1, ..., 6, 7+) and per customer (MAE, RMSE);
* tracking: cumulative and per-period repeat transactions of the whole cohort over the
  calibration and holdout periods, against the model's unconditional expectation
  ``sum_i E[X(t - t0_i)]`` where ``t0_i`` is customer i's first purchase.

All times are in the fitted model's time unit (``model.time_unit``: days or weeks).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import format_examples, rows_of
from analysis.models import FittedModel, _validate_summary

FREQUENCY_BINS: tuple[str, ...] = ("0", "1", "2", "3", "4", "5", "6", "7+")
"""Calibration-frequency groups of the holdout table."""

HOLDOUT_COLUMNS = ["frequency", "recency", "T", "frequency_holdout", "duration_holdout"]


def holdout_predictions(cal_holdout: pd.DataFrame, model: FittedModel) -> pd.DataFrame:
    """Actual and expected repeat transactions in the holdout, per customer.

    Parameters
    ----------
    cal_holdout
        Calibration/holdout summary indexed by ``customer_id`` with ``frequency, recency, T``
        (calibration) and ``frequency_holdout, duration_holdout``.
    model
        Transaction model fitted on the calibration period (same time unit).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id``: ``frequency`` (calibration), ``actual``
        (``frequency_holdout``) and ``expected`` (E[X(T, T + duration_holdout) | x, t_x, T],
        FHL 2005a eq. (10) or the model's analogue).
    """
    _validate_summary(cal_holdout, HOLDOUT_COLUMNS, what="calibration/holdout summary")
    expected = model.conditional_expected_number_of_purchases_up_to_time(
        cal_holdout["duration_holdout"].to_numpy(dtype=float),
        cal_holdout["frequency"].to_numpy(dtype=float),
        cal_holdout["recency"].to_numpy(dtype=float),
        cal_holdout["T"].to_numpy(dtype=float),
    )
    return pd.DataFrame(
        {
            "frequency": cal_holdout["frequency"].astype(float),
            "actual": cal_holdout["frequency_holdout"].astype(float),
            "expected": pd.Series(np.asarray(expected, dtype=float), index=cal_holdout.index),
        },
        index=cal_holdout.index,
    )


def frequency_bin(frequency: pd.Series | np.ndarray) -> pd.Categorical:
    """Calibration frequency as an ordered category ``"0"``, ..., ``"6"``, ``"7+"``."""
    f = np.asarray(frequency, dtype=float)
    return pd.Categorical.from_codes(np.minimum(f, 7).astype(int), categories=list(FREQUENCY_BINS), ordered=True)


def holdout_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """Holdout repeat transactions by calibration frequency (FHL 2005a, figure 4).

    Parameters
    ----------
    predictions
        Output of :func:`holdout_predictions`.

    Returns
    -------
    pandas.DataFrame
        One row per bin ``"0"``, ..., ``"6"``, ``"7+"`` (empty bins included, with zeros):
        ``bin, customers, actual, expected`` -- the *total* holdout repeat transactions of
        the customers in the bin. Divide by ``customers`` for the per-customer means shown
        in the paper.
    """
    grouped = (
        predictions.assign(bin=frequency_bin(predictions["frequency"]))
        .groupby("bin", observed=False)
        .agg(customers=("actual", "size"), actual=("actual", "sum"), expected=("expected", "sum"))
    )
    out = grouped.reindex(list(FREQUENCY_BINS)).fillna(0.0).reset_index()
    out["customers"] = out["customers"].astype(int)
    out["bin"] = out["bin"].astype(str)
    return out[["bin", "customers", "actual", "expected"]]


def spend_check(cal_holdout: pd.DataFrame, gamma_gamma_params) -> pd.DataFrame:
    """The spend model against the holdout: average spend per purchase in the holdout period, actual and as the
    Gamma-Gamma model fitted on the calibration period expected it, by calibration frequency.

    ``cal_holdout``: :func:`analysis.data.summary.calibration_holdout_summary` (``frequency``, ``monetary_value``,
    ``frequency_holdout``, ``monetary_value_holdout``). Each customer who bought in the holdout counts with their
    holdout purchases: actual = holdout revenue / holdout purchases; expected = the same purchases at the model's
    E[M | x, mbar] (FHL 2005b eq. 5; the population mean for customers without a repeat purchase in calibration).
    One row per bin "0" ... "7+" and a last row "all": ``bin, customers, purchases, actual, expected`` (NaN where
    nobody in the bin bought in the holdout).
    """
    from analysis.models import expected_average_value

    bought = cal_holdout[cal_holdout["frequency_holdout"] > 0]
    n = bought["frequency_holdout"].to_numpy(dtype=float)
    frame = pd.DataFrame({
        "bin": frequency_bin(bought["frequency"]), "purchases": n,
        "revenue": n * bought["monetary_value_holdout"].to_numpy(dtype=float),
        "expected_revenue": n * expected_average_value(gamma_gamma_params, bought["frequency"].to_numpy(dtype=float),
                                                       bought["monetary_value"].to_numpy(dtype=float)),
    })
    grouped = frame.groupby("bin", observed=False).agg(customers=("purchases", "size"), purchases=("purchases", "sum"),
                                                       revenue=("revenue", "sum"),
                                                       expected_revenue=("expected_revenue", "sum"))
    grouped = grouped.reindex(list(FREQUENCY_BINS)).fillna(0.0)
    grouped.loc["all"] = grouped.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        actual = grouped["revenue"] / grouped["purchases"].where(grouped["purchases"] > 0)
        expected = grouped["expected_revenue"] / grouped["purchases"].where(grouped["purchases"] > 0)
    return pd.DataFrame({"bin": grouped.index.astype(str), "customers": grouped["customers"].astype(int).to_numpy(),
                         "purchases": grouped["purchases"].to_numpy(), "actual": actual.to_numpy(),
                         "expected": expected.to_numpy()})


def holdout_errors(predictions: pd.DataFrame) -> dict[str, float]:
    """Error figures of the holdout predictions.

    Returns
    -------
    dict
        ``total_actual``, ``total_expected``; ``total_error_pct`` = 100 (expected - actual)
        / actual (signed; positive = over-prediction); ``mae`` and ``rmse`` = mean absolute
        and root mean squared error per customer (transactions per customer).
    """
    actual = predictions["actual"].to_numpy(dtype=float)
    expected = predictions["expected"].to_numpy(dtype=float)
    total_a, total_e = float(actual.sum()), float(expected.sum())
    diff = expected - actual
    return {
        "total_actual": total_a,
        "total_expected": total_e,
        "total_error_pct": 100.0 * (total_e - total_a) / total_a if total_a > 0 else float("nan"),
        "mae": float(np.mean(np.abs(diff))),
        "rmse": float(np.sqrt(np.mean(diff**2))),
    }


def tracking_table(
    first_purchase: pd.Series,
    repeat_events: pd.DataFrame,
    model: FittedModel,
    *,
    calibration_end: float,
    holdout_end: float,
    period_length: float = 1.0,
) -> pd.DataFrame:
    """Actual vs expected repeat transactions of a cohort, per period and cumulative.

    FHL (2005a), figures 2-3: the expected cumulative number of repeat transactions by
    time t (measured from the cohort start) is ``sum_i E[X(t - t0_i)]`` over customers with
    ``t0_i < t``, using the unconditional expectation of the model (eq. (9) for BG/NBD).

    Parameters
    ----------
    first_purchase
        Time of each customer's first purchase, in model time units since the cohort start
        date, indexed by ``customer_id``. Should hold the customers the model was fitted on.
    repeat_events
        One row per repeat purchase (same definition as ``frequency``: distinct purchase
        days after the first one), columns ``customer_id`` and ``t`` (time since the cohort
        start, model time units). Events after ``holdout_end`` are ignored.
    model
        Transaction model fitted on the calibration period.
    calibration_end, holdout_end
        End of the calibration and of the holdout period, time units since the cohort start.
    period_length
        Length of one period in model time units (1 = weekly for ``"W"``, daily for ``"D"``;
        use 7 for weekly periods with a daily model).

    Returns
    -------
    pandas.DataFrame
        One row per period ``(period_start, period_end]``: ``period_start, period_end,
        phase`` (``"calibration"`` or ``"holdout"``), ``actual, expected,
        cumulative_actual, cumulative_expected``. ``calibration_end`` is always a period
        boundary (the period before it may be shorter).
    """
    if first_purchase.index.name != "customer_id":
        raise ValueError("first_purchase must be a Series indexed by customer_id")
    if first_purchase.index.has_duplicates:
        raise ValueError("first_purchase has duplicated customer_id values")
    missing = [c for c in ("customer_id", "t") if c not in repeat_events.columns]
    if missing:
        raise ValueError(f"Required column {missing[0]} missing from repeat_events (has: {list(repeat_events.columns)})")
    if not (0 < calibration_end < holdout_end) or period_length <= 0:
        raise ValueError(
            f"Need 0 < calibration_end < holdout_end and period_length > 0; got {calibration_end}, {holdout_end},"
            f" {period_length}"
        )
    t0 = first_purchase.astype(float)
    if not np.all(np.isfinite(t0)) or (t0 < 0).any():
        raise ValueError("first_purchase must hold finite, non-negative times")
    events = repeat_events[["customer_id", "t"]].copy()
    unknown = ~events["customer_id"].isin(t0.index)
    if unknown.any():
        raise ValueError(
            f"{int(unknown.sum())} repeat events belong to customers not in first_purchase,"
            f" ({rows_of(unknown)} of the events)"
        )
    early = events["t"].to_numpy(dtype=float) <= t0.reindex(events["customer_id"]).to_numpy()
    if early.any():
        raise ValueError(
            f"{int(early.sum())} repeat events are not after the customer's first purchase,"
            f" ({rows_of(early)} of the events)"
        )
    first_times, first_counts = np.unique(t0.to_numpy(), return_counts=True)
    return tracking_from_counts(first_times, first_counts, events["t"].to_numpy(dtype=float), None, model,
                                calibration_end=calibration_end, holdout_end=holdout_end, period_length=period_length)


def tracking_from_counts(
    first_times: np.ndarray,
    first_counts: np.ndarray,
    repeat_times: np.ndarray,
    repeat_counts: np.ndarray | None,
    model: FittedModel,
    *,
    calibration_end: float,
    holdout_end: float,
    period_length: float = 1.0,
) -> pd.DataFrame:
    """:func:`tracking_table` from counts: how many customers made their first purchase at each time
    (``first_times`` distinct and ascending), and how many repeat purchases happened at each of
    ``repeat_times`` (``repeat_counts`` None: one each). The table needs no more than these, which a database
    can count without handing over one row per purchase day (the model stage does so)."""
    edges = np.arange(0.0, holdout_end, period_length)
    edges = np.unique(np.concatenate([edges, [calibration_end, holdout_end]]))
    edges = edges[(edges >= 0) & (edges <= holdout_end)]
    if edges[0] > 0:
        edges = np.concatenate([[0.0], edges])
    starts, ends = edges[:-1], edges[1:]

    t = np.asarray(repeat_times, dtype=float)
    kept = t <= holdout_end
    idx = np.searchsorted(ends, t[kept], side="left")  # period k holds (starts[k], ends[k]]
    weights = None if repeat_counts is None else np.asarray(repeat_counts, dtype=float)[kept]
    actual = np.bincount(idx, weights=weights, minlength=len(ends)).astype(float)[: len(ends)]

    uniq, counts = np.asarray(first_times, dtype=float), np.asarray(first_counts)
    age = ends[:, None] - uniq[None, :]
    cum_exp = (model.expected_number_of_purchases_up_to_time(np.maximum(age, 0.0)) * counts[None, :]).sum(axis=1)
    expected = np.diff(np.concatenate([[0.0], cum_exp]))
    return pd.DataFrame(
        {
            "period_start": starts,
            "period_end": ends,
            "phase": np.where(ends <= calibration_end, "calibration", "holdout"),
            "actual": actual,
            "expected": expected,
            "cumulative_actual": np.cumsum(actual),
            "cumulative_expected": cum_exp,
        }
    )


__all__ = [
    "FREQUENCY_BINS", "holdout_predictions", "frequency_bin", "holdout_table", "spend_check", "holdout_errors", "tracking_table",
    "tracking_from_counts",
]


# --------------------------------------------------------------------------- in one sentence, for managers

#: How far the model's holdout total may be from what happened (share of it) for each verdict.
RELIABLE_WITHIN = 0.10
USABLE_WITHIN = 0.25

#: What the holdout check says, by verdict (English templates; the Dutch is in analysis.reporting.lang_nl).
_RELIABILITY = {
    'intro': 'The model was tested on the period from {start} to {end}, which it had not seen: it expected {expected} repeat purchases and {actual} happened ({error}).',
    'reliable': "**The purchase forecasts are close to what happened**: the total number of repeat purchases is within a tenth of it. Read each customer's figures as estimates and the totals as sound. (This checks how often customers buy, not what they spend; and the model was chosen on this same period, so the check flatters it a little.)",
    'usable': '**Use the purchase forecasts with care**: the total number of repeat purchases is off by more than a tenth (but less than a quarter). The amounts below are rough.',
    'unreliable': '**The purchase forecasts are far from what happened on these data**: the total number of repeat purchases is off by more than a quarter. Do not plan campaigns on the amounts below; ask the analyst to look at the model check at the end of this page.',
}


def reliability(expected: float, actual: float) -> str:
    """``"reliable"``, ``"usable"`` or ``"unreliable"``: how far the model's holdout total of repeat purchases
    is from what happened (within :data:`RELIABLE_WITHIN`, :data:`USABLE_WITHIN` of it, or further);
    ``"unreliable"`` when nothing happened to compare with."""
    if not actual or actual <= 0 or expected != expected:
        return "unreliable"
    error = abs(expected - actual) / actual
    return "reliable" if error <= RELIABLE_WITHIN else "usable" if error <= USABLE_WITHIN else "unreliable"


def reliability_sentence(expected: float, actual: float, calibration_end, observation_end, lang: str = "en") -> str:
    """Are the forecasts reliable? The holdout check in two sentences a manager reads (Markdown), in ``lang``
    with the report's notation (:mod:`analysis.reporting.fmt`)."""
    import datetime as dt

    from analysis.reporting import fmt
    from analysis.reporting.i18n import model_error, say

    f = fmt.current()
    start = dt.date.fromisoformat(str(calibration_end)[:10]) + dt.timedelta(days=1)

    def say_(key: str, **values) -> str:
        return say(_RELIABILITY[key], lang, **values)

    return " ".join([
        say_("intro", start=f.long_date(start), end=f.long_date(observation_end), expected=f.integer(expected),
            actual=f.integer(actual), error=model_error(expected, actual, lang)),
        say_(reliability(expected, actual)),
    ])
