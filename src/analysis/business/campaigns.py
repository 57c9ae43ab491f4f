"""What a past retention campaign did, measured against its control group.

A campaign is a contact list (customer id, group ``treatment`` or ``control``, optionally the contact
date and whether the incentive was redeemed), a start date and a measurement window. The outcome of each
listed customer is read from the run's transaction log (``purchases.parquet``): did they buy in the window,
and for how much. The window is the campaign's, for every listed customer (intent to treat): contact dates,
when given, are checked (treated rows only, inside the window) and reported, not used to move the window.
Treated and control customers are compared:

- share who bought, and the uplift (treated - control) with a 95% interval (Newcomb's hybrid score
  interval, ``statsmodels.stats.proportion.confint_proportions_2indep``);
- revenue and margin per customer in the window, and their difference, with Welch's t interval
  (``statsmodels.stats.weightstats.CompareMeans``);
- incremental customers retained = uplift x treated customers; incremental margin = margin difference x
  treated customers; total cost = treated x cost per contact + redemptions x incentive cost (when the list
  says who redeemed; else every treated customer who bought counts as a redemption);
- measured ROI = (incremental margin - total cost) / total cost and the cost per incrementally retained
  customer, each with the interval that follows from the one of the margin (cost is known, not estimated);
- a verdict: *paid off* when the whole ROI interval is above zero, *did not pay off* when it is below zero,
  else *cannot tell yet*, with the control-group size that would tell;
- a balance check of the two groups before the start (recency, frequency and revenue before the start; CLV
  and P(alive) from the run's scores): a standardised mean difference above 0.1 (Austin 2009) flags the
  campaign as possibly not randomised.

The power calculation (:func:`control_group_size`) is statsmodels' two-sample test of proportions
(``samplesize_proportions_2indep_onetail``), the normal-approximation formula of Fleiss, Levin & Paik
(2003), eq. 4.14, without continuity correction.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from analysis.reporting import fmt
from analysis.errors import DataValidationError, format_examples, rows_of
from analysis.reporting.i18n import say, translate

LEVEL = 0.95
GROUPS = ("treatment", "control")
SMD_LIMIT = 0.1  # Austin (2009): a standardised difference above 0.1 is a meaningful imbalance
_SLUG = r"^[a-z0-9]+(?:[_-][a-z0-9]+)*$"


# --------------------------------------------------------------------------- configuration


class ContactColumns(BaseModel):
    """Column names in the contact-list file."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str = "customer_id"
    group: str = "group"
    contact_date: str | None = None
    redeemed: str | None = None


class Campaign(BaseModel):
    """One past campaign with a control group (an entry of the ``campaigns:`` section)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=_SLUG, max_length=64)]
    label: str | None = Field(default=None, description="Name shown in the report; default: the name.")
    path: str = Field(min_length=1, description="Contact list, CSV or Parquet: customer id and group.")
    columns: ContactColumns = ContactColumns()
    start: dt.date
    window_days: int = Field(default=90, gt=0, le=3660)
    cost_per_contact: Annotated[float, Field(ge=0)]
    incentive_cost: Annotated[float, Field(ge=0)] = 0.0
    gross_margin: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=None, description="Margin as a share of revenue; null: clv.gross_margin.")
    simulated: bool = Field(default=False, description="true: the list was simulated; the report says so.")

    @field_validator("start", mode="before")
    @classmethod
    def _iso(cls, value):
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"start must be a date written YYYY-MM-DD, got {value!r}") from None
        return value

    @property
    def title(self) -> str:
        return self.label or self.name

    @property
    def end(self) -> dt.date:
        """The last day of the measurement window."""
        return self.start + dt.timedelta(days=self.window_days - 1)


# --------------------------------------------------------------------------- the contact list


def read_contacts(campaign: Campaign, known_ids: pd.Index | None = None) -> pd.DataFrame:
    """The contact list as a frame indexed by ``customer_id`` (string) with columns ``group`` and
    ``redeemed`` (bool, or missing), checked. Raises DataValidationError naming the file, the column, how
    many rows and a few distinct example values (never customer ids)."""
    path = Path(campaign.path)
    where = f"Contact list of campaign {campaign.name!r} ({path})"
    if not path.is_file():
        raise DataValidationError(f"{where} not found: check campaigns[].path (relative to the project folder).")
    cols = campaign.columns
    wanted = [c for c in (cols.customer_id, cols.group, cols.contact_date, cols.redeemed) if c]
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            raw = pd.read_parquet(path)
            raw = raw.astype({c: str for c in (cols.customer_id, cols.group) if c in raw.columns})
        else:
            with path.open(encoding="utf-8-sig", errors="replace") as f:
                header = f.readline()
            from analysis.data.ingest import _guess_delimiter

            raw = pd.read_csv(path, dtype=str, keep_default_na=False, sep=_guess_delimiter(header) or ",",
                              encoding="utf-8-sig")
    except Exception as exc:  # noqa: BLE001 - any reader failure is a file the user must fix
        raise DataValidationError(f"{where} cannot be read as CSV or Parquet: {exc}") from None
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise DataValidationError(f"{where}: column(s) {missing} not found; the file has {list(raw.columns)}."
                                  " Set campaigns[].columns to the names in the file.")
    n = len(raw)
    if n == 0:
        raise DataValidationError(f"{where} has no rows.")
    ids = raw[cols.customer_id].astype(str).str.strip()
    blank = ids.eq("") | ids.str.lower().isin(["nan", "none", "null"])
    if blank.any():
        raise DataValidationError(f"{where}: column {cols.customer_id!r} is empty in {int(blank.sum()):,} of {n:,}"
                                  f" rows ({rows_of(blank)}).")
    dup = ids.duplicated(keep=False)
    if dup.any():
        raise DataValidationError(f"{where}: column {cols.customer_id!r} repeats {int(ids[dup].nunique()):,} customer"
                                  f" id(s) in {int(dup.sum()):,} of {n:,} rows ({rows_of(dup)}). Each customer"
                                  " belongs to one group once.")
    group = raw[cols.group].astype(str).str.strip().str.lower()
    bad = ~group.isin(GROUPS)
    if bad.any():
        raise DataValidationError(f"{where}: column {cols.group!r} must be 'treatment' or 'control'; {int(bad.sum()):,}"
                                  f" of {n:,} rows are not ({rows_of(bad)}), e.g."
                                  f" {format_examples(raw.loc[bad, cols.group])}.")
    for g in GROUPS:
        if not group.eq(g).any():
            raise DataValidationError(f"{where}: the {g} group is empty (column {cols.group!r} has only"
                                      f" {format_examples(group.unique())}). A campaign is measured against a"
                                      " control group: list both groups.")
    if known_ids is not None:
        problem = unknown_ids(campaign, pd.DataFrame({"group": group.to_numpy()}, index=pd.Index(ids.to_numpy())),
                              known_ids)
        if problem:
            raise DataValidationError(f"{where}: {problem}")
    out = pd.DataFrame({"group": group.to_numpy()}, index=pd.Index(ids.to_numpy(), name="customer_id"))
    if cols.redeemed:
        text = raw[cols.redeemed].astype(str).str.strip().str.lower()
        truth = {"1": True, "true": True, "yes": True, "y": True, "ja": True,
                 "0": False, "false": False, "no": False, "n": False, "nee": False, "": False}
        bad = ~text.isin(truth)
        if bad.any():
            raise DataValidationError(f"{where}: column {cols.redeemed!r} must be yes/no (1/0, true/false);"
                                      f" {int(bad.sum()):,} of {n:,} rows are not ({rows_of(bad)}), e.g."
                                      f" {format_examples(raw.loc[bad, cols.redeemed])}.")
        out["redeemed"] = text.map(truth).to_numpy(dtype=bool)
    if cols.contact_date:
        out["contact_date"] = _contact_dates(campaign, raw[cols.contact_date], group, where).to_numpy()
    return out


def _contact_dates(campaign: Campaign, column: pd.Series, group: pd.Series, where: str) -> pd.Series:
    """The contact date of each row (NaT where empty), checked: readable (YYYY-MM-DD, a time of day is
    allowed), only on treated rows (a control customer is not contacted), and within the measurement window
    (a contact before the start means the configured start is wrong; one after the window cannot change its
    outcome). An empty date on a treated row is allowed: that customer stays treated (intent to treat)."""
    name, n = campaign.columns.contact_date, len(column)
    if pd.api.types.is_datetime64_any_dtype(column):
        dates = column.dt.tz_localize(None) if getattr(column.dt, "tz", None) else column
        dates = pd.Series(dates.dt.normalize().to_numpy(), index=group.index)
    else:
        text = column.astype(str).str.strip()
        empty = text.eq("") | text.str.lower().isin(["nan", "nat", "none", "null"])
        try:  # with or without a time zone (2024-03-02T10:00:00Z, +01:00): the day as written in UTC
            parsed = pd.to_datetime(text.where(~empty), format="ISO8601", errors="coerce", utc=True)
        except (ValueError, TypeError):
            parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
        dates = pd.Series(parsed.dt.tz_convert(None).to_numpy(), index=group.index).dt.normalize()
        bad = ~empty & dates.isna()
        if bad.any():
            raise DataValidationError(f"{where}: column {name!r} must hold dates written YYYY-MM-DD; {int(bad.sum()):,}"
                                      f" of {n:,} rows are not ({rows_of(bad)}), e.g. {format_examples(column[bad])}.")
    control = group.eq("control") & dates.notna()
    if control.any():
        raise DataValidationError(f"{where}: column {name!r} gives a contact date for {int(control.sum()):,} control"
                                  f" customer(s) ({rows_of(control)}). The control group is the one that was not"
                                  " contacted: leave their contact date empty, or put those customers in the"
                                  " treatment group.")
    start, end = pd.Timestamp(campaign.start), pd.Timestamp(campaign.end)
    early = dates < start
    if early.any():
        raise DataValidationError(f"{where}: column {name!r} has {int(early.sum()):,} contact(s) before the campaign"
                                  f" start {campaign.start.isoformat()} ({rows_of(early)}), the first on"
                                  f" {dates[early].min().date().isoformat()}. Set campaigns[].start to the first"
                                  " contact day: purchases between the contact and the start would be missed.")
    late = dates > end
    if late.any():
        raise DataValidationError(f"{where}: column {name!r} has {int(late.sum()):,} contact(s) after the last day of"
                                  f" the measurement window {campaign.end.isoformat()} ({rows_of(late)}), the last on"
                                  f" {dates[late].max().date().isoformat()}. A contact after the window cannot change"
                                  " its outcome: set campaigns[].window_days to cover every contact.")
    return dates


#: A listed customer without any purchase in the transaction log (every purchase returned under ``returns: net``,
#: zero amounts dropped) is measured as a customer who did not buy. That is sound only when such customers are few
#: and about as common in both groups: more than this share of the list, or a difference between the groups that
#: chance almost never gives (Fisher's exact test, p below :data:`UNKNOWN_P_VALUE`), means the list's ids do not
#: match the log's (a prefix, lost leading zeros in one group's export), which would bias the uplift. The test is
#: strict so that a fair split is refused about once in a thousand campaigns, not once in twenty; the page shows
#: the counts per group either way.
MAX_UNKNOWN_SHARE = 0.05
UNKNOWN_P_VALUE = 0.001


def unknown_ids(campaign: Campaign, contacts: pd.DataFrame, known_ids: pd.Index) -> str | None:
    """Why the list's ids do not fit the transaction log, or None. ``contacts``: :func:`read_contacts`' frame.
    Ids are counted and located by row, never shown (they are customer ids)."""
    unknown = ~contacts.index.isin(known_ids)
    if not unknown.any():
        return None
    from scipy.stats import fisher_exact  # here: a run whose listed ids are all known does without SciPy's statistics

    f = fmt.current()
    found = dict(n=f.integer(unknown.sum()), listed=f.integer(len(unknown)), column=repr(campaign.columns.customer_id),
                 rows=rows_of(unknown, on_page=True))
    if unknown.mean() > MAX_UNKNOWN_SHARE:
        return say("{n} of {listed} customer ids in column {column} are not in the transaction log ({rows}). Check"
                   " that the list and the transaction file use the same ids (leading zeros, prefixes); a campaign"
                   " from another data set (such as the simulated one of the bundled sample in params/default.yaml)"
                   " does not belong in this configuration's campaigns:", **found)
    treated = (contacts["group"] == "treatment").to_numpy()
    a, b = int(unknown[treated].sum()), int(unknown[~treated].sum())
    p_value = fisher_exact([[a, int(treated.sum()) - a], [b, int((~treated).sum()) - b]]).pvalue
    if p_value < UNKNOWN_P_VALUE:
        return say("{n} of {listed} customer ids in column {column} are not in the transaction log ({rows}):"
                   " {treated} of the treated and {control} of the control customers, a difference chance alone almost"
                   " never gives (Fisher's exact test, p = {p}). Listed customers without a purchase count as not"
                   " buying, so this would bias the uplift: check that the ids of both groups are written as in the"
                   " transaction file", treated=f.integer(a), control=f.integer(b), p=f.number(p_value, 5), **found)
    return None


def missing_ids(listed: pd.Index, known_ids: pd.Index) -> int:
    """How many listed customers have no purchase in the transaction log (measured as not buying)."""
    return int((~listed.isin(known_ids)).sum())


def check_dates(campaign: Campaign, observation_end: dt.date) -> str | None:
    """Why the campaign cannot be measured (yet) at ``observation_end``, or None. A window that is not
    over yet is measured on the days so far (see :func:`measure`)."""
    if campaign.start > observation_end:
        return say("it starts on {start}, after the last day of these data ({end}): there is nothing to measure yet",
                   start=fmt.current().date(campaign.start), end=fmt.current().date(observation_end))
    return None


# --------------------------------------------------------------------------- outcomes and statistics


def outcomes(contacts: pd.DataFrame, purchases: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per listed customer: ``bought`` (any purchase from ``start`` to ``end``, both included) and
    ``revenue`` in that window, plus ``recency_days``, ``frequency`` and ``revenue_before`` before the start.
    ``purchases`` has columns customer_id (str), date (date) and amount."""
    p = purchases[purchases["customer_id"].isin(contacts.index)]
    dates = pd.to_datetime(p["date"])
    s, e = pd.Timestamp(start), pd.Timestamp(end)
    inside = p[(dates >= s) & (dates <= e)]
    before = p[dates < s]
    revenue = inside.groupby("customer_id")["amount"].sum()
    frame = contacts.copy()
    frame["revenue"] = revenue.reindex(frame.index).fillna(0.0).astype(float)
    frame["bought"] = frame.index.isin(inside["customer_id"])
    frame["in_log"] = frame.index.isin(p["customer_id"])  # False: no purchase at all in the data
    b = before.assign(date=pd.to_datetime(before["date"])).groupby("customer_id")
    frame["frequency"] = b.size().reindex(frame.index).fillna(0).astype(float)
    last = b["date"].max().reindex(frame.index)
    frame["recency_days"] = (s - last).dt.days.astype(float)  # NaN: no purchase before the start
    frame["revenue_before"] = b["amount"].sum().reindex(frame.index).fillna(0.0).astype(float)
    return frame


def _diff_of_means(treated: np.ndarray, control: np.ndarray, level: float) -> tuple[float, float, float]:
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    diff = float(treated.mean() - control.mean())
    if len(treated) < 2 or len(control) < 2 or (treated.var() == 0 and control.var() == 0):
        return diff, diff, diff
    low, high = CompareMeans(DescrStatsW(treated), DescrStatsW(control)).tconfint_diff(
        alpha=1 - level, usevar="unequal")
    return diff, float(low), float(high)


def _mean_interval(values: np.ndarray, level: float) -> tuple[float, float, float]:
    from statsmodels.stats.weightstats import DescrStatsW

    mean = float(values.mean())
    if len(values) < 2 or values.var() == 0:
        return mean, mean, mean
    low, high = DescrStatsW(values).tconfint_mean(alpha=1 - level)
    return mean, float(low), float(high)


def _share_interval(k: int, n: int, level: float) -> tuple[float, float]:
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(k, n, alpha=1 - level, method="wilson")
    return float(low), float(high)


def uplift_interval(k_t: int, n_t: int, k_c: int, n_c: int, level: float = LEVEL) -> tuple[float, float, float]:
    """Difference of the shares who bought, treated - control, with Newcomb's interval."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    low, high = confint_proportions_2indep(k_t, n_t, k_c, n_c, method="newcomb", compare="diff",
                                           alpha=1 - level)
    return k_t / n_t - k_c / n_c, float(low), float(high)


def control_group_size(base_share: float, difference: float, power: float = 0.80, alpha: float = 0.05) -> int | None:
    """Customers needed in each group (equal groups) to detect ``difference`` in the share who buy, from a
    base share ``base_share``, with a two-sided test at ``alpha``. None when the difference is zero or the
    shares leave [0, 1]."""
    from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

    treated = base_share + difference
    if difference <= 0 or not (0 < base_share < 1) or not (0 < treated < 1):
        return None
    n = samplesize_proportions_2indep_onetail(difference, base_share, power, ratio=1, alpha=alpha,
                                              alternative="two-sided")
    return int(math.ceil(float(n)))


def verdict(roi_low: float, roi_high: float) -> str:
    """``paid off`` / ``did not pay off`` / ``cannot tell yet`` from the ROI interval."""
    if roi_low > 0:
        return "paid off"
    if roi_high < 0:
        return "did not pay off"
    return "cannot tell yet"


def measure(campaign: Campaign, frame: pd.DataFrame, gross_margin: float, observation_end: dt.date,
            level: float = LEVEL) -> dict:
    """Every figure of one campaign, from :func:`outcomes`' frame. Returns a flat dict (a row of
    ``campaigns.csv``)."""
    margin = campaign.gross_margin or gross_margin
    t, c = frame[frame["group"] == "treatment"], frame[frame["group"] == "control"]
    n_t, n_c = len(t), len(c)
    k_t, k_c = int(t["bought"].sum()), int(c["bought"].sum())
    up, up_low, up_high = uplift_interval(k_t, n_t, k_c, n_c, level)
    rev_t, rev_c = t["revenue"].to_numpy(float), c["revenue"].to_numpy(float)
    d_rev, d_low, d_high = _diff_of_means(rev_t, rev_c, level)
    if "redeemed" in t.columns:
        redemptions = int(t["redeemed"].sum())
    else:
        redemptions = k_t
    cost = n_t * campaign.cost_per_contact + redemptions * campaign.incentive_cost
    inc_margin = (d_rev * margin * n_t, d_low * margin * n_t, d_high * margin * n_t)
    inc_retained = (up * n_t, up_low * n_t, up_high * n_t)
    if cost > 0:
        roi = tuple((m - cost) / cost for m in inc_margin)
    else:
        roi = (math.nan, math.nan, math.nan)
    per_retained = (cost / inc_retained[0] if inc_retained[0] > 0 else math.nan,
                    cost / inc_retained[2] if inc_retained[2] > 0 else math.nan,
                    cost / inc_retained[1] if inc_retained[1] > 0 else math.inf)
    end = min(campaign.end, observation_end)
    share_t, share_c = k_t / n_t, k_c / n_c
    needed = control_group_size(share_c, abs(up)) if up != 0 else None
    if cost == 0:
        said = "cannot tell yet"
        why = say("the campaign cost nothing in the configuration, so there is no return on it to measure")
    else:
        said = verdict(roi[1], roi[2])
        if said == "paid off":
            why = say("even the low end of the interval of the measured return is above zero")
        elif said == "did not pay off":
            why = say("even the high end of the interval of the measured return is below zero")
        elif up_low > 0 or up_high < 0:
            why = say("{more_or_fewer} treated customers bought than control customers (the interval of the uplift in"
                      " buyers is clear of zero), but the interval of the measured return runs from a loss to a gain:"
                      " what customers spend varies too much from one to the next to tell whether the campaign's"
                      " effect on the margin covered its cost",
                      more_or_fewer=translate("more" if up_low > 0 else "fewer", fmt.current().language))
        else:
            why = say("the interval of the measured return runs from a loss to a gain: the difference between the"
                      " groups is within what chance alone gives")
            if needed is not None and needed > min(n_t, n_c):
                why += say("; to tell a difference of this size, each group needs about {needed} customers (it has"
                           " {has})", needed=fmt.current().integer(needed), has=fmt.current().integer(min(n_t, n_c)))
    row = {
        "campaign": campaign.name, "label": campaign.title, "simulated": campaign.simulated,
        "start": campaign.start.isoformat(), "end": end.isoformat(),
        "window_days": (end - campaign.start).days + 1, "window_complete": campaign.end <= observation_end,
        "treated": n_t, "control": n_c,
        "bought_share_treated": share_t, "bought_share_treated_low": _share_interval(k_t, n_t, level)[0],
        "bought_share_treated_high": _share_interval(k_t, n_t, level)[1],
        "bought_share_control": share_c, "bought_share_control_low": _share_interval(k_c, n_c, level)[0],
        "bought_share_control_high": _share_interval(k_c, n_c, level)[1],
        "uplift": up, "uplift_low": up_low, "uplift_high": up_high,
    }
    for name, values in (("revenue_per_customer_treated", rev_t), ("revenue_per_customer_control", rev_c)):
        m, lo, hi = _mean_interval(values, level)
        row.update({name: m, f"{name}_low": lo, f"{name}_high": hi})
    for name, values in (("margin_per_customer_treated", rev_t * margin), ("margin_per_customer_control", rev_c * margin)):
        m, lo, hi = _mean_interval(values, level)
        row.update({name: m, f"{name}_low": lo, f"{name}_high": hi})
    row.update({
        "revenue_difference_per_customer": d_rev, "revenue_difference_per_customer_low": d_low,
        "revenue_difference_per_customer_high": d_high,
        "incremental_customers_retained": inc_retained[0], "incremental_customers_retained_low": inc_retained[1],
        "incremental_customers_retained_high": inc_retained[2],
        "incremental_margin": inc_margin[0], "incremental_margin_low": inc_margin[1],
        "incremental_margin_high": inc_margin[2],
        "redemptions": redemptions, "total_cost": cost, "gross_margin": margin,
        "roi": roi[0], "roi_low": roi[1], "roi_high": roi[2],
        "cost_per_incremental_customer": per_retained[0], "cost_per_incremental_customer_low": per_retained[1],
        "cost_per_incremental_customer_high": per_retained[2],
        "control_group_needed": needed, "verdict": said, "why": why, "interval_level": level,
    })
    row["listed_without_purchases"] = int((~frame["in_log"]).sum()) if "in_log" in frame else 0
    row["listed_without_purchases_treated"] = int((~t["in_log"]).sum()) if "in_log" in frame else 0
    row["listed_without_purchases_control"] = int((~c["in_log"]).sum()) if "in_log" in frame else 0
    if "contact_date" in t.columns:
        contacted = pd.to_datetime(t["contact_date"]).dropna()
        row.update({"first_contact": contacted.min().date().isoformat() if len(contacted) else None,
                    "last_contact": contacted.max().date().isoformat() if len(contacted) else None,
                    "treated_without_contact_date": int(n_t - len(contacted))})
    return row


def balance(frame: pd.DataFrame, scores: pd.DataFrame | None = None, scored: str = "before the start") -> pd.DataFrame:
    """Standardised mean differences of the groups before the campaign: one row per characteristic with
    the treated and control means, the difference in pooled standard deviations and ``flag``. ``scores``
    (CLV, P(alive)) should be :func:`pre_campaign_scores` of the start; ``scored`` says when they were made."""
    data = frame[["group", "recency_days", "frequency", "revenue_before"]].copy()
    # a customer without a purchase before the start has no recency; compare the ones who have one
    lang = fmt.current().language
    columns = {"recency_days": translate("Days since last purchase", lang),
               "frequency": translate("Purchases before the start", lang),
               "revenue_before": translate("Revenue before the start", lang)}
    if scores is not None:
        when = translate(scored, lang)
        for col, label in (("clv", say("CLV (scored {when})", when=when)),
                           ("p_alive", say("P(alive) (scored {when})", when=when))):
            if col in scores.columns:
                data[col] = scores[col].reindex(data.index).astype(float)
                columns[col] = label
    rows = []
    for col, label in columns.items():
        t = data.loc[data["group"] == "treatment", col].dropna().to_numpy(float)
        c = data.loc[data["group"] == "control", col].dropna().to_numpy(float)
        if len(t) == 0 or len(c) == 0:
            continue
        pooled = math.sqrt((t.var(ddof=1 if len(t) > 1 else 0) + c.var(ddof=1 if len(c) > 1 else 0)) / 2)
        gap = t.mean() - c.mean()
        smd = gap / pooled if pooled > 0 else (0.0 if gap == 0 else math.copysign(math.inf, gap))
        rows.append({"characteristic": label, "column": col, "treated_mean": float(t.mean()),
                     "control_mean": float(c.mean()), "standardised_difference": float(smd),
                     "flag": bool(abs(smd) > SMD_LIMIT)})
    return pd.DataFrame(rows)


def measure_all(campaigns: list[Campaign], purchases: pd.DataFrame, observation_end: dt.date, gross_margin: float,
                scores=None, level: float = LEVEL) -> tuple[pd.DataFrame, dict, dict]:
    """Measure every campaign. Returns ``(table, balances, not_measured)``: the rows of ``campaigns.csv``,
    the balance table of each measured campaign, and why each other campaign was not measured.
    ``scores``: a function ``start -> scores before the start`` (:func:`scorer`), or None."""
    known = pd.Index(purchases["customer_id"].unique())
    rows, balances, skipped = [], {}, {}
    for campaign in campaigns:
        contacts = read_contacts(campaign)
        why = unknown_ids(campaign, contacts, known) or check_dates(campaign, observation_end)
        if why:
            skipped[campaign.name] = why
            continue
        frame = outcomes(contacts, purchases, campaign.start, min(campaign.end, observation_end))
        row = measure(campaign, frame, gross_margin, observation_end, level)
        table = balance(frame, scores(campaign.start) if scores is not None else None)
        row["balance_flagged"] = ", ".join(table.loc[table["flag"], "characteristic"]) if len(table) else ""
        if row["balance_flagged"]:
            row["verdict"] = "cannot tell"
            row["why"] = say("the two groups differed before the campaign ({flagged}), so the difference after it"
                             " need not be the campaign's doing; check how the groups were drawn",
                             flagged=row["balance_flagged"])
        rows.append(row)
        balances[campaign.name] = table
    return pd.DataFrame(rows), balances, skipped


# --------------------------------------------------------------------------- scores before the start


def pre_campaign_scores(purchases, start: dt.date, model: dict, horizon_months: int, annual_discount_rate: float,
                        gross_margin: float, segment_params=None) -> pd.DataFrame | None:
    """Each customer's scores on the day before ``start``, from their purchases before it: P(alive), expected
    purchases over ``horizon_months``, expected order value, CLV and the value x risk segment.

    The run's fitted parameters (``model.json``'s ``final`` model and Gamma-Gamma) are applied to each
    customer's history up to the day before the start, so nothing a customer did during the campaign enters
    their score. (The parameters describe the whole customer base; they were estimated on the run's full
    period.) ``purchases``: a Parquet path or a frame with customer_id, date, amount. Returns None when the
    run has no fitted model; customers whose first purchase is on or after the start have no row."""
    from analysis.scoring.clv import customer_lifetime_value
    from analysis.scoring.saved import estimates
    from analysis.business.segments import value_risk_segments
    from analysis.data.summary import rfm_summary

    final = (model or {}).get("final")
    if not final or not final.get("params") or not final.get("gamma_gamma"):
        return None
    summary = rfm_summary(purchases, start - dt.timedelta(days=1), model["time_unit"])
    if summary.empty:
        return pd.DataFrame(columns=["p_alive", "expected_purchases", "expected_avg_value", "clv",
                                     "value_risk_segment"])
    fitted, spend = estimates(final, model["time_unit"])
    scores = customer_lifetime_value(summary[["frequency", "recency", "T", "monetary_value"]], fitted, spend,
                                     horizon_months=horizon_months, annual_discount_rate=annual_discount_rate,
                                     gross_margin=gross_margin, n_draws=0).customers
    scores = scores[["p_alive", "expected_purchases", "expected_avg_value", "clv"]].copy()
    scores["value_risk_segment"] = value_risk_segments(scores, segment_params)["value_risk_segment"]
    return scores


def scorer(params, purchases, model: dict | None):
    """``start -> pre_campaign_scores(...)`` for a run (its ``clv:`` and ``segments:`` settings), computed once
    per start date; returns None for every date when the run has no fitted model."""
    cache: dict[dt.date, pd.DataFrame | None] = {}

    def at(start: dt.date) -> pd.DataFrame | None:
        if start not in cache:
            cache[start] = pre_campaign_scores(purchases, start, model, params.clv.horizon_months,
                                               params.clv.annual_discount_rate, params.clv.gross_margin,
                                               params.segments)
        return cache[start]
    return at


# --------------------------------------------------------------------------- did targeting work


def targeting_deciles(frame: pd.DataFrame, scores: pd.DataFrame, incentive_cost: float, gross_margin: float,
                      level: float = LEVEL, groups: int = 10) -> pd.DataFrame:
    """Uplift by decile of the kit's predicted gain from keeping each listed customer, with a Qini curve.

    The predicted gain is :func:`analysis.business.roi.customer_economics`' ``ranking_score`` from the scores before
    the start: chance of being lost x (margin if kept - incentive), the quantity the campaign page ranks
    customers by (for any uplift it orders them as the expected incremental profit does). Customers with no
    score (no purchase before the start) are left out. Decile 1 holds the highest predicted gain; ties are
    broken by customer id, so the deciles do not depend on the order of the list.

    Columns: ``decile``, ``treated``, ``control``, the shares who bought and the ``uplift`` with its
    interval (Newcomb), and the Qini curve at the decile's lower edge: ``share_targeted`` (share of the scored
    customers in deciles 1..d), ``qini`` = treated buyers - control buyers x treated/control, both counted
    in deciles 1..d (incremental buyers had the campaign reached only those), and ``qini_random``, the same
    for a random choice of that share (Radcliffe 2007)."""
    columns = ["decile", "treated", "control", "bought_share_treated", "bought_share_control", "uplift",
               "uplift_low", "uplift_high", "share_targeted", "qini", "qini_random"]
    order = _by_predicted_gain(frame, scores, incentive_cost, gross_margin)
    if order.empty:
        return pd.DataFrame(columns=columns)
    groups = min(groups, len(order))
    order["decile"] = np.arange(len(order)) * groups // len(order) + 1
    treated = (order["group"] == "treatment").to_numpy()
    bought = order["bought"].to_numpy(bool)
    total_qini = _qini(treated, bought)
    rows = []
    for d, part in order.groupby("decile", sort=True):
        t, c = part[part["group"] == "treatment"], part[part["group"] == "control"]
        row = {"decile": int(d), "treated": len(t), "control": len(c),
               "bought_share_treated": t["bought"].mean() if len(t) else math.nan,
               "bought_share_control": c["bought"].mean() if len(c) else math.nan}
        if len(t) >= 2 and len(c) >= 2:
            row["uplift"], row["uplift_low"], row["uplift_high"] = uplift_interval(
                int(t["bought"].sum()), len(t), int(c["bought"].sum()), len(c), level)
        else:
            row["uplift"] = row["uplift_low"] = row["uplift_high"] = math.nan
        upto = (order["decile"] <= d).to_numpy()
        row["share_targeted"] = float(upto.mean())
        row["qini"] = _qini(treated[upto], bought[upto])
        row["qini_random"] = row["share_targeted"] * total_qini
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def _by_predicted_gain(frame: pd.DataFrame, scores: pd.DataFrame, incentive_cost: float,
                       gross_margin: float) -> pd.DataFrame:
    """The scored customers of ``frame``, highest predicted gain first (ties by customer id)."""
    from analysis.business.roi import BestNTarget, Scenario, customer_economics

    scored = (frame.join(scores[["p_alive", "expected_purchases", "expected_avg_value"]], how="inner")
              .rename_axis("customer_id"))
    if scored.empty:
        return scored
    economics = customer_economics(scored, Scenario(
        name="measured", target=BestNTarget(best_n=1), cost_per_contact=0.0, incentive_cost=incentive_cost,
        uplift=1.0, gross_margin=gross_margin))
    return (scored.assign(_score=economics["ranking_score"], _id=scored.index)
            .sort_values(["_score", "_id"], ascending=[False, True], kind="mergesort"))


def targeting_check(frame: pd.DataFrame, scores: pd.DataFrame, incentive_cost: float, gross_margin: float,
                    level: float = LEVEL) -> dict:
    """Did the customers with the higher predicted gain respond more? The uplift among the upper half of the
    scored listed customers (ranked as in :func:`targeting_deciles`) minus the uplift among the lower half,
    with its interval: the interaction coefficient of the linear probability model ``bought ~ treated *
    upper``, fitted by statsmodels' OLS with heteroscedasticity-robust (HC1) standard errors; the coefficient
    is exactly that difference of the two uplifts. ``verdict``: ``"works"`` when the whole interval is above
    zero, ``"works the wrong way"`` when below, else ``"cannot tell"``."""
    import statsmodels.api as sm

    order = _by_predicted_gain(frame, scores, incentive_cost, gross_margin)
    out = {"scored": len(order), "upper_uplift": math.nan, "lower_uplift": math.nan, "difference": math.nan,
           "difference_low": math.nan, "difference_high": math.nan, "verdict": "cannot tell"}
    upper = np.arange(len(order)) < len(order) // 2
    treated = (order["group"] == "treatment").to_numpy()
    bought = order["bought"].to_numpy(float)
    cells = [(treated & upper), (~treated & upper), (treated & ~upper), (~treated & ~upper)]
    if min(int(c.sum()) for c in cells) < 2:
        return out
    out["upper_uplift"] = float(bought[cells[0]].mean() - bought[cells[1]].mean())
    out["lower_uplift"] = float(bought[cells[2]].mean() - bought[cells[3]].mean())
    design = np.column_stack([np.ones(len(order)), treated, upper, treated & upper]).astype(float)
    fit = sm.OLS(bought, design).fit(cov_type="HC1")
    low, high = fit.conf_int(alpha=1 - level)[3]
    out.update(difference=float(fit.params[3]), difference_low=float(low), difference_high=float(high))
    if out["difference_low"] > 0:
        out["verdict"] = "works"
    elif out["difference_high"] < 0:
        out["verdict"] = "works the wrong way"
    return out


def _qini(treated: np.ndarray, bought: np.ndarray) -> float:
    """Treated buyers - control buyers x (treated / control): the incremental buyers among the treated."""
    n_t, n_c = int(treated.sum()), int((~treated).sum())
    k_t, k_c = int((bought & treated).sum()), int((bought & ~treated).sum())
    if n_c == 0:
        return math.nan
    return k_t - k_c * n_t / n_c


def plot_qini(deciles: pd.DataFrame, ax=None):
    """Incremental buyers had the campaign reached only the customers with the highest predicted gain,
    against a random choice of as many customers."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.6))
    x = np.concatenate([[0.0], deciles["share_targeted"].to_numpy(float)])
    ax.plot(x, np.concatenate([[0.0], deciles["qini"].to_numpy(float)]), marker="o", color="#0173b2",
            label="Highest predicted gain first")
    ax.plot(x, np.concatenate([[0.0], deciles["qini_random"].to_numpy(float)]), linestyle="--", color="#949494",
            label="Random choice")
    ax.axhline(0, color="#333333", linewidth=0.8)
    ax.xaxis.set_major_formatter(fmt.current().tick_percent(decimals=0))
    ax.set_xlabel("Share of the listed customers reached, highest predicted gain first")
    ax.set_ylabel("Incremental buyers")
    ax.legend(frameon=False, loc="best")
    return ax


# --------------------------------------------------------------------------- a simulated campaign


def simulate_contact_list(customer_ids: np.ndarray, n_per_group: int, seed: int) -> pd.DataFrame:
    """A randomised campaign drawn from ``customer_ids``: ``n_per_group`` customers in each group, drawn
    without replacement, the groups assigned at random. Nobody is contacted, so on a real transaction log
    the true uplift is zero (an A/A test: what the kit says when a campaign did nothing)."""
    rng = np.random.default_rng(seed)
    ids = np.asarray(sorted(map(str, customer_ids)))
    if 2 * n_per_group > len(ids):
        raise ValueError(f"asked for {2 * n_per_group} customers, have {len(ids)}")
    chosen = rng.choice(ids, size=2 * n_per_group, replace=False)
    group = np.array(["treatment"] * n_per_group + ["control"] * n_per_group)
    rng.shuffle(group)
    return pd.DataFrame({"customer_id": chosen, "group": group})


def by_segment(frame: pd.DataFrame, segments: pd.Series, level: float = LEVEL) -> pd.DataFrame:
    """Uplift in the share who bought within each segment (e.g. value x risk), with Newcomb's interval.
    Segments with fewer than 2 customers in a group get no interval. Small segments are noise: read
    the interval, not the point."""
    seg = segments.reindex(frame.index).astype(object).fillna("(not scored)")
    rows = []
    for label, part in frame.groupby(seg.to_numpy(), sort=True):
        t, c = part[part["group"] == "treatment"], part[part["group"] == "control"]
        row = {"segment": label, "treated": len(t), "control": len(c)}
        if len(t) >= 2 and len(c) >= 2:
            up, low, high = uplift_interval(int(t["bought"].sum()), len(t), int(c["bought"].sum()), len(c), level)
            row.update({"bought_share_treated": t["bought"].mean(), "bought_share_control": c["bought"].mean(),
                        "uplift": up, "uplift_low": low, "uplift_high": high})
        rows.append(row)
    return pd.DataFrame(rows)


def plot_shares(row: dict, ax=None):
    """Share who bought in the window, treated vs control, with the 95% intervals."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    names = ["Treated (contacted)", "Control (not contacted)"]
    shares = [row["bought_share_treated"], row["bought_share_control"]]
    lows = [row["bought_share_treated_low"], row["bought_share_control_low"]]
    highs = [row["bought_share_treated_high"], row["bought_share_control_high"]]
    err = np.array([[s - lo for s, lo in zip(shares, lows)], [hi - s for s, hi in zip(shares, highs)]])
    ax.barh(names, shares, xerr=err, color=["#0173b2", "#949494"], capsize=6)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(fmt.current().tick_percent(decimals=None))  # decimals as the spacing needs
    ax.set_xlabel(f"Share who bought between {fmt.current().date(row['start'])} and {fmt.current().date(row['end'])}")
    ax.grid(axis="y", visible=False)
    return ax


# --------------------------------------------------------------------------- feedback into planning


def scenario_uplift(row: dict) -> tuple[float, float, float]:
    """A measured campaign's effect as the ROI scenarios' uplift (the share of would-be-lost customers the
    campaign keeps): the difference in the share who bought divided by the share of control customers who did
    not buy, with the interval divided the same way (the control share taken as known), clipped to [0, 1]."""
    lost = 1 - row["bought_share_control"]
    if lost <= 0:
        return 0.0, 0.0, 0.0
    clip = lambda v: float(min(max(v / lost, 0.0), 1.0))  # noqa: E731
    return clip(row["uplift"]), clip(row["uplift_low"]), clip(row["uplift_high"])


def resolve_uplifts(params, purchases: pd.DataFrame, observation_end: dt.date, scores=None, measured=None):
    """The ``roi:`` section with every ``uplift: {measured: <campaign>}`` replaced by the measured uplift.

    ``measured``: :func:`measure_all`'s ``(table, balances, not_measured)`` of the configured campaigns, if already
    computed. Returns ``(roi_params, sources, ranges)``: ``sources`` says, per scenario, where its uplift came from
    (plain words), ``ranges`` holds ``(low, point, high)`` for the measured ones. A campaign that cannot be
    measured yet gives uplift 0 and says why."""
    wanted = {getattr(s.uplift, "measured", None) for s in params.roi.scenarios} - {None}
    chosen = [c for c in params.campaigns if c.name in wanted]
    if measured is not None:  # measure_all's result for every campaign, when the caller has it already
        table, _, skipped = measured
    else:
        table, _, skipped = measure_all(chosen, purchases, observation_end, params.clv.gross_margin, scores) \
            if chosen else (pd.DataFrame(), {}, {})
    rows = {r["campaign"]: r for r in table.to_dict("records")}
    scenarios, sources, ranges = [], {}, {}
    for s in params.roi.scenarios:
        name = getattr(s.uplift, "measured", None)
        if name is None:
            scenarios.append(s)
            sources[s.name] = say("a guess in the run configuration")
            continue
        if name in rows and rows[name].get("balance_flagged"):
            point = 0.0  # a difference the groups had before the start is no effect to plan with
            sources[s.name] = say("campaign {name} was not used: its groups were not alike before the campaign"
                                  " ({flagged}), so its difference is not its effect; so 0", name=rows[name]["label"],
                                  flagged=rows[name]["balance_flagged"])
        elif name in rows:
            point, low, high = scenario_uplift(rows[name])
            ranges[s.name] = (low, point, high)
            sources[s.name] = say("measured by campaign {name} against its control group (95% interval {low} to"
                                  " {high})", name=rows[name]["label"], low=fmt.current().percent(low),
                                  high=fmt.current().percent(high))
        else:
            point = 0.0
            sources[s.name] = say("campaign {name} could not be measured ({why}), so 0", name=name,
                                  why=skipped.get(name, say("no result")))
        scenarios.append(s.model_copy(update={"uplift": point}))
    sens = params.roi.sensitivity
    target = sens.scenario or params.roi.scenarios[0].name
    if target in ranges and ranges[target][2] > ranges[target][0]:
        low, _, high = ranges[target]
        sens = sens.model_copy(update={"uplifts": [float(v) for v in np.linspace(low, high, 6)]})
    return params.roi.model_copy(update={"scenarios": scenarios, "sensitivity": sens}), sources, ranges
