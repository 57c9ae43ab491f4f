"""Charts for the data, KPI and model reports.

Every function takes ``ax=None``, draws on it (or on a new figure), sets a
title and axis labels with units, and returns the Axes. Nothing is saved or
shown here: the notebooks decide that.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.reporting import fmt


def __getattr__(name: str):
    """``MODEL_LABELS`` (the notebooks import it from here), taken from the models when asked for: the pipeline's
    own process draws the summary's charts with this module and needs neither the models nor SciPy."""
    if name == "MODEL_LABELS":
        from analysis.models import MODEL_LABELS

        return MODEL_LABELS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _ax(ax, figsize=(9, 4.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def thousands(ax, axis: str = "y", currency: str | None = None, money: bool = False) -> None:
    """Format an axis as counts in the report's notation, or as amounts (``money``) in the report's currency
    (or ``currency``, a ``report.currency`` value)."""
    f = fmt.current(currency)
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(f.tick_money() if money else f.tick_integer())


def percent(ax, axis: str = "y") -> None:
    """Format an axis of shares (0.25) as percentages in the report's notation."""
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(fmt.current().tick_percent(decimals=0))


def _period_labels(series: pd.DataFrame, period: str) -> list[str]:
    starts = pd.to_datetime(series["period_start"])
    f = fmt.current()
    return [f.quarter(s) if period == "Q" else f.month(s) for s in starts]


#: Up to this many periods every period is labelled on the time axis; beyond it, every ``step``-th period, with
#: ``step`` the first of :data:`PERIOD_STEPS` that leaves at most :data:`THINNED_LABELS` labels. Six years of months
#: (72 labels) ran into one black band.
ALL_PERIOD_LABELS = 24
THINNED_LABELS = 12
PERIOD_STEPS = {"M": (2, 3, 6, 12, 24, 60, 120), "Q": (2, 4, 8, 20, 40)}


def _period_axis(ax, series: pd.DataFrame, period: str) -> None:
    """The period labels on the x axis (positions 0, 1, ...): all of them, or on long series every ``step``-th
    period at whole steps of the calendar (January, April, July, October for 3 months; each January for 12), with
    a small tick for every period."""
    labels = _period_labels(series, period)
    x = np.arange(len(labels))
    if len(labels) <= ALL_PERIOD_LABELS:
        ax.set_xticks(x, labels, rotation=45, ha="right")
        return
    starts = pd.to_datetime(series["period_start"])
    per_year = 4 if period == "Q" else 12
    index = (starts.dt.year * per_year + (starts.dt.month - 1) * per_year // 12).to_numpy()
    step = next((s for s in PERIOD_STEPS[period] if len(labels) / s <= THINNED_LABELS), PERIOD_STEPS[period][-1])
    shown = np.flatnonzero(index % step == 0)
    ax.set_xticks(x[shown], [labels[i] for i in shown], rotation=45, ha="right")
    ax.set_xticks(x, minor=True)


def plot_active_customers(series: pd.DataFrame, period: str = "M", ax=None):
    """Bars of active customers per period, split into new and returning customers."""
    ax = _ax(ax)
    x = np.arange(len(series))
    returning = series["active_customers"] - series["new_customers"]
    ax.bar(x, series["new_customers"], label="new customers", color="#88CCEE")
    ax.bar(x, returning, bottom=series["new_customers"], label="returning customers", color="#0b3d91")
    _period_axis(ax, series, period)
    ax.set_title("Customers who bought, per " + ("month" if period == "M" else "quarter"))
    ax.set_xlabel("period")
    ax.set_ylabel("customers (count)")
    thousands(ax)
    ax.legend(frameon=False)
    return ax


def plot_retention(series: pd.DataFrame, period: str = "M", ax=None):
    """Retention and churn rate per period (lines, in percent)."""
    ax = _ax(ax)
    rated = series[series["retention_rate"].notna()]
    x = np.arange(len(rated))
    ax.plot(x, rated["retention_rate"], marker="o", label="retention rate", color="#117733")
    ax.plot(x, rated["churn_rate"], marker="o", label="churn rate", color="#CC6677")
    _period_axis(ax, rated, period)
    ax.set_ylim(0, 1)
    percent(ax)
    ax.set_title("Retention and churn per " + ("month" if period == "M" else "quarter"))
    ax.set_xlabel("period")
    ax.set_ylabel("share of last period's buyers (%)")
    ax.legend(frameon=False)
    return ax


def plot_revenue(series: pd.DataFrame, period: str = "M", currency: str | None = None, ax=None):
    """Revenue per period (bars)."""
    ax = _ax(ax)
    x = np.arange(len(series))
    ax.bar(x, series["revenue"], color="#44AA99")
    _period_axis(ax, series, period)
    ax.set_title("Revenue per " + ("month" if period == "M" else "quarter"))
    ax.set_xlabel("period")
    ax.set_ylabel(f"revenue ({fmt.current(currency).symbol()})")
    thousands(ax, currency=currency, money=True)
    return ax


def plot_cohort_heatmap(table: pd.DataFrame, max_months: int = 18, ax=None):
    """Heatmap of cohort retention: acquisition month x months since first purchase."""
    import seaborn as sns  # here, not at the top: the pipeline's own process draws the summary's charts without it

    shown = table.loc[:, [c for c in table.columns if c <= max_months]]
    ax = _ax(ax, figsize=(min(2 + 0.6 * shown.shape[1], 14), max(2.5, 0.45 * len(shown) + 1.5)))
    sns.heatmap(shown * 100, annot=shown.shape[1] <= 24, fmt=".0f", cmap="Blues", vmin=0,
                vmax=max(5.0, float(np.nanmax(shown.loc[:, [c for c in shown.columns if c > 0]].to_numpy()) * 100)
                         if shown.shape[1] > 1 else 100.0),
                cbar_kws={"label": "customers of the cohort who bought (%)"}, ax=ax)
    ax.set_title("Cohort retention: share of each month's new customers buying again")
    ax.set_xlabel("months since first purchase")
    ax.set_ylabel("month of first purchase (cohort)")
    return ax


_BAR_COLORS = ("#0b3d91", "#88CCEE", "#CC6677", "#DDCC77", "#117733", "#AA4499")  # Tol muted, colour-blind safe


def _grouped_bars(ax, groups, series: dict, title: str, xlabel: str, ylabel: str):
    """Side-by-side bars: one group per entry of ``groups`` (tick labels), one bar per ``series`` (label -> values)
    in the order given, in the kit's colours, with a legend."""
    x = np.arange(len(groups))
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series.items()):
        ax.bar(x - 0.4 + width * (i + 0.5), values, width=width, label=label, color=_BAR_COLORS[i % len(_BAR_COLORS)])
    ax.set_xticks(x, [str(g) for g in groups])
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    thousands(ax)
    ax.legend(frameon=False)
    return ax


def plot_holdout_by_frequency(table: pd.DataFrame, ax=None):
    """Actual vs expected holdout repeat purchases by number of repeat purchases in calibration."""
    return _grouped_bars(_ax(ax), table["bin"], {"actual": table["actual"], "expected": table["expected"]},
                         "Holdout check: repeat purchases by past buying", "repeat purchases in the calibration period",
                         "repeat purchases in the holdout (count)")


def plot_bgbb_holdout(table: pd.DataFrame, ax=None):
    """BG/BB's holdout check (:meth:`analysis.scoring.discrete.DiscreteStage.holdout_table`): actual and expected
    periods with a purchase in the holdout, by periods with a repeat purchase in the calibration."""
    return _grouped_bars(_ax(ax), table["bin"], {"actual": table["actual"], "expected": table["expected"]},
                         "BG/BB holdout check: periods with a purchase, by past buying",
                         "periods with a repeat purchase in the calibration", "periods with a purchase in the holdout"
                         " (count)")


def plot_repeat_counts(table: pd.DataFrame, ax=None):
    """Customers by number of repeat purchases in the calibration period: actual, and expected by each model
    (columns named by model label; FHL 2005a, Figure 3)."""
    series = {"actual": table["actual"],
              **{name: table[name] for name in table.columns if name not in ("repeat_purchases", "actual")}}
    return _grouped_bars(_ax(ax), table["repeat_purchases"], series, "Customers by number of repeat purchases",
                         "repeat purchases in the calibration period", "customers (count)")


def plot_p_alive_path(path: pd.DataFrame, ax=None):
    """One customer's P(alive) over time (:func:`analysis.models.p_alive_path`), purchases as dotted lines."""
    ax = _ax(ax)
    ax.plot(path["date"], path["p_alive"], color="#0b3d91", linewidth=2, label="chance still a customer")
    for day in path.loc[path["purchase"], "date"]:
        ax.axvline(day, color="#CC6677", linestyle=":", linewidth=1.2)
    ax.plot([], [], color="#CC6677", linestyle=":", label="purchase")
    ax.set_ylim(0, 1.05)
    percent(ax)
    ax.set_title("Chance that this customer is still a customer")
    ax.legend(frameon=False, loc="best")
    return ax


def plot_tracking(tracking: pd.DataFrame, time_unit: str = "W", calibration_end_t: float | None = None,
                  cumulative: bool = True, ax=None):
    """Actual vs expected repeat purchases over calibration and holdout (cumulative, or per week / per day).

    Per period, a bin shorter than a whole period (split at the calibration end, or the last one) is drawn as a
    rate per whole period and marked with an open circle, so it does not show as a dip."""
    ax = _ax(ax)
    unit = "weeks" if time_unit == "W" else "days"
    x = tracking["period_end"]
    actual = tracking["cumulative_actual"] if cumulative else tracking["actual"]
    expected = tracking["cumulative_expected"] if cumulative else tracking["expected"]
    partial = None
    if not cumulative:
        width = (tracking["period_end"] - tracking["period_start"]).astype(float)
        actual, expected = actual / width, expected / width  # per whole period
        partial = (width < 1 - 1e-9).to_numpy()
    ax.plot(x, actual, label="actual", color="#0b3d91", linewidth=2)
    ax.plot(x, expected, label="expected", color="#CC6677", linestyle="--", linewidth=2)
    if partial is not None and partial.any():
        ax.scatter(x[partial], actual[partial], s=40, facecolors="white", edgecolors="#0b3d91", linewidths=1.5,
                   zorder=3, label=f"part of a {unit[:-1]}, scaled to a whole {unit[:-1]}")
    if calibration_end_t is not None:
        ax.axvline(calibration_end_t, color="#555555", linestyle=":", linewidth=1.2)
        ax.annotate("calibration end", (calibration_end_t, ax.get_ylim()[1]), xytext=(4, -14),
                    textcoords="offset points", fontsize=9, color="#555555")
    ax.set_title("Cumulative repeat purchases" if cumulative else f"Repeat purchases per {unit[:-1]}")
    ax.set_xlabel(f"time since the start ({unit})")
    ax.set_ylabel("repeat purchases (count)")
    thousands(ax)
    ax.legend(frameon=False, loc="upper left")
    return ax


def plot_frequency_recency(grid: pd.DataFrame, title: str, colorbar_label: str, time_unit: str = "W", ax=None):
    """Heatmap of a model quantity over frequency (rows) and recency (columns)."""
    import seaborn as sns  # see plot_cohort_heatmap

    ax = _ax(ax, figsize=(9, 5.5))
    f = fmt.current()
    grid = grid.set_axis([f.number(c, 1) for c in grid.columns], axis=1)  # recency ticks in the report's notation
    sns.heatmap(grid.iloc[::-1], cmap="viridis", ax=ax, cbar_kws={"label": colorbar_label},
                xticklabels=max(1, grid.shape[1] // 8), yticklabels=max(1, grid.shape[0] // 10))
    ax.set_title(title)
    ax.set_xlabel(f"recency: time from first to last purchase ({'weeks' if time_unit == 'W' else 'days'})")
    ax.set_ylabel("frequency: repeat purchases")
    return ax


def plot_clv_deciles(clv: pd.Series, currency: str | None = None, ax=None):
    """Share of total expected value held by each decile of customers (best first)."""
    ax = _ax(ax)
    ranked = clv.sort_values(ascending=False).to_numpy()
    deciles = np.array_split(ranked, 10)
    total = ranked.sum()
    shares = [d.sum() / total if total > 0 else 0 for d in deciles]
    labels = [f"{10 * i + 1}-{10 * (i + 1)}%" for i in range(10)]
    bars = ax.bar(labels, shares, color="#0b3d91")
    for bar, share in zip(bars, shares):
        ax.annotate(fmt.current().percent(share, 0), (bar.get_x() + bar.get_width() / 2, share), xytext=(0, 3),
                    textcoords="offset points", ha="center", fontsize=9)
    percent(ax)
    ax.set_title("Where the expected value is: customers ranked by CLV")
    ax.set_xlabel("customers ranked by CLV, best first (decile)")
    ax.set_ylabel(f"share of total expected value ({fmt.current(currency).symbol()}, %)")
    return ax
