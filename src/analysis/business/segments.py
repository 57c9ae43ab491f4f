"""Customer segmentations: RFM, ABC by revenue, CLV tiers and value x risk.

Every function takes the customers table indexed by ``customer_id`` (text)
and returns results indexed the same way; nothing is aligned by position.
Segment columns are ordered pandas categoricals, so tables and charts list
segments in a meaningful order.

The four segmentations
----------------------
``rfm_segment``
    Named RFM segment from the recency score R and the rounded-down average
    of the frequency and monetary scores, ``FM = floor((F + M) / 2)``, on the
    R x FM grid :data:`RFM_SEGMENT_GRID` (scores 1-5, 5 = best).
``abc_class``
    A/B/C by historical revenue (Pareto / ABC analysis).
``clv_tier``
    ``"Top 10%"``, ``"Next 40%"``, ``"Bottom 50%"`` of customers by ``clv``
    (labels follow the configured shares).
``value_risk_segment``
    CLV tier (high / medium / low value) x P(alive) band (active / at risk),
    with a recommended action per cell in ``value_risk_action``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from analysis.reporting import fmt
from analysis.reporting.i18n import say, translate
from analysis.business.ranking import order_desc_then_id
from analysis.errors import rows_of
from analysis.data.survey import SurveyParams

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "REGISTRY",
    "SEGMENT_TABLE_COLUMNS",
    "Segmentation",
    "by_characteristic",
    "RFM_SEGMENT_GRID",
    "RFM_SEGMENTS",
    "ABC_CLASSES",
    "P_ALIVE_BANDS",
    "VALUE_LEVELS",
    "VALUE_RISK_SEGMENTS",
    "DEFAULT_VALUE_RISK_ACTIONS",
    "HIGH_VALUE_AT_RISK",
    "SEGMENTATIONS",
    "SegmentParams",
    "rank_scores",
    "rfm_scores",
    "rfm_segment_names",
    "abc_classes",
    "clv_tier_labels",
    "clv_tiers",
    "p_alive_bands",
    "value_risk_segments",
    "assign_segments",
    "segment_profiles",
    "at_risk_high_value",
    "plot_value_vs_customer_share",
    "plot_value_risk_heatmap",
    "plot_rfm_segment_sizes",
]

# --------------------------------------------------------------------------
# Mapping tables (data, not code)
# --------------------------------------------------------------------------

#: Named RFM segment per recency score R (rows) and FM score 1..5 (columns),
#: where ``FM = floor((F + M) / 2)``.  This is the widely used R x FM grid
#: (the "Champions ... Lost" chart of RFM tutorials), with the two lowest
#: cells of R = 1 split off as "Lost" (R = 2 there is "Hibernating").
#:
#: ====  ===============  ===================  ===================  ===============  ===============
#: R     FM = 1           FM = 2               FM = 3               FM = 4           FM = 5
#: ====  ===============  ===================  ===================  ===============  ===============
#: 5     New              Potential loyalists  Potential loyalists  Champions        Champions
#: 4     Promising        Potential loyalists  Potential loyalists  Loyal            Loyal
#: 3     About to sleep   About to sleep       Need attention       Loyal            Loyal
#: 2     Hibernating      Hibernating          At risk              At risk          Can't lose them
#: 1     Lost             Lost                 At risk              At risk          Can't lose them
#: ====  ===============  ===================  ===================  ===============  ===============
RFM_SEGMENT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("New", "Potential loyalists", "Potential loyalists", "Champions", "Champions"),
    4: ("Promising", "Potential loyalists", "Potential loyalists", "Loyal", "Loyal"),
    3: ("About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"),
    1: ("Lost", "Lost", "At risk", "At risk", "Can't lose them"),
}

#: RFM segments from best to worst (category order of ``rfm_segment``).
RFM_SEGMENTS: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential loyalists",
    "New",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Can't lose them",
    "Hibernating",
    "Lost",
)

ABC_CLASSES: tuple[str, str, str] = ("A", "B", "C")
#: P(alive) bands: ``p_alive >= p_alive_at_risk_below`` is likely to stay, below is at risk. (The
#: word "active" is kept for the observed KPI: bought in the last ``kpis.active_window_days``.)
P_ALIVE_BANDS: tuple[str, str] = ("likely to stay", "at risk")
#: Value level of each CLV tier, top tier first.
VALUE_LEVELS: tuple[str, str, str] = ("High value", "Medium value", "Low value")

#: Value x risk segments: ``f"{value level}, {P(alive) band}"``, best first.
VALUE_RISK_SEGMENTS: tuple[str, ...] = tuple(
    f"{level}, {band}" for level in VALUE_LEVELS for band in P_ALIVE_BANDS
)
HIGH_VALUE_AT_RISK = "High value, at risk"

#: Default action per value x risk segment.
#:
#: ============  ===========================  =============================
#: CLV tier      likely to stay (P(alive)>=0.5) at risk (P(alive) < 0.5)
#: ============  ===========================  =============================
#: High value    Reward                       Protect (win back)
#: Medium value  Develop                      Re-activate (low-cost offer)
#: Low value     Maintain (low-cost service)  Let go
#: ============  ===========================  =============================
DEFAULT_VALUE_RISK_ACTIONS: dict[str, str] = {
    "High value, likely to stay": "Reward",
    "High value, at risk": "Protect (win back)",
    "Medium value, likely to stay": "Develop",
    "Medium value, at risk": "Re-activate (low-cost offer)",
    "Low value, likely to stay": "Maintain (low-cost service)",
    "Low value, at risk": "Let go",
}


_EPS = 1e-9  # tolerance for cumulative-share comparisons (float sums)


# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------


class SegmentParams(BaseModel):
    """Parameters of the segmentation stage (the ``segments:`` section).

    Parameters
    ----------
    rfm_bins : int
        Number of R, F and M scores (5 gives 1-5).  The named RFM segments
        always use 1-5 scores, computed separately when ``rfm_bins != 5``.
    abc_a_share : float
        Cumulative revenue share closed by class A (0.80).
    abc_b_share : float
        Cumulative revenue share closed by class B (0.95); the rest is C.
    clv_top_share : float
        Share of customers in the top CLV tier (0.10, "Top 10%").
    clv_next_share : float
        Share of customers in the middle CLV tier (0.40, "Next 40%"); the
        remaining customers form the bottom tier ("Bottom 50%").
    p_alive_at_risk_below : float
        A customer with ``p_alive`` strictly below this (0.5) is "at risk",
        otherwise "likely to stay".  0.5 = the model thinks the customer is more
        likely gone than still buying.
    value_risk_actions : dict of str to str
        Action per value x risk segment; keys must be exactly
        :data:`VALUE_RISK_SEGMENTS`.
    cost_to_serve : dict of str to float, optional
        Cost of serving one customer for one year (currency units, >= 0),
        keyed by value x risk segment (all six keys), because the action in
        each cell (reward programme, win-back, low-cost service...) is what
        drives the serving cost.  ``None``: profiles show no serving cost.
    survey : SurveyParams, optional
        Survey file and its column names; ``None``: no survey.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rfm_bins: int = Field(default=5, ge=2, le=10)
    abc_a_share: float = Field(default=0.80, gt=0.0, lt=1.0)
    abc_b_share: float = Field(default=0.95, gt=0.0, le=1.0)
    clv_top_share: float = Field(default=0.10, gt=0.0, lt=1.0)
    clv_next_share: float = Field(default=0.40, gt=0.0, lt=1.0)
    p_alive_at_risk_below: float = Field(default=0.5, gt=0.0, le=1.0)
    value_risk_actions: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_VALUE_RISK_ACTIONS)
    )
    cost_to_serve: dict[str, float] | None = None
    survey: SurveyParams | None = None

    @model_validator(mode="after")
    def _check(self) -> SegmentParams:
        if not self.abc_a_share < self.abc_b_share:
            raise ValueError(
                f"abc_a_share ({self.abc_a_share}) must be below abc_b_share ({self.abc_b_share})"
            )
        if not self.clv_top_share + self.clv_next_share < 1.0 - _EPS:
            raise ValueError(
                "clv_top_share + clv_next_share must be below 1 so the bottom tier is not empty"
            )
        _check_keys("value_risk_actions", self.value_risk_actions)
        if self.cost_to_serve is not None:
            _check_keys("cost_to_serve", self.cost_to_serve)
            negative = {k: v for k, v in self.cost_to_serve.items() if not v >= 0}
            if negative:
                raise ValueError(f"cost_to_serve must be >= 0; got {negative}")
        return self


def _check_keys(name: str, mapping: dict[str, object]) -> None:
    missing = [k for k in VALUE_RISK_SEGMENTS if k not in mapping]
    unknown = [k for k in mapping if k not in VALUE_RISK_SEGMENTS]
    if missing or unknown:
        raise ValueError(
            f"{name} must have exactly the value x risk segments {list(VALUE_RISK_SEGMENTS)}; "
            f"missing {missing}, unknown {unknown}"
        )


# --------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------


def _require(customers: pd.DataFrame, columns: tuple[str, ...]) -> None:
    if customers.index.name != "customer_id":
        raise ValueError(
            f"customers must be indexed by customer_id (index name is {customers.index.name!r})"
        )
    if len(customers) and not pd.api.types.is_string_dtype(customers.index):
        raise ValueError(
            "customer_id must be text (ids like '00042' keep their leading zeros); "
            f"index dtype is {customers.index.dtype}"
        )
    if not customers.index.is_unique:
        repeated = customers.index.duplicated()
        raise ValueError(
            f"customer_id is not unique: {customers.index[repeated].nunique():,} duplicated ids, at {rows_of(repeated)}"
        )
    for col in columns:
        if col not in customers.columns:
            raise ValueError(f"Required column {col} missing from customers")
        missing = customers[col].isna()
        if missing.any():
            raise ValueError(f"column {col} has {int(missing.sum()):,} missing values, at {rows_of(missing.to_numpy())}")


def _ordered(values: pd.Series, categories: tuple[str, ...] | list[str]) -> pd.Series:
    return values.astype(pd.CategoricalDtype(list(categories), ordered=True))


def _from_codes(codes: np.ndarray, categories: tuple[str, ...] | list[str], index: pd.Index, name: str) -> pd.Series:
    """An ordered categorical Series from category positions (what :func:`_ordered` makes from the labels,
    without writing a million labels first)."""
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(categories), ordered=True), index=index,
                     name=name)


# --------------------------------------------------------------------------
# RFM
# --------------------------------------------------------------------------


def rank_scores(values: pd.Series, bins: int = 5, higher_is_better: bool = True) -> pd.Series:
    """Score values 1..``bins`` by their mid-rank percentile (quantile scores).

    With ``r`` the average rank of a value among ``n`` (1 = worst; tied values
    share the mean of their ranks), the mid-rank percentile is
    ``p = (r - 0.5) / n`` and the score is ``ceil(bins * p)``.  A value exactly
    on a boundary (``bins * p`` a whole number) gets the lower score.  The
    arithmetic is done in integers, so boundaries are exact.

    Consequences: tied values always get the same score; with ``n`` distinct
    values each score holds ``n / bins`` of them (quantile bins); a single
    customer, or customers who all have the same value, get the middle score
    (3 of 5), never the best or worst.

    Parameters
    ----------
    values : pandas.Series
        Values to score, no missing values.
    bins : int
        Number of scores.
    higher_is_better : bool
        If False (e.g. days since last purchase), the smallest value scores
        highest.

    Returns
    -------
    pandas.Series
        ``int64`` scores 1..``bins`` with the index of ``values``.

    Examples
    --------
    Five distinct values score 1, 2, 3, 4, 5; ten score 1, 1, 2, 2, ..., 5, 5.
    """
    if values.isna().any():
        raise ValueError(f"cannot score {values.name}: {int(values.isna().sum())} missing values")
    n = len(values)
    if n == 0:
        return pd.Series([], index=values.index, dtype="int64", name=values.name)
    v = values.astype(float) if higher_is_better else -values.astype(float)
    twice_rank = np.rint(v.rank(method="average").to_numpy() * 2).astype(np.int64)
    numerator = bins * (twice_rank - 1)  # bins * (2r - 1)
    denominator = 2 * n
    score = -(-numerator // denominator)  # ceil(bins * (r - 0.5) / n)
    return pd.Series(score, index=values.index, name=values.name, dtype="int64")


def _days_since_last(customers: pd.DataFrame, observation_end: pd.Timestamp) -> pd.Series:
    last = pd.to_datetime(customers["last_purchase"])
    days = (observation_end - last).dt.days
    late = days < 0
    if late.any():
        raise ValueError(
            f"{int(late.sum()):,} customers have last_purchase after observation_end "
            f"{observation_end.date()}, at {rows_of(late.to_numpy())}"
        )
    if "days_since_last" in customers.columns:
        differ = customers["days_since_last"].astype("int64") != days
        if differ.any():
            raise ValueError(
                f"days_since_last disagrees with observation_end {observation_end.date()} - "
                f"last_purchase for {int(differ.sum()):,} customers ({rows_of(differ.to_numpy())}); "
                "was the summary built with another observation end?"
            )
    return days.astype("int64")


def rfm_scores(
    customers: pd.DataFrame, observation_end: pd.Timestamp | str, bins: int = 5
) -> pd.DataFrame:
    """Recency, frequency and monetary scores (1..``bins``, higher = better).

    R scores the days from ``last_purchase`` to ``observation_end`` (fewer
    days score higher; this is not the BG/NBD ``recency``), F scores
    ``n_purchases`` (purchase days) and M scores ``revenue`` (total spend),
    each with :func:`rank_scores`.

    Parameters
    ----------
    customers : pandas.DataFrame
        Indexed by ``customer_id``, with ``last_purchase``, ``n_purchases``
        and ``revenue`` (and optionally ``days_since_last``, which must agree
        with ``observation_end``).
    observation_end : Timestamp or str
        Last day of the observation period.
    bins : int
        Number of scores.

    Returns
    -------
    pandas.DataFrame
        Columns ``rfm_r``, ``rfm_f``, ``rfm_m`` (int64), same index.
    """
    _require(customers, ("last_purchase", "n_purchases", "revenue"))
    end = pd.Timestamp(observation_end)
    days = _days_since_last(customers, end)
    return pd.DataFrame(
        {
            "rfm_r": rank_scores(days, bins, higher_is_better=False),
            "rfm_f": rank_scores(customers["n_purchases"], bins),
            "rfm_m": rank_scores(customers["revenue"], bins),
        },
        index=customers.index,
    )


def rfm_segment_names(r: pd.Series, f: pd.Series, m: pd.Series) -> pd.Series:
    """Named RFM segment from 1-5 scores via :data:`RFM_SEGMENT_GRID`.

    ``FM = floor((F + M) / 2)``: e.g. F = 1, M = 2 gives FM = 1, and
    F = 4, M = 5 gives FM = 4.

    Parameters
    ----------
    r, f, m : pandas.Series
        Recency, frequency and monetary scores 1-5, same index.

    Returns
    -------
    pandas.Series
        Ordered categorical with categories :data:`RFM_SEGMENTS`.
    """
    for s in (r, f, m):
        if len(s) and not s.between(1, 5).all():
            raise ValueError(f"RFM scores must be 1-5 for the segment grid; got {sorted(s.unique())}")
    fm = (f.to_numpy(dtype=np.int64) + m.to_numpy(dtype=np.int64)) // 2
    # the grid as category positions, looked up for all customers at once (a name per customer took 0.3 s at 1M)
    grid = np.array([[RFM_SEGMENTS.index(name) for name in RFM_SEGMENT_GRID[score]] for score in range(1, 6)])
    return _from_codes(grid[r.to_numpy(dtype=np.int64) - 1, fm - 1], RFM_SEGMENTS, r.index, "rfm_segment")


# --------------------------------------------------------------------------
# ABC, CLV tiers, P(alive) bands, value x risk
# --------------------------------------------------------------------------


def _order_by_value_then_id(values: pd.Series) -> np.ndarray:
    """Positions of ``values`` sorted by value descending, ties by customer_id ascending."""
    return order_desc_then_id(values.index.astype(str), values.to_numpy())


def _by_value_then_id(values: pd.Series) -> pd.Index:
    """Index sorted by value descending, ties by customer_id ascending."""
    return values.index[_order_by_value_then_id(values)]


def abc_classes(revenue: pd.Series, a_share: float = 0.80, b_share: float = 0.95) -> pd.Series:
    """ABC class by historical revenue (Pareto analysis).

    Customers are sorted by revenue, largest first (equal revenue: by
    ``customer_id``).  For each customer let ``before`` be the share of total
    revenue brought by the customers ranked above them.  The customer is

    * A if ``before < a_share`` - so the customer whose revenue crosses the
      80 % line is still A (A is the smallest set reaching ``a_share``);
    * B if ``a_share <= before < b_share``;
    * C otherwise.

    A share within 1e-9 of a threshold counts as reaching it.  Customers with
    zero (or negative) revenue are always C; shares are of the total of
    positive revenues.  If no customer has positive revenue, all are C.

    Parameters
    ----------
    revenue : pandas.Series
        Historical revenue, indexed by ``customer_id``.
    a_share, b_share : float
        Cumulative revenue shares closing classes A and B.

    Returns
    -------
    pandas.Series
        Ordered categorical ``"A" < "B" < "C"`` (A first), same index.

    Examples
    --------
    Revenues 80, 15, 5: 0.00, 0.80 and 0.95 come before them, so A, B, C.
    Revenues 90, 10: the second has 0.90 before it (not < 0.80, < 0.95), so
    A, B.  A single customer with revenue is A.
    """
    positive = revenue.where(revenue > 0, 0.0).astype(float)
    total = float(positive.sum())
    codes = np.full(len(revenue), 2, dtype=np.int8)  # C
    if total > 0:
        order = _order_by_value_then_id(positive)
        ranked = positive.to_numpy()[order]
        before = (pd.Series(ranked).cumsum().to_numpy() - ranked) / total
        cls = np.where(before < a_share - _EPS, 0, np.where(before < b_share - _EPS, 1, 2))
        codes[order] = np.where(ranked > 0, cls, 2)
    return _from_codes(codes, ABC_CLASSES, revenue.index, "abc_class")


def _pct(share: float) -> str:
    return f"{round(share * 100, 2):g}%"


def clv_tier_labels(top_share: float = 0.10, next_share: float = 0.40) -> tuple[str, str, str]:
    """Labels of the three CLV tiers, e.g. ``("Top 10%", "Next 40%", "Bottom 50%")``.

    Parameters
    ----------
    top_share, next_share : float
        Shares of customers in the top and middle tiers.

    Returns
    -------
    tuple of str
        Top, middle and bottom tier labels.
    """
    return (
        f"Top {_pct(top_share)}",
        f"Next {_pct(next_share)}",
        f"Bottom {_pct(1.0 - top_share - next_share)}",
    )


def clv_tiers(clv: pd.Series, top_share: float = 0.10, next_share: float = 0.40) -> pd.Series:
    """CLV tier: top, next and bottom shares of customers by ``clv``.

    Customers are sorted by ``clv``, largest first, equal CLV by
    ``customer_id`` (ascending), so ties are broken deterministically.  With
    ``n`` customers the first ``ceil(n * top_share)`` form the top tier, the
    following customers up to ``ceil(n * (top_share + next_share))`` the
    middle tier, the rest the bottom tier.  Rounding up means a lone customer
    is "Top 10%", and 15 customers split 2 / 6 / 7.

    Parameters
    ----------
    clv : pandas.Series
        Customer lifetime value, indexed by ``customer_id``.
    top_share, next_share : float
        Shares of customers in the top and middle tiers.

    Returns
    -------
    pandas.Series
        Ordered categorical with categories :func:`clv_tier_labels` (top
        first), same index.
    """
    labels = clv_tier_labels(top_share, next_share)
    n = len(clv)
    n_top = math.ceil(n * top_share - _EPS)
    n_upper = math.ceil(n * (top_share + next_share) - _EPS)
    position = np.arange(n)
    codes = np.empty(n, dtype=np.int8)
    codes[_order_by_value_then_id(clv)] = np.where(position < n_top, 0, np.where(position < n_upper, 1, 2))
    return _from_codes(codes, labels, clv.index, "clv_tier")


def p_alive_bands(p_alive: pd.Series, at_risk_below: float = 0.5) -> pd.Series:
    """P(alive) band: ``"at risk"`` if ``p_alive < at_risk_below``, else ``"likely to stay"``.

    Parameters
    ----------
    p_alive : pandas.Series
        Probability the customer is still active, indexed by ``customer_id``.
    at_risk_below : float
        Threshold; a customer exactly at it is active.

    Returns
    -------
    pandas.Series
        Ordered categorical ``"likely to stay" < "at risk"``, same index.
    """
    codes = (p_alive.to_numpy(dtype=float) < at_risk_below).astype(np.int8)
    return _from_codes(codes, P_ALIVE_BANDS, p_alive.index, "p_alive_band")


def value_risk_segments(customers: pd.DataFrame, params: SegmentParams | None = None) -> pd.DataFrame:
    """CLV tier x P(alive) band and the recommended action.

    The top CLV tier is "High value", the middle "Medium value", the bottom
    "Low value"; the segment is ``f"{value level}, {band}"`` (see
    :data:`DEFAULT_VALUE_RISK_ACTIONS` for the default action table).

    Parameters
    ----------
    customers : pandas.DataFrame
        Indexed by ``customer_id``, with ``clv`` and ``p_alive``.
    params : SegmentParams, optional
        Tier shares, P(alive) threshold and actions; defaults apply if None.

    Returns
    -------
    pandas.DataFrame
        Columns ``clv_tier``, ``p_alive_band``, ``value_risk_segment``
        (categorical, :data:`VALUE_RISK_SEGMENTS` order) and
        ``value_risk_action`` (str), same index.
    """
    params = params or SegmentParams()
    _require(customers, ("clv", "p_alive"))
    tier = clv_tiers(customers["clv"], params.clv_top_share, params.clv_next_share)
    band = p_alive_bands(customers["p_alive"], params.p_alive_at_risk_below)
    # the segment of each (value level, band) pair, looked up by codes: six labels, not a million strings
    pairs = [f"{level}, {b}" for level in VALUE_LEVELS for b in P_ALIVE_BANDS]
    pair = tier.cat.codes.to_numpy() * len(P_ALIVE_BANDS) + band.cat.codes.to_numpy()
    position = {name: i for i, name in enumerate(VALUE_RISK_SEGMENTS)}
    segment_codes = np.array([position.get(name, -1) for name in pairs], dtype=np.int16)[pair]
    actions = np.array([params.value_risk_actions.get(name, np.nan) for name in pairs], dtype=object)[pair]
    return pd.DataFrame(
        {
            "clv_tier": tier,
            "p_alive_band": band,
            "value_risk_segment": pd.Categorical.from_codes(segment_codes, categories=list(VALUE_RISK_SEGMENTS),
                                                            ordered=True),
            "value_risk_action": actions,
        },
        index=customers.index,
    )


def assign_segments(
    customers: pd.DataFrame,
    params: SegmentParams,
    observation_end: pd.Timestamp | str,
) -> pd.DataFrame:
    """Add all segment columns to the customers table.

    Parameters
    ----------
    customers : pandas.DataFrame
        Indexed by ``customer_id`` (text), with ``last_purchase``,
        ``n_purchases``, ``revenue``, ``clv`` and ``p_alive`` (and optionally
        ``days_since_last``, checked against ``observation_end``).
    params : SegmentParams
        Segmentation parameters (``SegmentParams()`` for the defaults).
    observation_end : Timestamp or str
        Last day of the observation period: the reference date for recency.

    Returns
    -------
    pandas.DataFrame
        A copy of ``customers`` with ``rfm_r``, ``rfm_f``, ``rfm_m`` (scores
        1..``rfm_bins``), ``rfm_segment``, ``abc_class``, ``clv_tier``,
        ``p_alive_band``, ``value_risk_segment`` and ``value_risk_action``.
        Each customer is in exactly one segment of each segmentation.
    """
    _require(customers, ("last_purchase", "n_purchases", "revenue", "clv", "p_alive"))
    # a new table that shares the input's columns (the columns below are set, never written into: pandas gives
    # ``out[col] = ...`` a new array, so ``customers`` is not changed); a deep copy took 0.8 s at 1M customers
    out = customers.copy(deep=False)
    for segmentation in REGISTRY:
        if segmentation.assign is None:
            continue
        added = segmentation.assign(customers, params, observation_end)
        if tuple(added.columns) != segmentation.columns:
            raise ValueError(f"segmentation {segmentation.column}: its function returned the columns"
                             f" {list(added.columns)}, its registry entry lists {list(segmentation.columns)}")
        for col in added.columns:
            out[col] = added[col]
    return out


def _rfm(customers: pd.DataFrame, params: SegmentParams, observation_end: pd.Timestamp | str) -> pd.DataFrame:
    scores = rfm_scores(customers, observation_end, params.rfm_bins)
    grid = scores if params.rfm_bins == 5 else rfm_scores(customers, observation_end, 5)
    out = scores[["rfm_r", "rfm_f", "rfm_m"]].copy()
    out["rfm_segment"] = rfm_segment_names(grid["rfm_r"], grid["rfm_f"], grid["rfm_m"])
    return out


def _abc(customers: pd.DataFrame, params: SegmentParams, observation_end: pd.Timestamp | str) -> pd.DataFrame:
    return abc_classes(customers["revenue"], params.abc_a_share, params.abc_b_share).to_frame("abc_class")


def _value_risk(customers: pd.DataFrame, params: SegmentParams, observation_end: pd.Timestamp | str) -> pd.DataFrame:
    return value_risk_segments(customers, params)


@dataclass(frozen=True)
class Segmentation:
    """One segmentation of the registry.

    ``column``: the segment column (an ordered categorical) that profiles, charts and contact lists use;
    ``name``: what a reader calls it (translated by the language catalogue); ``columns``: the columns its
    ``assign(customers, params, observation_end)`` adds to the customer table, in order (None: another entry
    writes ``column``); ``own_section``: page 03 has a section written for it (else the page shows its profile
    table and chart under its name).
    """

    column: str
    name: str
    columns: tuple[str, ...] = ()
    assign: Callable[[pd.DataFrame, SegmentParams, pd.Timestamp | str], pd.DataFrame] | None = None
    own_section: bool = False


#: The segmentations, in profile order. Adding one is one entry here (and its function): the customer table,
#: the profiles (``segments.csv``), the segments page and the contact lists take it from here.
REGISTRY: tuple[Segmentation, ...] = (
    Segmentation("rfm_segment", "RFM segment", ("rfm_r", "rfm_f", "rfm_m", "rfm_segment"), _rfm, own_section=True),
    Segmentation("abc_class", "ABC class", ("abc_class",), _abc, own_section=True),
    Segmentation("clv_tier", "CLV tier", own_section=True),  # written with the value x risk segments
    Segmentation("value_risk_segment", "value and risk segment",
                 ("clv_tier", "p_alive_band", "value_risk_segment", "value_risk_action"), _value_risk,
                 own_section=True),
)

#: Segment columns written by :func:`assign_segments`, in profile order.
SEGMENTATIONS: tuple[str, ...] = tuple(s.column for s in REGISTRY)

#: Every column :func:`assign_segments` adds, in order.
SEGMENT_TABLE_COLUMNS: tuple[str, ...] = tuple(c for s in REGISTRY for c in s.columns)


# --------------------------------------------------------------------------
# Profiles and lists
# --------------------------------------------------------------------------


def segment_profiles(
    customers: pd.DataFrame,
    cost_to_serve: dict[str, float] | None = None,
    horizon_months: float | None = None,
    segmentations: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """One row per (segmentation, segment) with size, value and behaviour.

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of :func:`assign_segments` (needs ``revenue``,
        ``n_purchases``, ``clv``, ``p_alive``, ``expected_purchases``,
        ``days_since_last`` and the segment columns).
    cost_to_serve : dict of str to float, optional
        Cost of serving one customer for one year (currency units), keyed by
        ``value_risk_segment``; every segment present needs a cost.
    horizon_months : float, optional
        Length of the CLV horizon; required with ``cost_to_serve``.
    segmentations : tuple of str, optional
        Segment columns to profile; default every segmentation of :data:`REGISTRY`.

    Returns
    -------
    pandas.DataFrame
        Columns ``segmentation``, ``segment``, ``customers`` (count),
        ``customer_share``, ``revenue`` (historical), ``revenue_share``,
        ``expected_value`` (sum of ``clv``), ``expected_value_share``,
        ``avg_clv``, ``avg_p_alive``, ``avg_expected_purchases``,
        ``avg_order_value`` (revenue / purchase days of the segment),
        ``avg_days_since_last``; with ``cost_to_serve`` also
        ``serving_cost`` (annual cost x ``horizon_months`` / 12, summed over
        the segment's customers, undiscounted and charged for every customer
        whether or not they stay active - a conservative upper bound) and
        ``expected_profit`` (``expected_value - serving_cost``).  Shares are
        fractions (0..1) that sum to 1 within each segmentation.  Segments
        without customers are left out; rows follow the segment order.
    """
    if segmentations is None:
        segmentations = tuple(s.column for s in REGISTRY)
    needed = ("revenue", "n_purchases", "clv", "p_alive", "expected_purchases", "days_since_last")
    _require(customers, needed + tuple(segmentations))
    data = customers.copy(deep=False)  # its own columns: the serving cost is added to it, not to ``customers``
    if cost_to_serve is not None:
        if horizon_months is None or not horizon_months > 0:
            raise ValueError("segment_profiles: cost_to_serve needs a positive horizon_months")
        present = set(data["value_risk_segment"].astype(str))
        missing = sorted(present - set(cost_to_serve))
        if missing:
            raise ValueError(f"cost_to_serve has no cost for value x risk segment(s) {missing}")
        annual = data["value_risk_segment"].astype(str).map(cost_to_serve).astype(float)
        data["_serving_cost"] = annual * horizon_months / 12.0

    n_total = len(data)
    revenue_total = float(data["revenue"].sum())
    value_total = float(data["clv"].sum())
    frames = []
    for col in segmentations:
        g = data.groupby(data[col], observed=True, sort=True)
        prof = pd.DataFrame(
            {
                "customers": g.size(),
                "revenue": g["revenue"].sum(),
                "expected_value": g["clv"].sum(),
                "avg_clv": g["clv"].mean(),
                "avg_p_alive": g["p_alive"].mean(),
                "avg_expected_purchases": g["expected_purchases"].mean(),
                "_purchases": g["n_purchases"].sum(),
                "avg_days_since_last": g["days_since_last"].mean(),
            }
        )
        if "_serving_cost" in data:
            prof["serving_cost"] = g["_serving_cost"].sum()
        prof.index = prof.index.astype(str)
        prof.index.name = "segment"
        prof = prof.reset_index()
        prof.insert(0, "segmentation", col)
        frames.append(prof)
    out = pd.concat(frames, ignore_index=True)
    out["customer_share"] = out["customers"] / n_total if n_total else np.nan
    out["revenue_share"] = out["revenue"] / revenue_total if revenue_total else np.nan
    out["expected_value_share"] = out["expected_value"] / value_total if value_total else np.nan
    out["avg_order_value"] = out["revenue"] / out["_purchases"].where(out["_purchases"] > 0)
    columns = [
        "segmentation", "segment", "customers", "customer_share", "revenue",
        "revenue_share", "expected_value", "expected_value_share", "avg_clv",
        "avg_p_alive", "avg_expected_purchases", "avg_order_value", "avg_days_since_last",
    ]
    if "serving_cost" in out:
        out["expected_profit"] = out["expected_value"] - out["serving_cost"]
        columns += ["serving_cost", "expected_profit"]
    return out[columns]


def by_characteristic(customers: pd.DataFrame, values: pd.Series, at_risk: pd.Index,
                      p_alive_at_risk_below: float) -> pd.DataFrame:
    """Customers grouped by one characteristic (``models.covariates``): by its text values, or by the quarters of
    a numeric one (labelled "low - high" in the report's notation). Per group: ``customers``, ``customer_share``,
    ``expected_value`` (sum of CLV), ``avg_clv``, ``likely_to_stay`` (share with P(alive) at or above the
    threshold) and ``high_value_at_risk`` (how many of ``at_risk``, the campaign list, are in it)."""
    frame = pd.DataFrame({"group": characteristic_groups(values.reindex(customers.index)),
                          "clv": customers["clv"].to_numpy(),
                          "likely": (customers["p_alive"] >= p_alive_at_risk_below).to_numpy(),
                          "at_risk": customers.index.isin(at_risk)}, index=customers.index)
    out = frame.groupby("group", observed=True, sort=True).agg(
        customers=("clv", "size"), expected_value=("clv", "sum"), avg_clv=("clv", "mean"),
        likely_to_stay=("likely", "mean"), high_value_at_risk=("at_risk", "sum"))
    out.insert(1, "customer_share", out["customers"] / out["customers"].sum())
    out = out.reset_index()
    out["group"] = out["group"].astype(str)
    return out


def characteristic_groups(values: pd.Series) -> pd.Series:
    """The group of each customer for one characteristic, as an ordered categorical of labels: a text value
    itself (sorted), or the quarter of a numeric one, labelled "low - high" in the report's notation (lowest
    first). Page 03 (segments) and page 04 (campaigns) group by it."""
    if values.dtype.kind == "f":
        groups = pd.qcut(values, 4, duplicates="drop")
        f = fmt.current()
        for decimals in range(2, 10):  # as many decimals as it takes to tell the quarters apart (small values)
            labels = [f"{f.number(iv.left, decimals)} - {f.number(iv.right, decimals)}"
                      for iv in groups.cat.categories]
            if len(set(labels)) == len(labels):
                break
        else:
            labels = [f"{label} ({i + 1})" for i, label in enumerate(labels)]
        return groups.cat.rename_categories(labels).cat.as_ordered()
    text = values.astype(str)
    return pd.Series(pd.Categorical(text, categories=sorted(text.unique()), ordered=True), index=values.index,
                     name=values.name)


def at_risk_high_value(customers: pd.DataFrame, params: SegmentParams | None = None) -> pd.DataFrame:
    """High-value customers the model thinks are at risk (for the win-back list).

    Parameters
    ----------
    customers : pandas.DataFrame
        Indexed by ``customer_id`` with ``clv``, ``p_alive``,
        ``last_purchase`` and ``expected_purchases``; if it has no
        ``value_risk_segment`` column, the segment is computed with
        ``params``.
    params : SegmentParams, optional
        Used only when the segment must be computed; defaults if None.

    Returns
    -------
    pandas.DataFrame
        Customers in the "High value, at risk" segment, indexed by
        ``customer_id`` (``to_csv`` writes it as the first column), with
        columns ``clv``, ``p_alive``, ``last_purchase``,
        ``expected_purchases``, sorted by ``clv`` descending (ties by
        ``customer_id``).
    """
    _require(customers, ("clv", "p_alive", "last_purchase", "expected_purchases"))
    if "value_risk_segment" in customers.columns:
        segment = customers["value_risk_segment"]
    else:
        segment = value_risk_segments(customers, params)["value_risk_segment"]
    chosen = customers.loc[segment.astype(str) == HIGH_VALUE_AT_RISK]
    cols = ["clv", "p_alive", "last_purchase", "expected_purchases"]
    return chosen.loc[_by_value_then_id(chosen["clv"]), cols]


# --------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------


def segmentation_name(column: str) -> str:
    """The name a reader sees for a segmentation column: ``value_risk_segment`` -> 'value and risk segment'
    (from :data:`REGISTRY`)."""
    return next((s.name for s in REGISTRY if s.column == column), column)


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_value_vs_customer_share(
    profiles: pd.DataFrame, segmentation: str = "value_risk_segment", ax: Axes | None = None
) -> Axes:
    """Bars of customer share and expected-value share per segment.

    Parameters
    ----------
    profiles : pandas.DataFrame
        Output of :func:`segment_profiles`.
    segmentation : str
        Which segmentation to draw.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure if None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    rows = profiles.loc[profiles["segmentation"] == segmentation]
    if rows.empty:
        raise ValueError(f"profiles have no rows for segmentation {segmentation!r}")
    ax = _axes(ax, (9, 4.5))
    y = np.arange(len(rows))
    h = 0.4
    ax.barh(y - h / 2, rows["customer_share"] * 100, height=h, label="share of customers", color="#88CCEE")
    ax.barh(y + h / 2, rows["expected_value_share"] * 100, height=h,
            label="share of expected value (CLV)", color="#0b3d91")
    ax.set_yticks(y, rows["segment"])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(fmt.current().tick_percent(xmax=100, decimals=0))
    name = next((s.name for s in REGISTRY if s.column == segmentation), segmentation.replace("_", " "))
    ax.set_xlabel("share of total (%)")
    ax.set_ylabel(name)
    ax.set_title(say("Share of customers and of expected value by {name}",
                     name=translate(name, fmt.current().language)))
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    return ax


def _as_text(labels: pd.Series) -> pd.Series:
    """``labels`` as text for grouping: a categorical keeps its codes and gets text categories (converting a
    million values one by one took most of the chart's time); anything else becomes ``str``."""
    if isinstance(labels.dtype, pd.CategoricalDtype):
        return labels.cat.rename_categories([str(c) for c in labels.cat.categories])
    return labels.astype(str)


def plot_value_risk_heatmap(
    customers: pd.DataFrame, currency: str | None = None, ax: Axes | None = None
) -> Axes:
    """Heatmap of CLV tier x P(alive) band: customers and expected value per cell.

    Cell colour is the cell's expected value (sum of ``clv``); the text gives
    the number of customers and the expected value with thousands separators.

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of :func:`assign_segments` (``clv_tier``, ``p_alive_band``,
        ``clv``).
    currency : str, optional
        A ``report.currency`` value (ISO code or symbol); default: the report's currency (:mod:`analysis.reporting.fmt`).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure if None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    f = fmt.current(currency)
    for col in ("clv_tier", "p_alive_band", "clv"):
        if col not in customers.columns:
            raise ValueError(f"Required column {col} missing from customers")
    tiers = customers["clv_tier"]
    bands = customers["p_alive_band"]
    row_labels = list(tiers.cat.categories) if isinstance(tiers.dtype, pd.CategoricalDtype) else sorted(tiers.unique())
    col_labels = list(P_ALIVE_BANDS)
    tiers, bands = _as_text(tiers), _as_text(bands)
    counts = pd.crosstab(tiers, bands).reindex(
        index=row_labels, columns=col_labels, fill_value=0
    )
    value = (
        customers.groupby([tiers, bands], observed=True)["clv"].sum()
        .unstack()
        .reindex(index=row_labels, columns=col_labels)
        .fillna(0.0)
    )
    ax = _axes(ax, (6.5, 4.5))
    image = ax.imshow(value.to_numpy(), cmap="Blues", aspect="auto")
    vmax = float(value.to_numpy().max()) if value.size else 0.0
    for i in range(len(row_labels)):
        for j in range(len(col_labels)):
            v = float(value.iat[i, j])
            n = int(counts.iat[i, j])
            ax.text(
                j, i, f"{f.integer(n)} customer{'' if n == 1 else 's'}\n{f.money(v)}",
                ha="center", va="center",
                color="white" if vmax and v > vmax / 2 else "black",
            )
    ax.set_xticks(range(len(col_labels)), [f"{b}" for b in col_labels])
    ax.set_yticks(range(len(row_labels)), row_labels)
    ax.set_xlabel("P(alive) band")
    ax.set_ylabel("CLV tier (share of customers)")
    ax.grid(False)  # no grid lines through the cells
    ax.set_title(f"Customers and expected value ({f.symbol()}) by value and risk")
    bar = ax.figure.colorbar(image, ax=ax, label=f"expected value ({f.symbol()})")
    bar.formatter = f.tick_integer()
    bar.update_ticks()
    return ax


def plot_rfm_segment_sizes(customers: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Horizontal bars: number of customers per named RFM segment.

    Parameters
    ----------
    customers : pandas.DataFrame
        Output of :func:`assign_segments` (``rfm_segment``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure if None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if "rfm_segment" not in customers.columns:
        raise ValueError("Required column rfm_segment missing from customers")
    counts = customers["rfm_segment"].astype(str).value_counts().reindex(list(RFM_SEGMENTS), fill_value=0)
    ax = _axes(ax, (8, 4.5))
    y = np.arange(len(counts))
    ax.barh(y, counts.to_numpy(), color="#0b3d91")
    for yi, c in zip(y, counts.to_numpy()):
        ax.text(c, yi, f" {fmt.current().integer(c)}", va="center")
    ax.set_yticks(y, counts.index)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(fmt.current().tick_integer())
    ax.set_xlabel("customers (count)")
    ax.set_ylabel("RFM segment")
    ax.set_title("Customers per RFM segment")
    return ax
