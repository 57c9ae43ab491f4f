"""Retention-campaign ROI: who to contact, what it costs, what it is expected to earn.

The stage reads the customer scores (one row per ``customer_id``) and a set of
campaign scenarios (the ``roi:`` section of the run configuration, validated by
:class:`RoiParams`), and answers, per scenario: how many customers are contacted,
how many the campaign is expected to keep, the margin that brings, the cost, the
net gain, the ROI, the uplift needed to break even and the cost per retained
customer.

Economics per contacted customer (all in the currency of ``expected_avg_value``)::

    p_lost             = 1 - p_alive
    value_if_retained  = expected_purchases / max(p_alive, P_ALIVE_FLOOR)
                         * expected_avg_value * gross_margin
    expected_retained  = uplift * p_lost
    incremental_margin = expected_retained * value_if_retained
    expected_cost      = cost_per_contact + expected_retained * incentive_cost
    expected_incremental_profit = incremental_margin - expected_cost

Why ``expected_purchases / p_alive``: the BG/NBD conditional expectation of the
number of purchases is ``P(alive | history) * E[purchases | alive, history]``
(Fader, Hardie & Lee 2005, "Counting your customers the easy way", eq. 10), so
dividing by ``p_alive`` gives the expected purchases of a customer who stays
active.  Multiplying the raw column by the uplift in retention would count the
probability of being alive twice.  The same reasoning applies to ``clv``; we
rebuild the value from ``expected_purchases`` rather than from ``clv`` so that the
scenario's ``gross_margin`` is the one used.  Margins are *not* discounted (costs
are spent up front, margin arrives over ``horizon_months``), which slightly
flatters long horizons.

Everything here is a pure function; nothing is read or written at import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, NamedTuple

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator, model_validator

from analysis.reporting import fmt
from analysis.errors import ConfigError, rows_of
from analysis.reporting.i18n import say, translate
from analysis.business.ranking import order_desc_then_id
from analysis.business import segments

if TYPE_CHECKING:  # matplotlib is imported where a chart is drawn: the run configuration (RoiParams) needs none
    from matplotlib.axes import Axes
    from matplotlib.ticker import FuncFormatter

__all__ = [
    "FORMULA_TEXT",
    "P_ALIVE_FLOOR",
    "SEGMENT_COLUMNS",
    "BestNTarget",
    "HistoricalRetention",
    "RoiParams",
    "Scenario",
    "SegmentTarget",
    "SensitivitySettings",
    "TargetingCurve",
    "breakeven_uplift",
    "cost_per_retained_customer",
    "customer_economics",
    "evaluate_scenario",
    "evaluate_scenarios",
    "historical_cost_per_retained",
    "plot_scenario_comparison",
    "plot_sensitivity",
    "plot_targeting_curve",
    "scenario_targets",
    "select_targets",
    "sensitivity_grid",
    "targeting_curve",
]

#: ``p_alive`` below this is treated as this value when dividing by it.  Such
#: customers have ``expected_purchases`` close to 0 as well, and the ratio of two
#: tiny numbers is numerically meaningless; flooring the denominator can only
#: *lower* their value if retained (a conservative choice).
P_ALIVE_FLOOR: float = 0.01

#: Segment columns copied into the contact lists when present: the two the actions follow, then the other
#: segmentations of the registry in its order.
_ACTION_SEGMENTATIONS = ("value_risk_segment", "clv_tier")


def contact_list_segments() -> tuple[str, ...]:
    """The segment columns of the contact lists (read from the segmentation registry when called)."""
    return _ACTION_SEGMENTATIONS + tuple(s.column for s in segments.REGISTRY if s.column not in _ACTION_SEGMENTATIONS)


SEGMENT_COLUMNS: tuple[str, ...] = contact_list_segments()

#: Columns the economics need.
REQUIRED_COLUMNS: tuple[str, ...] = ("p_alive", "expected_purchases", "expected_avg_value")

FORMULA_TEXT: str = (
    "How the campaign figures are calculated, for each customer contacted:\n"
    "- Chance the customer is lost without the campaign = 1 - probability the customer is "
    "still a customer (P(alive)).\n"
    "- Value if retained = expected purchases over the horizon for a customer who stays "
    "(the model's expected purchases divided by P(alive)) "
    "x expected order value x gross margin. Values of P(alive) below "
    f"{P_ALIVE_FLOOR:.0%} are counted as {P_ALIVE_FLOOR:.0%}, which can only lower this "
    "value. Margins are not discounted.\n"
    "- Expected customers kept by the campaign = uplift x chance of being lost, where the "
    "uplift is the share of would-be-lost customers the campaign keeps.\n"
    "- Incremental margin = expected customers kept x value if retained.\n"
    "- Expected cost = cost per contact + expected customers kept x incentive "
    "(the incentive is paid only to customers the campaign keeps).\n"
    "- Expected incremental profit = incremental margin - expected cost.\n"
    "For a scenario, each figure is summed over the customers contacted. "
    "Net gain = incremental margin - total cost. ROI = net gain / total cost. "
    "Break-even uplift = the uplift at which net gain is zero, with the same customers "
    "contacted: number contacted x cost per contact / sum over them of "
    "(chance of being lost x (value if retained - incentive)). "
    "Cost per retained customer = total cost / expected customers kept."
)

def formula_text(lang: str = "en") -> str:
    """How the campaign figures are calculated, in the report language (Markdown list): ``CAMPAIGN_FORMULAS``
    of the language's catalogue (:mod:`analysis.reporting.lang_nl`), else English."""
    from analysis.reporting.i18n import CATALOGUES

    translated = getattr(CATALOGUES.get(lang), "CAMPAIGN_FORMULAS", None)
    if translated is None:
        return FORMULA_TEXT
    return translated.format(floor=fmt.Formatter(lang).percent(P_ALIVE_FLOOR, 0))


# --------------------------------------------------------------------------- #
# Configuration
# --------------------------------------------------------------------------- #

_SLUG = r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$"


class SegmentTarget(BaseModel):
    """Contact every customer whose ``segmentation`` column is in ``segments``."""

    model_config = ConfigDict(extra="forbid")

    segmentation: str = Field(min_length=1, description="Segment column, e.g. value_risk_segment.")
    segments: list[str] = Field(min_length=1, description="Segment labels to contact.")

    def describe(self) -> str:
        """Plain-language description of the rule."""
        return f"{self.segmentation} in {', '.join(self.segments)}"


class BestNTarget(BaseModel):
    """Contact the ``best_n`` customers with the highest expected incremental profit."""

    model_config = ConfigDict(extra="forbid")

    best_n: PositiveInt

    def describe(self) -> str:
        """Plain-language description of the rule."""
        return f"best {self.best_n:,} by expected incremental profit"


class MeasuredUplift(BaseModel):
    """``uplift: {measured: <campaign>}``: take the uplift a past campaign measured (page 05)
    instead of a guess; resolved by :func:`analysis.business.campaigns.resolve_uplifts` before evaluation."""

    model_config = ConfigDict(extra="forbid")

    measured: str = Field(min_length=1, description="Name of a campaign in the campaigns: section.")


class Scenario(BaseModel):
    """One retention campaign to evaluate.

    Attributes
    ----------
    name : str
        Slug (lower-case letters, digits, ``_`` and ``-``); used in file names
        such as ``targets_<name>.csv``.
    label : str, optional
        The name a reader sees in the report ("E-mail to the best 5,000"); default: ``name``.
    target : SegmentTarget or BestNTarget
        Who is contacted.
    cost_per_contact : float
        Cost of contacting one customer, paid for every customer contacted.
    incentive_cost : float
        Incentive (voucher, discount) paid per customer the campaign retains.
    uplift : float or MeasuredUplift
        Share of would-be-lost customers the campaign keeps, in [0, 1]; or ``{measured: <campaign>}``,
        the uplift a past campaign measured against its control group.
    gross_margin : float
        Margin as a share of order value, in (0, 1].
    horizon_months : int
        Horizon of ``expected_purchases``; must equal the horizon the customer
        scores were computed for (the scores do not let us change it here).
    """

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=_SLUG, max_length=64)]
    label: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    target: SegmentTarget | BestNTarget
    cost_per_contact: Annotated[float, Field(ge=0)]
    incentive_cost: Annotated[float, Field(ge=0)] = 0.0
    uplift: Annotated[float, Field(ge=0, le=1)] | MeasuredUplift
    gross_margin: Annotated[float, Field(gt=0, le=1)] = 0.30
    horizon_months: PositiveInt = 12

    @property
    def title(self) -> str:
        """The name shown to readers: ``label``, else ``name``."""
        return self.label or self.name


class HistoricalRetention(BaseModel):
    """Retention spend and customers retained in a past period."""

    model_config = ConfigDict(extra="forbid")

    period: str | None = Field(default=None, description="Label, e.g. '2023'.")
    retention_spend: Annotated[float, Field(ge=0)]
    customers_retained: Annotated[float, Field(gt=0)]


class SensitivitySettings(BaseModel):
    """Grid of uplift x cost per contact for the sensitivity table.

    ``scenario`` names the scenario whose customers and other costs are used
    (default: the first scenario).
    """

    model_config = ConfigDict(extra="forbid")

    scenario: str | None = None
    uplifts: list[Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: [0.02, 0.05, 0.10, 0.15, 0.20, 0.30], min_length=2
    )
    costs_per_contact: list[Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: [0.10, 0.50, 1.0, 2.0, 5.0, 10.0], min_length=2
    )

    @field_validator("uplifts", "costs_per_contact")
    @classmethod
    def _strictly_increasing(cls, values: list[float]) -> list[float]:
        if any(b <= a for a, b in zip(values, values[1:])):
            raise ValueError(f"must be strictly increasing, got {values}")
        return values


def _default_scenarios() -> list[Scenario]:
    # Illustrative placeholders: replace the economics with your own figures.
    return [
        Scenario(
            name="email_best_5000",
            target=BestNTarget(best_n=5000),
            cost_per_contact=0.10,
            incentive_cost=5.0,
            uplift=0.03,
        ),
        Scenario(
            name="voucher_best_1000",
            target=BestNTarget(best_n=1000),
            cost_per_contact=1.50,
            incentive_cost=10.0,
            uplift=0.08,
        ),
        Scenario(
            name="call_abc_a",
            target=SegmentTarget(segmentation="abc_class", segments=["A"]),
            cost_per_contact=8.0,
            incentive_cost=15.0,
            uplift=0.15,
        ),
    ]


class RoiParams(BaseModel):
    """The ``roi:`` section of the run configuration."""

    model_config = ConfigDict(extra="forbid")

    scenarios: list[Scenario] = Field(default_factory=_default_scenarios, min_length=1)
    historical: HistoricalRetention | None = None
    sensitivity: SensitivitySettings = Field(default_factory=SensitivitySettings)

    @model_validator(mode="after")
    def _check_names(self) -> RoiParams:
        names = [s.name for s in self.scenarios]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"scenario names must be unique; repeated: {duplicated}")
        wanted = self.sensitivity.scenario
        if wanted is not None and wanted not in names:
            raise ValueError(f"sensitivity.scenario {wanted!r} is not one of the scenarios {names}")
        return self

    def scenario(self, name: str) -> Scenario:
        """Return the scenario called ``name`` (``KeyError`` if absent)."""
        for s in self.scenarios:
            if s.name == name:
                return s
        raise KeyError(f"no scenario named {name!r}; have {[s.name for s in self.scenarios]}")

    def sensitivity_scenario(self) -> Scenario:
        """Scenario the sensitivity grid varies (``sensitivity.scenario`` or the first)."""
        name = self.sensitivity.scenario
        return self.scenarios[0] if name is None else self.scenario(name)


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #


def _validate_customers(customers: pd.DataFrame, extra_columns: Sequence[str] = ()) -> None:
    """Fail loudly on inputs the economics cannot use."""
    if customers.index.name != "customer_id":
        raise ValueError(
            "customers must be indexed by 'customer_id' "
            f"(index name is {customers.index.name!r}); use df.set_index('customer_id')"
        )
    # checked in C first (a million customers, checked once per scenario and step), located only on failure
    if pd.api.types.infer_dtype(customers.index, skipna=False) not in ("string", "empty"):
        not_str = [not isinstance(v, str) for v in customers.index]
        raise ValueError(f"customer_id must be strings; {sum(not_str)} of {len(customers)} are not, at {rows_of(not_str)}")
    if not customers.index.is_unique:
        dup = customers.index.duplicated()
        raise ValueError(f"customer_id must be unique; {int(dup.sum())} repeated, at {rows_of(dup)}")
    missing = [c for c in (*REQUIRED_COLUMNS, *extra_columns) if c not in customers.columns]
    if missing:
        raise ValueError(
            f"Required column(s) {missing} missing from customers; "
            f"columns present: {list(customers.columns)}"
        )
    for col in REQUIRED_COLUMNS:
        values = pd.to_numeric(customers[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values) | (values < 0)
        if col == "p_alive":
            bad |= values > 1
        if bad.any():
            allowed = "in [0, 1]" if col == "p_alive" else "finite and >= 0"
            raise ValueError(
                f"column {col!r} must be {allowed}; {int(bad.sum())} of {len(customers)} rows "
                f"are not, at {rows_of(bad.to_numpy())}: e.g. {customers.loc[bad, col].head(3).tolist()}"
            )


# --------------------------------------------------------------------------- #
# Economics
# --------------------------------------------------------------------------- #


def customer_economics(customers: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """Expected economics of contacting each customer under a scenario's costs.

    Parameters
    ----------
    customers : pandas.DataFrame
        Indexed by ``customer_id`` (strings) with columns ``p_alive``,
        ``expected_purchases`` (BG/NBD conditional expectation over
        ``horizon_months``, i.e. already weighted by ``p_alive``) and
        ``expected_avg_value``.
    scenario : Scenario
        Supplies ``uplift``, ``cost_per_contact``, ``incentive_cost`` and
        ``gross_margin``; its ``target`` is ignored here.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id``, same order as ``customers``, with columns

        - ``p_lost`` = 1 - p_alive
        - ``value_if_retained`` = expected_purchases / max(p_alive, P_ALIVE_FLOOR)
          * expected_avg_value * gross_margin
        - ``expected_retained`` = uplift * p_lost
        - ``incremental_margin`` = expected_retained * value_if_retained
        - ``expected_cost`` = cost_per_contact + expected_retained * incentive_cost
        - ``expected_incremental_profit`` = incremental_margin - expected_cost
        - ``ranking_score`` = p_lost * (value_if_retained - incentive_cost), the
          profit per unit of uplift before the contact cost; it orders customers
          the same way as the profit for any uplift > 0 and any contact cost.

    Notes
    -----
    ``E[purchases | history] = P(alive | history) * E[purchases | alive, history]``
    for the BG/NBD model (Fader, Hardie & Lee 2005, eq. 10), hence the division
    by ``p_alive``.  The incentive is paid only to customers the campaign keeps.
    Margins are not discounted.
    """
    _validate_customers(customers)
    return _economics(customers, scenario)


def _economics(customers: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """:func:`customer_economics` of customers validated already."""
    p_alive = customers["p_alive"].astype(float)
    p_lost = 1.0 - p_alive
    value = (
        customers["expected_purchases"].astype(float)
        / p_alive.clip(lower=P_ALIVE_FLOOR)
        * customers["expected_avg_value"].astype(float)
        * scenario.gross_margin
    )
    retained = scenario.uplift * p_lost
    margin = retained * value
    cost = scenario.cost_per_contact + retained * scenario.incentive_cost
    out = pd.DataFrame(
        {
            "p_lost": p_lost,
            "value_if_retained": value,
            "expected_retained": retained,
            "incremental_margin": margin,
            "expected_cost": cost,
            "expected_incremental_profit": margin - cost,
            "ranking_score": p_lost * (value - scenario.incentive_cost),
        },
        index=customers.index,
    )
    return out


def _ranked_positions(economics: pd.DataFrame, among: np.ndarray | None = None,
                      first: int | None = None) -> np.ndarray:
    """The positions of the rows in contact order: by expected incremental profit (desc), ties by score (desc) then
    id (asc); of the rows ``among`` (positions, ascending; default all), only the ``first`` ones if given.

    The order of a subset is the whole order restricted to it, so only the rows asked for are sorted: the
    ``first`` n are among the rows whose profit is at least the n-th largest (ties included), and every other row
    comes after them. At a million customers a whole sort per scenario took a quarter of a second."""
    profit = economics["expected_incremental_profit"].to_numpy()
    score = economics["ranking_score"].to_numpy()
    rows = np.arange(len(profit)) if among is None else among
    if first is not None and first < len(rows):
        if first <= 0:
            return rows[:0]
        nth = np.partition(profit[rows], len(rows) - first)[len(rows) - first]  # the first-th largest
        rows = rows[profit[rows] >= nth]
    order = rows[order_desc_then_id(economics.index[rows], profit[rows], score[rows])]
    return order if first is None else order[:first]


def select_targets(customers: pd.DataFrame, scenario: Scenario) -> pd.Index:
    """Customer ids a scenario contacts, best expected incremental profit first.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer scores indexed by ``customer_id`` (see :func:`customer_economics`).
    scenario : Scenario
        ``target.best_n``: the ``best_n`` customers with the highest expected
        incremental profit (all customers if fewer; negative-profit customers are
        included if ``best_n`` reaches them).  ``target.segments``: every customer
        whose ``target.segmentation`` column is one of the labels.

    Returns
    -------
    pandas.Index
        ``customer_id`` values, ranked.

    Raises
    ------
    ValueError
        If the segmentation column is missing from ``customers``.
    ConfigError
        (a ``ValueError``) if a listed label never occurs (most often a typo in
        the configuration).
    """
    target = scenario.target
    extra = (target.segmentation,) if isinstance(target, SegmentTarget) else ()
    _validate_customers(customers, extra)
    economics = _economics(customers, scenario)
    if isinstance(target, BestNTarget):
        return customers.index[_ranked_positions(economics, first=target.best_n)]
    labels = customers[target.segmentation]
    possible = _possible_labels(labels)
    unknown = [s for s in target.segments if s not in possible]
    if unknown:
        raise ConfigError(
            f"scenario {scenario.name!r}: segment(s) {unknown} are not labels of column "
            f"{target.segmentation!r}; its labels: {sorted(possible)}"
        )
    chosen = labels.astype("string").isin(target.segments).fillna(False).astype(bool)
    return customers.index[_ranked_positions(economics, among=np.flatnonzero(chosen.to_numpy()))]


def _possible_labels(labels: pd.Series) -> set[str]:
    """The labels a segment column can take: its categories (so an empty segment is no typo), else
    the labels present."""
    if isinstance(labels.dtype, pd.CategoricalDtype):
        return {str(c) for c in labels.cat.categories}
    return set(labels.dropna().astype(str))


def scenario_warnings(customers: pd.DataFrame, params: RoiParams) -> list[str]:
    """Plain-language warnings for scenarios that do not fit this period's customers.

    A ``best_n`` larger than the number of customers contacts everybody; a segment target whose
    segments are empty this period contacts nobody (an answer, not an error).
    """
    out = []
    for scenario in params.scenarios:
        target = scenario.target
        if isinstance(target, BestNTarget) and target.best_n > len(customers):
            out.append(say("Scenario {name} is set to contact the best {n} customers, but there are only {have}: all"
                           " of them are contacted. Set target.best_n to fit your customer base.", name=scenario.title,
                           n=fmt.current().integer(target.best_n), have=fmt.current().integer(len(customers))))
        elif isinstance(target, SegmentTarget) and target.segmentation in customers:
            labels = customers[target.segmentation].astype("string")
            if not labels.isin(target.segments).fillna(False).any():
                out.append(say("Scenario {name} contacts nobody this period: no customer is in {segments}.",
                               name=scenario.title,
                               segments=", ".join(translate(x, fmt.current().language) for x in target.segments)))
    return out


def cost_per_retained_customer(total_cost: float, customers_retained: float) -> float:
    """Total cost divided by customers retained; NaN when none are retained.

    Parameters
    ----------
    total_cost : float
        Money spent (contacts plus incentives).
    customers_retained : float
        Customers retained thanks to that spend.

    Returns
    -------
    float
        E.g. 100,000 spent and 1,000 retained gives 100.
    """
    if customers_retained <= 0:
        return float("nan")
    return float(total_cost) / float(customers_retained)


def historical_cost_per_retained(params: RoiParams) -> float | None:
    """Cost per retained customer of the past period in ``params.historical``.

    Returns
    -------
    float or None
        ``retention_spend / customers_retained``, or ``None`` if no historical
        block is configured.
    """
    if params.historical is None:
        return None
    h = params.historical
    return cost_per_retained_customer(h.retention_spend, h.customers_retained)


def breakeven_uplift(
    n_contacted: int,
    cost_per_contact: float,
    p_lost: pd.Series,
    value_if_retained: pd.Series,
    incentive_cost: float,
) -> float:
    """Uplift at which a fixed set of contacted customers has zero net gain.

    Net gain is linear in the uplift ``u``::

        net_gain(u) = u * K - n * c,   K = sum(p_lost * (value_if_retained - incentive))

    so ``u* = n * c / K``.

    Parameters
    ----------
    n_contacted : int
        Customers contacted, ``n``.
    cost_per_contact : float
        ``c``.
    p_lost, value_if_retained : pandas.Series
        Per contacted customer (aligned by ``customer_id``).
    incentive_cost : float
        Paid per retained customer.

    Returns
    -------
    float
        ``u*`` (may exceed 1, meaning the campaign cannot break even); 0 when
        contacts are free; NaN when nobody is contacted or when ``K <= 0`` and
        contacts cost money (no uplift breaks even).
    """
    if n_contacted == 0:
        return float("nan")
    fixed = n_contacted * cost_per_contact
    k = float((p_lost * (value_if_retained - incentive_cost)).sum())
    if fixed == 0:
        return 0.0
    if k <= 0:
        return float("nan")
    return fixed / k


def _summarise(economics: pd.DataFrame, scenario: Scenario) -> dict[str, object]:
    n = len(economics)
    retained = float(economics["expected_retained"].sum())
    margin = float(economics["incremental_margin"].sum())
    contact_cost = n * scenario.cost_per_contact
    incentive_total = retained * scenario.incentive_cost
    total_cost = contact_cost + incentive_total
    net_gain = margin - total_cost
    return {
        "scenario": scenario.name,
        "label": scenario.title,
        "target": scenario.target.describe(),
        "customers_targeted": n,
        "uplift": scenario.uplift,
        "cost_per_contact": scenario.cost_per_contact,
        "incentive_cost": scenario.incentive_cost,
        "gross_margin": scenario.gross_margin,
        "horizon_months": scenario.horizon_months,
        "expected_customers_retained": retained,
        "incremental_margin": margin,
        "contact_cost": contact_cost,
        "incentive_cost_total": incentive_total,
        "total_cost": total_cost,
        "net_gain": net_gain,
        "roi": net_gain / total_cost if total_cost > 0 else float("nan"),
        "breakeven_uplift": breakeven_uplift(
            n,
            scenario.cost_per_contact,
            economics["p_lost"],
            economics["value_if_retained"],
            scenario.incentive_cost,
        ),
        "cost_per_retained_customer": cost_per_retained_customer(total_cost, retained),
    }


def evaluate_scenario(customers: pd.DataFrame, scenario: Scenario, ids: pd.Index | None = None) -> pd.Series:
    """Campaign figures for one scenario (one row of :func:`evaluate_scenarios`); ``ids``: its targets, when
    :func:`select_targets` already gave them."""
    ids = select_targets(customers, scenario) if ids is None else ids
    economics = customer_economics(customers.loc[ids], scenario)
    return pd.Series(_summarise(economics, scenario), name=scenario.name)


def evaluate_scenarios(customers: pd.DataFrame, params: RoiParams,
                       targets: dict[str, pd.Index] | None = None) -> pd.DataFrame:
    """Campaign figures for every scenario: the ``roi.csv`` table.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer scores indexed by ``customer_id`` (see :func:`customer_economics`).
    params : RoiParams
        Scenarios to evaluate.
    targets : dict, optional
        Each scenario's targets (scenario name -> :func:`select_targets`), when already selected: ranking every
        customer is the costly part.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``scenario`` (config order) with columns ``target``,
        ``customers_targeted``, the scenario inputs (``uplift``,
        ``cost_per_contact``, ``incentive_cost``, ``gross_margin``,
        ``horizon_months``), ``expected_customers_retained`` (sum of
        uplift * p_lost), ``incremental_margin``, ``contact_cost``
        (contacts * cost_per_contact), ``incentive_cost_total`` (expected
        retained * incentive_cost), ``total_cost``, ``net_gain``
        (incremental_margin - total_cost), ``roi`` (net_gain / total_cost, as a
        fraction), ``breakeven_uplift`` (see :func:`breakeven_uplift`; with the
        same customers contacted) and ``cost_per_retained_customer``
        (total_cost / expected_customers_retained).  See ``FORMULA_TEXT``.
    """
    rows = [evaluate_scenario(customers, s, (targets or {}).get(s.name)) for s in params.scenarios]
    table = pd.DataFrame(rows).set_index("scenario")
    return table.astype({"customers_targeted": int, "horizon_months": int})


def scenario_targets(customers: pd.DataFrame, scenario: Scenario, ids: pd.Index | None = None) -> pd.DataFrame:
    """Ranked contact list for a scenario (``artifacts/targets_<name>.csv``).

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer scores indexed by ``customer_id``; must include ``clv``.
    scenario : Scenario
        The campaign.
    ids : pandas.Index, optional
        Its targets, when :func:`select_targets` already gave them.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id``, best expected incremental profit first, with
        ``rank`` (1 = contact first), the segment columns present
        (``SEGMENT_COLUMNS``), ``p_alive``, ``clv``, ``value_if_retained``,
        ``expected_retained`` and ``expected_incremental_profit``.
    """
    _validate_customers(customers, ("clv",))
    ids = select_targets(customers, scenario) if ids is None else ids
    economics = customer_economics(customers.loc[ids], scenario)
    present = [c for c in contact_list_segments() if c in customers.columns]
    out = customers.loc[ids, [*present, "p_alive", "clv"]].join(
        economics[["value_if_retained", "expected_retained", "expected_incremental_profit"]]
    )
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


def reach_by_group(customers: pd.DataFrame, scenario: Scenario, groups: pd.Series) -> pd.DataFrame:
    """Whom a scenario contacts, by a customer characteristic (``groups``: each customer's group, e.g. from
    :func:`analysis.business.segments.characteristic_groups`; a categorical keeps its order).

    One row per group: ``group``, ``customers``, ``contacted`` (on the scenario's list), ``contacted_share``
    (of the group) and ``expected_net_gain``, the sum of the contacted customers' expected incremental profit
    (:func:`customer_economics`): the groups' gains add up to the scenario's net gain.
    """
    _validate_customers(customers, ("clv",))
    ids = select_targets(customers, scenario)
    profit = customer_economics(customers.loc[ids], scenario)["expected_incremental_profit"]
    group = groups.reindex(customers.index)
    frame = pd.DataFrame({"group": group, "contacted": customers.index.isin(ids),
                          "gain": profit.reindex(customers.index).fillna(0.0).to_numpy()}, index=customers.index)
    out = frame.groupby("group", observed=True, sort=True).agg(
        customers=("contacted", "size"), contacted=("contacted", "sum"), expected_net_gain=("gain", "sum"))
    out.insert(2, "contacted_share", out["contacted"] / out["customers"])
    out = out.reset_index()
    out["group"] = out["group"].astype(str)
    return out


# --------------------------------------------------------------------------- #
# Sensitivity and targeting curve
# --------------------------------------------------------------------------- #


def sensitivity_grid(
    customers: pd.DataFrame,
    scenario: Scenario,
    uplifts: Sequence[float],
    costs_per_contact: Sequence[float],
) -> pd.DataFrame:
    """Net gain of a scenario over a grid of uplift x cost per contact.

    The contacted customers are those the scenario selects with its own
    settings and are held fixed across the grid (for ``best_n`` the ranking does
    not depend on uplift > 0 or on the contact cost anyway).  Net gain is
    ``u * K - n * c`` with ``K = sum(p_lost * (value_if_retained - incentive))``.

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer scores indexed by ``customer_id``.
    scenario : Scenario
        Supplies the target, incentive and margin.
    uplifts, costs_per_contact : sequence of float
        Grid values.

    Returns
    -------
    pandas.DataFrame
        Net gain; index ``uplift``, columns ``cost_per_contact``.
    """
    ids = select_targets(customers, scenario)
    economics = customer_economics(customers.loc[ids], scenario)
    n = len(economics)
    margin_net_of_incentive = economics["value_if_retained"] - scenario.incentive_cost
    k = float((economics["p_lost"] * margin_net_of_incentive).sum())
    u = np.asarray(uplifts, dtype=float)[:, None]
    c = np.asarray(costs_per_contact, dtype=float)[None, :]
    grid = pd.DataFrame(
        u * k - n * c,
        index=pd.Index(np.asarray(uplifts, dtype=float), name="uplift"),
        columns=pd.Index(np.asarray(costs_per_contact, dtype=float), name="cost_per_contact"),
    )
    return grid


class TargetingCurve(NamedTuple):
    """Result of :func:`targeting_curve`."""

    curve: pd.DataFrame
    best_n: int
    max_net_gain: float


def targeting_curve(customers: pd.DataFrame, scenario: Scenario) -> TargetingCurve:
    """Cumulative net gain as more customers are contacted, best first.

    All customers are ranked by expected incremental profit under the
    scenario's costs and uplift (its ``target`` rule is ignored).

    Parameters
    ----------
    customers : pandas.DataFrame
        Customer scores indexed by ``customer_id``.
    scenario : Scenario
        Supplies uplift, costs and margin.

    Returns
    -------
    TargetingCurve
        ``curve``: indexed by ``customer_id`` in contact order, with
        ``n_targeted`` (1, 2, ...), ``expected_incremental_profit`` and
        ``cumulative_net_gain``; ``best_n``: the number contacted that maximises
        the cumulative net gain (the smallest such number; 0 if every customer
        loses money); ``max_net_gain``: that maximum (0 when ``best_n`` is 0).
    """
    economics = customer_economics(customers, scenario)
    order = _ranked_positions(economics)  # without copying every column of the economics
    profit = pd.Series(economics["expected_incremental_profit"].to_numpy()[order], index=economics.index[order])
    curve = pd.DataFrame(
        {
            "n_targeted": np.arange(1, len(order) + 1),
            "expected_incremental_profit": profit,
            "cumulative_net_gain": profit.cumsum(),
        },
        index=profit.index,
    )
    with_zero = np.concatenate([[0.0], curve["cumulative_net_gain"].to_numpy()])
    best = int(np.argmax(with_zero))  # first maximum = fewest contacts
    return TargetingCurve(curve=curve, best_n=best, max_net_gain=float(with_zero[best]))


# --------------------------------------------------------------------------- #
# Plots
# --------------------------------------------------------------------------- #


def _money(x: float, currency: str | None, decimals: int = 0) -> str:
    return fmt.current(currency).money(x, decimals)


def _money_formatter(currency: str | None) -> FuncFormatter:
    return fmt.current(currency).tick_money()


def _symbol(currency: str | None) -> str:
    return fmt.current(currency).symbol()


def _new_ax(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # lazily: importing this module stays side-effect free

    _fig, new = plt.subplots(figsize=(8, 5))
    return new


def plot_scenario_comparison(
    roi_table: pd.DataFrame, *, currency: str | None = None, ax: Axes | None = None
) -> Axes:
    """Bar chart of expected net gain per scenario, labelled with the ROI.

    Parameters
    ----------
    roi_table : pandas.DataFrame
        Output of :func:`evaluate_scenarios`.
    currency : str, optional
        A ``report.currency`` value (ISO code or symbol); default: the report's currency (:mod:`analysis.reporting.fmt`).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created if omitted.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import textwrap

    ax = _new_ax(ax)
    shown = roi_table["label"] if "label" in roi_table else pd.Series(roi_table.index, index=roi_table.index)
    # long names on two or three lines, never broken inside a word; names still too long are slanted
    names = [textwrap.fill(str(n), 16, break_long_words=False) for n in shown]
    slanted = any(len(line) > 16 for n in names for line in n.split("\n"))
    gains = roi_table["net_gain"].to_numpy(dtype=float)
    colours = ["#2a9d8f" if g >= 0 else "#e76f51" for g in gains]
    x = np.arange(len(names))  # positions, so two scenarios with one label keep two bars
    bars = ax.bar(x, gains, color=colours)
    ax.set_xticks(x, names, rotation=20 if slanted else 0, ha="right" if slanted else "center")
    for bar, gain, roi in zip(bars, gains, roi_table["roi"].to_numpy(dtype=float)):
        roi_text = "ROI n/a" if np.isnan(roi) else f"ROI {fmt.current().percent(roi, 0)}"
        ax.annotate(
            f"{_money(gain, currency)}\n{roi_text}",
            (bar.get_x() + bar.get_width() / 2, gain),
            xytext=(0, 4 if gain >= 0 else -4),
            textcoords="offset points",
            ha="center",
            va="bottom" if gain >= 0 else "top",
            fontsize=9,
        )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.margins(y=0.2)
    ax.yaxis.set_major_formatter(_money_formatter(currency))
    ax.set_xlabel("Scenario")
    ax.set_ylabel(f"Expected net gain ({_symbol(currency)})")
    ax.set_title("Retention scenarios: expected net gain and ROI")
    return ax


def plot_sensitivity(
    grid: pd.DataFrame,
    *,
    scenario_name: str | None = None,
    currency: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Heatmap of net gain over uplift x cost per contact, with the break-even line.

    The colour scale is symmetric around zero (red loses, green gains) and every cell is labelled with its
    amount. The axes are the grid's values as categories, so the break-even is drawn along the cell edges
    where a losing cell meets a gaining one.

    Parameters
    ----------
    grid : pandas.DataFrame
        Output of :func:`sensitivity_grid` (index ``uplift``, columns
        ``cost_per_contact``; at least 2 x 2).
    scenario_name : str, optional
        Shown in the title.
    currency : str, optional
        A ``report.currency`` value (ISO code or symbol); default: the report's currency (:mod:`analysis.reporting.fmt`).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created if omitted.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _new_ax(ax)
    uplifts = grid.index.to_numpy(dtype=float)
    costs = grid.columns.to_numpy(dtype=float)
    z = grid.to_numpy(dtype=float)
    lo, hi = float(np.nanmin(z)), float(np.nanmax(z))
    # One scale for gains and losses: as far above zero as below, so a colour means the same amount either way.
    reach = max(abs(lo), abs(hi)) or 1.0
    from matplotlib.colors import Normalize

    norm = Normalize(-reach, reach)
    # Equal-width cells regardless of spacing; ticks show the actual grid values.
    mesh = ax.pcolormesh(
        np.arange(len(costs) + 1) - 0.5,
        np.arange(len(uplifts) + 1) - 0.5,
        z,
        cmap="RdYlGn",
        norm=norm,
        shading="flat",
        edgecolors="white",
        linewidth=0.5,
    )
    ax.grid(False)  # no grid lines through the cells
    colourbar = ax.figure.colorbar(mesh, ax=ax, format=_money_formatter(currency))
    colourbar.set_label(say("Expected net gain ({symbol})\nred loses, green gains", symbol=_symbol(currency)))
    for i in range(z.shape[0]):  # each cell says its amount: the colours only group them
        for j in range(z.shape[1]):
            if np.isfinite(z[i, j]):
                ax.text(j, i, _money(z[i, j], currency), ha="center", va="center", fontsize=7,
                        color="white" if abs(z[i, j]) > 0.6 * reach else "#24292f")
    if lo < 0 < hi:
        # The axes are categories (the grid's values), so the break-even is drawn between cells, where a loss
        # meets a gain, not as a line interpolated across categories.
        loss = z < 0
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                if j + 1 < z.shape[1] and loss[i, j] != loss[i, j + 1]:
                    ax.plot([j + 0.5, j + 0.5], [i - 0.5, i + 0.5], color="black", linewidth=2.5)
                if i + 1 < z.shape[0] and loss[i, j] != loss[i + 1, j]:
                    ax.plot([j - 0.5, j + 0.5], [i + 0.5, i + 0.5], color="black", linewidth=2.5)
        ax.plot([], [], color="black", linewidth=2.5, label="Break-even: between losing and gaining cells")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=9, frameon=False)
    else:
        side = "profitable" if lo >= 0 else "loss-making"
        ax.text(0.02, 0.98, f"Break-even lies outside this grid (all {side})",
                transform=ax.transAxes, va="top", fontsize=9)
    ax.set_xticks(np.arange(len(costs)), [_money(c, currency, 2) for c in costs])
    ax.set_yticks(np.arange(len(uplifts)), [fmt.current().percent(u, 0 if u * 100 == round(u * 100) else 1)
                                             for u in uplifts])
    ax.set_xlabel(f"Cost per contact ({_symbol(currency)})")
    ax.set_ylabel("Uplift\n(% of would-be-lost customers kept)")
    ax.set_title(say("Net gain by uplift and cost per contact: {name}", name=scenario_name) if scenario_name else
                 "Net gain by uplift and cost per contact")
    return ax


#: Lines with more points than this are drawn through their envelope (:func:`line_envelope`); CDNOW's 23,570
#: customers are drawn point by point.
LINE_POINTS_MAX = 50_000


def line_envelope(x: np.ndarray, y: np.ndarray, buckets: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """The points of a line with more than :data:`LINE_POINTS_MAX` points that a chart can show: the line is cut
    into ``buckets`` runs of consecutive points, and of each run the first, the lowest, the highest and the last
    point are kept, in their order. At a 900-pixel-wide chart a run of a million customers' curve is a tenth of a
    pixel wide, so the drawn line is the same; matplotlib drew the million points in 2-3 s."""
    x, y = np.asarray(x), np.asarray(y, dtype=float)
    n = len(y)
    if n <= LINE_POINTS_MAX:
        return x, y
    size = -(-n // buckets)
    rows = -(-n // size)
    padded = np.full(rows * size, np.nan)
    padded[:n] = y
    table = padded.reshape(rows, size)
    base = np.arange(rows) * size
    keep = np.concatenate([base, base + np.nanargmin(table, axis=1), base + np.nanargmax(table, axis=1),
                           np.minimum(base + size, n) - 1])
    keep = np.unique(keep)
    return x[keep], y[keep]


def plot_targeting_curve(
    result: TargetingCurve, *, currency: str | None = None, ax: Axes | None = None
) -> Axes:
    """Cumulative net gain against number of customers contacted, best first.

    Parameters
    ----------
    result : TargetingCurve
        Output of :func:`targeting_curve`.
    currency : str, optional
        A ``report.currency`` value (ISO code or symbol); default: the report's currency (:mod:`analysis.reporting.fmt`).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created if omitted.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _new_ax(ax)
    curve = result.curve
    x = np.concatenate([[0], curve["n_targeted"].to_numpy()])
    y = np.concatenate([[0.0], curve["cumulative_net_gain"].to_numpy(dtype=float)])
    ax.plot(*line_envelope(x, y), color="#264653")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.axvline(result.best_n, color="#e76f51", linestyle="--",
               label=say("Best: contact {n} customers, net gain {gain}", n=fmt.current().integer(result.best_n),
                         gain=_money(result.max_net_gain, currency)))
    ax.legend(loc="best", fontsize=9)
    ax.xaxis.set_major_formatter(fmt.current().tick_integer())
    ax.yaxis.set_major_formatter(_money_formatter(currency))
    ax.set_xlabel("Customers contacted (best expected incremental profit first)")
    ax.set_ylabel(f"Cumulative expected net gain ({_symbol(currency)})")
    ax.set_title("How many customers to contact")
    return ax
