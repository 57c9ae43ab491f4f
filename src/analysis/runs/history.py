"""Periodic reporting: what changed since the previous run, and the KPI trend across runs.

A run folder ``reports/<observation end>/`` holds the run's artifacts. When the kit is
run every month, :func:`compare_runs` puts the current run next to the previous complete
one and writes the comparison into the current run's ``artifacts/``:

* ``since_last.json``: everything below, as one JSON object (keys sorted);
* ``migration.csv``: value x risk segment then -> now, with the customers and the CLV that
  moved (``from_segment, to_segment, customers, value_previous, value_current``);
* ``newly_at_risk.csv``: high-value customers whose P(alive) fell below the at-risk
  threshold since the previous run. It has the **real** customer ids (like
  ``customers.parquet``): it stays with the run, the HTML shows pseudonyms only;
* ``forecast_vs_actual.csv``: the previous run's forecast of repeat purchases for the
  period just ended against what happened, by the previous value x risk segment.

:func:`kpi_trend` and :func:`plot_kpi_trend` follow the headline KPIs over all runs of a
series, and :func:`section_html` renders a self-contained "Since the last report" HTML
section for the executive summary and for each stage report.

The forecast uses the conditional expectation of the previous run's final model
(:func:`analysis.models.conditional_expected_purchases`: FHL 2005a eq. (10) for BG/NBD,
Batislam et al. 2007 for MBG/NBD, Fader & Hardie note 009 eq. (41) for Pareto/NBD). It
covers repeat purchases of the customers the previous run knew; customers who bought for
the first time since then are not part of it.

Nothing is ever written into the previous run's folder.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import io
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.reporting import fmt

from analysis.runs import runfolder
from analysis.config import RunParams
from analysis.errors import RunArtifactError, format_examples  # noqa: F401 (re-exported)
from analysis.reporting.i18n import model_error, say, translate, translate_figure
from analysis.reporting.nb import Run, fmt_int, fmt_kpi, fmt_money, fmt_pct
from analysis.business.kpis import CATALOGUE, Kpi, kpi_values
from analysis.reporting.pages import PAGES
from analysis.business.segments import P_ALIVE_BANDS, VALUE_LEVELS, VALUE_RISK_SEGMENTS

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "KPI_SPECS",
    "STAGES",
    "RunArtifactError",
    "compare_runs",
    "kpi_trend",
    "plot_kpi_trend",
    "section_html",
    "TREND_COLUMNS",
]

#: Stages :func:`section_html` knows: the executive summary and the pages with a since-last section.
STAGES: tuple[str, ...] = ("summary", *(page.stem for page in PAGES if page.since_last))

#: Artifacts of the previous run whose SHA-256 is recorded, so the comparison names exactly what it compared with.
HASHED_ARTIFACTS: tuple[str, ...] = ("kpis.json", "model.json", "customers.parquet")

#: Number of newly-at-risk customers listed (by CLV) in ``since_last.json`` and the segments report.
TOP_AT_RISK = 20

_HIGH_VALUE = VALUE_LEVELS[0]
_ACTIVE, _AT_RISK = P_ALIVE_BANDS


#: One KPI of the comparison: an entry of the KPI catalogue (:class:`analysis.business.kpis.Kpi`).
KpiSpec = Kpi

#: The KPIs compared between runs, in display order: those of the catalogue marked ``compared``.
KPI_SPECS: tuple[Kpi, ...] = tuple(kpi for kpi in CATALOGUE if kpi.compared)

_CUSTOMER_COLUMNS = ("customer_id", "frequency", "recency", "T", "p_alive", "clv", "value_risk_segment")
_PURCHASE_COLUMNS = ("customer_id", "date")
_ROI_COLUMNS = ("scenario", "customers_targeted", "net_gain", "roi")


# --------------------------------------------------------------------------
# Reading a run folder
# --------------------------------------------------------------------------


def _artifact(run_dir: Path, name: str) -> Path:
    path = Path(run_dir) / "artifacts" / name
    if not path.is_file():
        raise RunArtifactError(
            f"{path} is missing: {Path(run_dir)} is not a complete run folder. Compare only runs whose pipeline finished."
        )
    return path


def _read_json(run_dir: Path, name: str) -> dict:
    return runfolder.read_json(run_dir, name)


def _require(df: pd.DataFrame, columns: Sequence[str], path: Path) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise RunArtifactError(
            f"{path}: required column(s) {missing} missing ({len(df):,} rows; columns present:"
            f" {format_examples(df.columns, 12)}). Re-run the pipeline for that run with this version of the kit."
        )


def _read_customers(run_dir: Path) -> pd.DataFrame:
    """``customers.parquet`` indexed by ``customer_id`` (text), segment as plain text."""
    import pyarrow.parquet as pq

    path = _artifact(run_dir, "customers.parquet")
    if any(c not in pq.read_schema(path).names for c in _CUSTOMER_COLUMNS):
        _require(pd.read_parquet(path), _CUSTOMER_COLUMNS, path)
    df = Run(Path(run_dir)).read_customers(path.name, columns=_CUSTOMER_COLUMNS)  # only what the comparison uses
    df["value_risk_segment"] = df["value_risk_segment"].astype(object)
    unknown = ~df["value_risk_segment"].isin(VALUE_RISK_SEGMENTS)
    if unknown.any():
        raise RunArtifactError(
            f"{path}, column 'value_risk_segment': {int(unknown.sum()):,} rows have a segment outside"
            f" {list(VALUE_RISK_SEGMENTS)}. Examples: {format_examples(df.loc[unknown, 'value_risk_segment'].unique())}"
        )
    return df


def _observation_end(run_dir: Path) -> dt.date:
    return dt.date.fromisoformat(str(_read_json(run_dir, "run.json")["observation_end"]))


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _kpi_values(run_dir: Path) -> dict[str, float | None]:
    return kpi_values(_read_json(run_dir, "kpis.json"), _read_json(run_dir, "model.json"), KPI_SPECS)


# --------------------------------------------------------------------------
# Wording: the English templates, keyed (their Dutch is in analysis.reporting.lang_nl)
# --------------------------------------------------------------------------

TEXT: dict[str, str] = {
    'title': 'Since the last report ({date})',
    'title_first': 'Since the last report',
    'first': 'This is the first report in the series: there is no earlier report to compare with.',
    'intro': 'Compared with the report with data up to {previous} ({days} days earlier).',
    'up': '{label} rose by {change} to {current} (was {previous}).',
    'down': '{label} fell by {change} to {current} (was {previous}).',
    'same': '{label} stayed at {current}.',
    'missing': '{label}: not available in both reports.',
    'points': '{value} points',
    'h_kpis': 'Key figures: what changed',
    'h_trend': 'Key figures across reports',
    'trend_later': 'The key figures across reports are charted from the second report of the series on.',
    'trend_alt': 'Retention rate, churn rate, active customers and total expected customer value in each report.',
    'h_migration': 'How customers moved between segments',
    'migration_text': ('Of the {both} customers in both reports, {stayed} ({stayed_share}) are in the '
                       'same value and risk segment as last time; {to_risk} moved from likely to stay '
                       'to at risk and {recovered} from at risk back to likely to stay. Each cell: '
                       'customers, and their expected value then and now.'),
    'new_customers': '{n} customers bought for the first time since the last report (expected value {value}).',
    'no_new_customers': 'No customers bought for the first time since the last report.',
    'missing_customers': '{n} customers of the last report are no longer in the data.',
    'then_now': 'last time ↓ / now →',
    'total': 'Total',
    'h_at_risk': 'Newly at risk',
    'at_risk_text': ('{n} high-value customers have become at risk since the last report (chance of '
                     'still being a customer fell below {threshold}); together they are worth {value}.'),
    'at_risk_none': 'No high-value customer has become at risk since the last report.',
    'at_risk_list': 'The {n} most valuable of them:',
    'col_customer': 'Customer',
    'col_p_before': 'Chance still a customer, last time',
    'col_p_now': 'Chance still a customer, now',
    'col_clv': 'Expected value',
    'h_forecast': 'Last forecast against what happened',
    'forecast_text': ('At the last report the model expected {forecast} repeat purchases from its '
                      '{customers} customers in the {days} days since; {actual} happened, so the '
                      'forecast was {error}.'),
    'forecast_new': 'Purchases by customers who were new since then are not part of this check ({n} purchase days).',
    'col_segment': 'Segment at the last report',
    'col_customers': 'Customers',
    'col_forecast': 'Expected purchases',
    'col_actual': 'Actual purchases',
    'col_error': 'Forecast error',
    'h_roi': 'Campaign scenarios then and now',
    'col_scenario': 'Scenario',
    'col_targeted_prev': 'Customers contacted, last time',
    'col_targeted_now': 'Customers contacted, now',
    'col_gain_prev': 'Net gain, last time',
    'col_gain_now': 'Net gain, now',
    'roi_none': 'No campaign scenario appears in both reports.',
    'col_kpi': 'Key figure',
    'col_previous': 'Last time',
    'col_current': 'Now',
    'col_change': 'Change',
    'good': 'good news',
    'bad': 'bad news',
    'unchanged': 'unchanged',
}


def _say(key: str, lang: str, **values: object) -> str:
    return say(TEXT[key], lang, **values)


def _fmt(value: float | None, spec: KpiSpec, currency: str) -> str:
    return "n/a" if value is None else fmt_kpi(spec, value, currency)


def _fmt_change(delta: float, spec: KpiSpec, currency: str, lang: str) -> str:
    """The size of a change, without sign: '1.2 points', '$3.40', '1,234'."""
    if spec.unit == "share":
        return _say("points", lang, value=fmt.current().points(abs(delta)))
    return _fmt(abs(delta), spec, currency)


def _smallest_shown(spec: KpiSpec) -> float:
    """Half the last digit shown: a change below it reads as no change."""
    if spec.unit == "share":
        return 0.0005  # 0.1 percentage point
    return 0.5 * 10.0 ** -(spec.decimals if spec.unit in ("money", "number") else 0)


def _kpi_row(spec: KpiSpec, previous: float | None, current: float | None, currency: str, lang: str,
             period: str = "M") -> dict:
    label = translate(spec.label_for(period), lang)
    row = {"kpi": spec.key, "label": label, "previous": previous, "current": current, "unit": spec.unit,
           "delta": None, "direction": None, "good": None}
    if previous is None or current is None or not (math.isfinite(previous) and math.isfinite(current)):
        row["sentence"] = _say("missing", lang, label=label)
        return row
    delta = current - previous
    if abs(delta) < _smallest_shown(spec):
        direction, good = "same", None
    else:
        direction = "up" if delta > 0 else "down"
        good = (delta > 0) == spec.higher_is_good
    row.update(delta=delta, direction=direction, good=good)
    row["sentence"] = _say(direction, lang, label=label, change=_fmt_change(delta, spec, currency, lang),
                           current=_fmt(current, spec, currency), previous=_fmt(previous, spec, currency))
    return row


# --------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------


def _migration(prev: pd.DataFrame, cur: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    both = prev[["value_risk_segment", "clv"]].join(cur[["value_risk_segment", "clv"]], how="inner",
                                                    lsuffix="_previous", rsuffix="_current")
    segments = list(VALUE_RISK_SEGMENTS)
    cells = (both.groupby(["value_risk_segment_previous", "value_risk_segment_current"])
             .agg(customers=("clv_previous", "size"), value_previous=("clv_previous", "sum"),
                  value_current=("clv_current", "sum")))
    full = pd.MultiIndex.from_product([segments, segments], names=["from_segment", "to_segment"])
    long = cells.reindex(full, fill_value=0).reset_index()
    long["customers"] = long["customers"].astype(int)

    def nested(column: str) -> dict:
        return {f: dict(zip(g["to_segment"], g[column].tolist())) for f, g in long.groupby("from_segment", sort=False)}

    band = {s: s.split(", ")[1] for s in segments}
    moved = both["value_risk_segment_previous"].map(band) + ">" + both["value_risk_segment_current"].map(band)
    new = cur.loc[cur.index.difference(prev.index)]
    result = {
        "segments": segments,
        "customers_in_both": int(len(both)),
        "customers_missing": int(len(prev.index.difference(cur.index))),
        "new_customers": {
            "count": int(len(new)),
            "clv": float(new["clv"].sum()),
            "by_segment": {s: int((new["value_risk_segment"] == s).sum()) for s in segments},
        },
        "counts": nested("customers"),
        "value_previous": nested("value_previous"),
        "value_current": nested("value_current"),
        "previous_counts": {s: int((both["value_risk_segment_previous"] == s).sum()) for s in segments},
        "stayed": int((both["value_risk_segment_previous"] == both["value_risk_segment_current"]).sum()),
        "became_at_risk": int((moved == f"{_ACTIVE}>{_AT_RISK}").sum()),
        "recovered": int((moved == f"{_AT_RISK}>{_ACTIVE}").sum()),
    }
    return result, long


def _newly_at_risk(prev: pd.DataFrame, cur: pd.DataFrame, threshold: float) -> tuple[dict, pd.DataFrame]:
    both = cur[["p_alive", "clv", "value_risk_segment"]].join(
        prev[["p_alive"]].rename(columns={"p_alive": "previous_p_alive"}), how="inner")
    high_value = both["value_risk_segment"].str.startswith(_HIGH_VALUE + ",")
    hit = both[high_value & (both["previous_p_alive"] >= threshold) & (both["p_alive"] < threshold)]
    table = (hit.rename_axis("customer_id").reset_index()
             [["customer_id", "previous_p_alive", "p_alive", "clv", "value_risk_segment"]]
             .sort_values(["clv", "customer_id"], ascending=[False, True], ignore_index=True))
    top = table.head(TOP_AT_RISK)[["customer_id", "previous_p_alive", "p_alive", "clv"]]
    return {"count": int(len(table)), "clv": float(table["clv"].sum()), "threshold": float(threshold),
            "top": top.to_dict(orient="records")}, table


def _forecast(prev: pd.DataFrame, cur_purchases: pd.DataFrame, prev_model: dict, time_unit: str,
              previous_end: dt.date, current_end: dt.date) -> tuple[dict, pd.DataFrame]:
    final = prev_model.get("final") or {}
    if "model" not in final or "params" not in final:
        raise RunArtifactError("model.json of the previous run has no 'final' model with 'model' and 'params'.")
    from analysis.models import DAYS_PER_UNIT, conditional_expected_purchases

    days = (current_end - previous_end).days
    horizon = days / DAYS_PER_UNIT[time_unit]
    expected = conditional_expected_purchases(final["model"], final["params"], horizon, prev["frequency"].to_numpy(),
                                              prev["recency"].to_numpy(), prev["T"].to_numpy())
    dates = pd.to_datetime(cur_purchases["date"]).dt.date
    window = cur_purchases[(dates > previous_end) & (dates <= current_end)]
    known = window["customer_id"].isin(prev.index)
    actual = window.loc[known, "customer_id"].value_counts().reindex(prev.index, fill_value=0)
    per_customer = pd.DataFrame({"segment": prev["value_risk_segment"], "forecast": expected, "actual": actual})
    by = (per_customer.groupby("segment").agg(customers=("forecast", "size"), forecast=("forecast", "sum"),
                                              actual=("actual", "sum"))
          .reindex(list(VALUE_RISK_SEGMENTS), fill_value=0).rename_axis("previous_segment").reset_index())
    by = by.astype({"customers": int, "actual": int})
    total_forecast, total_actual = float(expected.sum()), int(actual.sum())
    result = {
        "model": final["model"],
        "time_unit": time_unit,
        "horizon": horizon,
        "days": days,
        "customers": int(len(prev)),
        "forecast": total_forecast,
        "actual": total_actual,
        "error_pct": (total_forecast - total_actual) / total_actual if total_actual else None,
        "new_customers_purchase_days": int((~known).sum()),
        "by_segment": by.to_dict(orient="records"),
    }
    return result, by


def _roi(previous_dir: Path, current_dir: Path) -> list[dict]:
    tables = []
    for run_dir in (previous_dir, current_dir):
        path = Path(run_dir) / "artifacts" / "roi.csv"
        if not path.is_file():
            return []
        table = pd.read_csv(path)
        _require(table, _ROI_COLUMNS, path)
        tables.append(table.set_index("scenario")[list(_ROI_COLUMNS[1:])])
    both = tables[0].join(tables[1], how="inner", lsuffix="_previous", rsuffix="_current")
    both = both.reindex([s for s in tables[1].index if s in both.index])  # the current run's order
    labels = table["label"] if "label" in table else table["scenario"]  # the current run's display names
    shown = dict(zip(table["scenario"].astype(str), labels.astype(str)))
    return [{"scenario": str(name), "label": shown.get(str(name), str(name)), **{k: float(v) for k, v in row.items()}}
            for name, row in both.iterrows()]


def _jsonable(value):
    """Plain JSON types; NaN and infinities become null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def compare_runs(current_dir: Path, previous_dir: Path, params: RunParams) -> dict:
    """Compare a run with the previous one ("since last report") and write the result.

    Parameters
    ----------
    current_dir
        Folder of the current run (may still be the pipeline's staging folder); its
        ``artifacts/`` must hold ``run.json, kpis.json, model.json, customers.parquet,
        purchases.parquet`` (and ``roi.csv`` for the scenario comparison).
    previous_dir
        Folder of the previous complete run; only read.
    params
        Configuration of the current run: the at-risk threshold
        (``segments.p_alive_at_risk_below``), the report language and currency.

    Returns
    -------
    dict
        ``previous, current, days_between, kpis, migration, newly_at_risk, forecast, roi``
        (see the module docstring and the README of issue #6); the same object is written
        to ``current_dir/artifacts/since_last.json``. ``migration.csv``,
        ``newly_at_risk.csv`` (real customer ids) and ``forecast_vs_actual.csv`` are
        written next to it.

    Raises
    ------
    RunArtifactError
        If an artifact or a column is missing in either run.
    """
    current_dir, previous_dir = Path(current_dir), Path(previous_dir)
    lang, currency = params.report.language, params.report.currency
    previous_end, current_end = _observation_end(previous_dir), _observation_end(current_dir)
    if previous_end >= current_end:
        raise RunArtifactError(
            f"The previous run ({previous_dir}, data up to {previous_end}) is not earlier than the current run"
            f" ({current_dir}, data up to {current_end})."
        )
    prev, cur = _read_customers(previous_dir), _read_customers(current_dir)
    purchases_path = _artifact(current_dir, "purchases.parquet")
    purchases = pd.read_parquet(purchases_path, columns=list(_PURCHASE_COLUMNS)).astype({"customer_id": str})
    prev_model = _read_json(previous_dir, "model.json")
    prev_unit = _read_json(previous_dir, "run.json").get("time_unit") or prev_model.get("time_unit", "W")

    previous_kpis, current_kpis = _kpi_values(previous_dir), _kpi_values(current_dir)
    migration, migration_long = _migration(prev, cur)
    at_risk, at_risk_table = _newly_at_risk(prev, cur, params.segments.p_alive_at_risk_below)
    forecast, forecast_table = _forecast(prev, purchases, prev_model, prev_unit, previous_end, current_end)
    result = _jsonable({
        "previous": {
            "observation_end": previous_end.isoformat(),
            "folder": previous_dir.resolve().name,
            "artifacts_sha256": {name: _sha256(_artifact(previous_dir, name)) for name in HASHED_ARTIFACTS},
        },
        "current": {"observation_end": current_end.isoformat()},
        "days_between": (current_end - previous_end).days,
        "period": params.kpis.period,
        "kpis": [_kpi_row(spec, previous_kpis[spec.key], current_kpis[spec.key], currency, lang, params.kpis.period)
                 for spec in KPI_SPECS],
        "migration": migration,
        "newly_at_risk": at_risk,
        "forecast": forecast,
        "roi": _roi(previous_dir, current_dir),
    })

    artifacts = current_dir / "artifacts"
    (artifacts / "since_last.json").write_text(json.dumps(result, indent=2, sort_keys=True, allow_nan=False) + "\n",
                                               encoding="utf-8")
    from analysis.privacy import spreadsheet_safe

    spreadsheet_safe(migration_long).to_csv(artifacts / "migration.csv", index=False)
    spreadsheet_safe(at_risk_table).to_csv(artifacts / "newly_at_risk.csv", index=False)
    spreadsheet_safe(forecast_table).to_csv(artifacts / "forecast_vs_actual.csv", index=False)
    return result


# --------------------------------------------------------------------------
# The trend across runs
# --------------------------------------------------------------------------

TREND_COLUMNS: tuple[str, ...] = ("observation_end", *(kpi.key for kpi in CATALOGUE if kpi.trend))


def kpi_trend(run_dirs: Sequence[Path]) -> pd.DataFrame:
    """Headline KPIs of each run folder, one row per run, oldest first.

    Parameters
    ----------
    run_dirs
        Complete run folders (each with ``artifacts/run.json, kpis.json, model.json``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TREND_COLUMNS`; ``observation_end`` as datetime64, KPIs as float
        (NaN where a run lacks one).
    """
    rows = []
    for run_dir in run_dirs:
        values = _kpi_values(Path(run_dir))
        rows.append({"observation_end": pd.Timestamp(_observation_end(Path(run_dir))),
                     **{c: values.get(c) for c in TREND_COLUMNS[1:]}})
    trend = pd.DataFrame(rows, columns=list(TREND_COLUMNS))
    trend[list(TREND_COLUMNS[1:])] = trend[list(TREND_COLUMNS[1:])].astype(float)
    return trend.sort_values("observation_end", ignore_index=True)


def plot_kpi_trend(trend: pd.DataFrame, currency: str | None = None, lang: str = "en") -> "Figure":
    """Four small panels: retention rate, churn rate, active customers and total expected value per run.

    Parameters
    ----------
    trend
        Output of :func:`kpi_trend` (one run is enough).
    currency
        A ``report.currency`` value (ISO code or symbol); None: the language's default.
    lang
        ``"en"`` or ``"nl"``: labels are translated with :func:`analysis.reporting.i18n.translate_figure`, numbers and
        dates written as the language writes them (:mod:`analysis.reporting.fmt`).

    Returns
    -------
    matplotlib.figure.Figure
        A new figure (not registered with pyplot); nothing is saved or shown.
    """
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    f = fmt.Formatter(lang, fmt.currency_code(currency, lang))
    dates = pd.to_datetime(trend["observation_end"])
    fig = Figure(figsize=(10, 6.2), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True)
    share_label = "share of last period's buyers (%)"
    panels = [  # a formatter belongs to one axis: one instance per panel
        ("retention_rate", "Retention rate", share_label, f.tick_percent(decimals=1), f.percent),
        ("churn_rate", "Churn rate", share_label, f.tick_percent(decimals=1), f.percent),
        ("active_customers", "Active customers", "customers (count)", f.tick_integer(), f.integer),
        ("total_expected_value", "Total expected customer value", f"expected value ({f.symbol()})", f.tick_money(),
         f.money),
    ]
    for ax, (column, title, ylabel, formatter, label_of) in zip(axes.flat, panels):
        values = trend[column].astype(float)
        ax.plot(dates, values, marker="o", color="#0b3d91", linewidth=2, markersize=6)
        ax.set_title(translate(title, lang), fontweight="bold")  # translated here to keep the bold weight
        ax.set_ylabel(ylabel)
        ax.yaxis.set_major_formatter(formatter)
        ax.grid(True, color="#e1e4e8")
        if values.notna().any():
            last = values.last_valid_index()
            ax.annotate(label_of(float(values[last])), (dates[last], values[last]), textcoords="offset points",
                        xytext=(0, 8), ha="center", fontsize=9, color="#24292f")
            low, high = float(values.min()), float(values.max())
            pad = 0.15 * (high - low) if high > low else 0.05 * abs(high) or 1.0
            ax.set_ylim(low - pad, high + 2 * pad)
    if len(dates) <= 12:
        for ax in axes.flat:
            ax.set_xticks(dates)
    if len(dates) == 1:
        for ax in axes.flat:
            ax.set_xlim(dates.iloc[0] - pd.Timedelta(days=20), dates.iloc[0] + pd.Timedelta(days=20))
    for ax in axes[1]:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f.date(mdates.num2date(v))))
        ax.set_xlabel("report date (data up to)")
        for label in ax.get_xticklabels():
            label.set_rotation(30)
            label.set_ha("right")
    fig.suptitle(translate("Key figures across reports", lang), fontweight="bold")
    return translate_figure(fig, lang)


# --------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------

_STYLE = """<style>
.kit-since{border:1px solid #d0d7de;border-radius:8px;padding:12px 18px;margin:18px 0;background:#fff;
  font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#24292f;max-width:1100px}
.kit-since h2{margin:4px 0 6px;font-size:1.35em;color:#0b3d91}
.kit-since h3{margin:16px 0 6px;font-size:1.08em}
.kit-since p{margin:4px 0 8px;line-height:1.45}
.kit-since .ks-muted{color:#57606a;font-size:.92em}
.kit-since .ks-tiles{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0 10px}
.kit-since .ks-tile{flex:1 1 210px;max-width:260px;border:1px solid #d0d7de;border-radius:8px;padding:8px 12px;background:#f6f8fa}
.kit-since .ks-tile .l{font-weight:600;font-size:.92em}
.kit-since .ks-tile .v{font-size:1.35em;font-weight:700;margin:2px 0}
.kit-since .ks-tile .s{font-size:.85em;color:#57606a}
.kit-since .ks-good{color:#1a7f37}
.kit-since .ks-bad{color:#cf222e}
.kit-since .ks-same{color:#57606a}
.kit-since ul{margin:4px 0 10px 18px;padding:0}
.kit-since li{margin:2px 0}
.kit-since table{border-collapse:collapse;margin:6px 0 10px;font-size:.9em}
.kit-since th,.kit-since td{border:1px solid #d0d7de;padding:4px 8px;text-align:right;vertical-align:top}
.kit-since th{background:#f6f8fa;font-weight:600}
.kit-since th.row,.kit-since td.row{text-align:left}
.kit-since td.stay{background:#eaf5ea}
.kit-since td .m{color:#57606a;font-size:.85em;white-space:nowrap}
.kit-since img{max-width:100%;height:auto}
</style>"""

_ARROWS = {"up": "\u25b2", "down": "\u25bc", "same": "\u25a0"}


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _h3(key: str, lang: str) -> str:
    return f"<h3>{_e(_say(key, lang))}</h3>"


def _p(text: str, muted: bool = False) -> str:
    return f'<p class="ks-muted">{_e(text)}</p>' if muted else f"<p>{_e(text)}</p>"


def _png(fig: "Figure") -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], first_is_label: bool = True) -> str:
    """An HTML table from already formatted cells (escaped here)."""
    def cell(tag: str, i: int, text: str) -> str:
        return f'<{tag} class="row">{_e(text)}</{tag}>' if first_is_label and i == 0 else f"<{tag}>{_e(text)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kpi_block(rows: list[dict], lang: str, currency: str, keys: Sequence[str] | None = None,
               period: str = "M") -> str:
    specs = {s.key: s for s in KPI_SPECS}
    parts = ['<div class="ks-tiles">']
    for row in rows:
        if keys is not None and row["kpi"] not in keys:
            continue
        spec = specs[row["kpi"]]
        fresh = _kpi_row(spec, row["previous"], row["current"], currency, lang, period)  # in this report's language
        direction = fresh["direction"]
        css = "ks-same" if fresh["good"] is None else ("ks-good" if fresh["good"] else "ks-bad")
        verdict = "" if direction is None else _say("unchanged" if fresh["good"] is None else
                                                     ("good" if fresh["good"] else "bad"), lang)
        arrow = _ARROWS.get(direction, "")
        parts.append(
            f'<div class="ks-tile"><div class="l">{_e(fresh["label"])}</div>'
            f'<div class="v"><span class="{css}" title="{_e(verdict)}" aria-label="{_e(verdict)}">{arrow}</span> '
            f'{_e(_fmt(fresh["current"], spec, currency))}</div><div class="s">{_e(fresh["sentence"])}</div></div>'
        )
    parts.append("</div>")
    return "".join(parts)


def _migration_block(migration: dict, lang: str, currency: str) -> str:
    segments = migration["segments"]
    both = migration["customers_in_both"]
    text = _say("migration_text", lang, both=fmt_int(both), stayed=fmt_int(migration["stayed"]),
                stayed_share=fmt_pct(migration["stayed"] / both if both else None, 0),
                to_risk=fmt_int(migration["became_at_risk"]), recovered=fmt_int(migration["recovered"]))
    parts = [_h3("h_migration", lang), _p(text)]
    head = "".join(f"<th>{_e(translate(s, lang))}</th>" for s in segments)
    rows = []
    for f in segments:
        cells = []
        for t in segments:
            n = migration["counts"][f][t]
            then, now = (fmt_money(migration[k][f][t], currency) for k in ("value_previous", "value_current"))
            value = f'<br><span class="m">{_e(then)} \u2192 {_e(now)}</span>' if n else ""
            css = ' class="stay"' if f == t else ""
            cells.append(f"<td{css}>{_e(fmt_int(n))}{value}</td>")
        rows.append(f'<tr><th class="row">{_e(translate(f, lang))}</th>{"".join(cells)}'
                    f"<td><b>{_e(fmt_int(migration['previous_counts'][f]))}</b></td></tr>")
    parts.append(f'<table><thead><tr><th class="row">{_e(_say("then_now", lang))}</th>{head}'
                 f"<th>{_e(_say('total', lang))}</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
    new = migration["new_customers"]
    notes = [_say("new_customers", lang, n=fmt_int(new["count"]), value=fmt_money(new["clv"], currency))
             if new["count"] else _say("no_new_customers", lang)]
    if migration["customers_missing"]:
        notes.append(_say("missing_customers", lang, n=fmt_int(migration["customers_missing"])))
    parts.append(_p(" ".join(notes), muted=True))
    return "".join(parts)


def _at_risk_block(at_risk: dict, lang: str, currency: str, pseudonym: Callable[[str], str] | None = None,
                   with_list: bool = False) -> str:
    if not at_risk["count"]:
        return _h3("h_at_risk", lang) + _p(_say("at_risk_none", lang))
    parts = [_h3("h_at_risk", lang), _p(_say("at_risk_text", lang, n=fmt_int(at_risk["count"]),
                                             threshold=fmt_pct(at_risk["threshold"], 0),
                                             value=fmt_money(at_risk["clv"], currency)))]
    if with_list and at_risk["top"]:
        rows = [([pseudonym(str(r["customer_id"]))] if pseudonym else [f"{i}."])
                + [fmt_pct(r["previous_p_alive"], 0), fmt_pct(r["p_alive"], 0), fmt_money(r["clv"], currency, 2)]
                for i, r in enumerate(at_risk["top"], start=1)]
        header = [_say("col_customer", lang) if pseudonym else "#", _say("col_p_before", lang), _say("col_p_now", lang),
                  _say("col_clv", lang)]
        parts.append(_p(_say("at_risk_list", lang, n=fmt_int(len(rows)))) + _table(header, rows))
    return "".join(parts)


def _forecast_block(comparison: dict, lang: str) -> str:
    fc = comparison["forecast"]
    text = _say("forecast_text", lang, forecast=fmt_int(fc["forecast"]), customers=fmt_int(fc["customers"]),
                days=fmt_int(fc["days"]), actual=fmt_int(fc["actual"]),
                error=model_error(fc["forecast"], fc["actual"], lang))

    def row(label: str, r: dict) -> list[str]:
        return [label, fmt_int(r["customers"]), fmt_int(r["forecast"]), fmt_int(r["actual"]),
                model_error(r["forecast"], r["actual"], lang)]

    rows = [row(translate(r["previous_segment"], lang), r) for r in fc["by_segment"] if r["customers"]]
    rows.append(row(_say("total", lang), fc))
    header = [_say(k, lang) for k in ("col_segment", "col_customers", "col_forecast", "col_actual", "col_error")]
    note = _say("forecast_new", lang, n=fmt_int(fc["new_customers_purchase_days"]))
    return _h3("h_forecast", lang) + _p(text) + _table(header, rows) + _p(note, muted=True)


def _roi_block(roi: list[dict], lang: str, currency: str) -> str:
    if not roi:
        return _h3("h_roi", lang) + _p(_say("roi_none", lang))
    rows = [[r.get("label", r["scenario"]), fmt_int(r["customers_targeted_previous"]), fmt_int(r["customers_targeted_current"]),
             fmt_money(r["net_gain_previous"], currency), fmt_money(r["net_gain_current"], currency)] for r in roi]
    header = [_say(k, lang) for k in
              ("col_scenario", "col_targeted_prev", "col_targeted_now", "col_gain_prev", "col_gain_now")]
    return _h3("h_roi", lang) + _table(header, rows)


def _trend_block(trend: pd.DataFrame | None, lang: str, currency: str) -> str:
    if trend is None or not len(trend):
        return ""
    if len(trend) < 2:  # one report: four charts of one dot each say nothing
        return _p(_say("trend_later", lang), muted=True)
    fig = plot_kpi_trend(trend, currency=currency, lang=lang)
    alt = _say("trend_alt", lang)
    return _h3("h_trend", lang) + f'<img src="{_png(fig)}" alt="{_e(alt)}" title="{_e(alt)}">'


def section_html(comparison: dict | None, stage: str, params: RunParams,
                 pseudonym: Callable[[str], str] | None = None, trend: pd.DataFrame | None = None) -> str:
    """The "Since the last report" section of a report page, as self-contained HTML.

    Parameters
    ----------
    comparison
        Output of :func:`compare_runs` (or ``since_last.json`` read back); None for the first
        run of a series, which gets a short note (and the trend chart, if given).
    stage
        One of :data:`STAGES`: ``"summary"`` (KPI changes, segment migration, newly at risk,
        forecast against actual, trend), ``"01_data_and_kpis"`` (KPI changes, trend),
        ``"02_clv_models"`` (forecast against actual, change of total expected value),
        ``"03_segments"`` (migration, newly-at-risk list) or ``"04_retention_roi"``
        (campaign scenarios, newly at risk).
    params
        Configuration of the current run: language and currency of the text.
    pseudonym
        Maps a real customer id to the id shown in reports (e.g.
        :class:`analysis.privacy.Pseudonymiser`); None shows no customer ids.
    trend
        Output of :func:`kpi_trend`; charted on the summary and the data page.

    Returns
    -------
    str
        One ``<section class="kit-since">`` with its own inline ``<style>``: no scripts, no
        external resources, every text escaped, charts as embedded PNG.
    """
    if stage not in STAGES:
        raise ValueError(f"Unknown stage {stage!r}; expected one of {STAGES}")
    with fmt.using(params.report.language, params.report.currency):
        return _section_html(comparison, stage, params, pseudonym, trend)


def _section_html(comparison: dict | None, stage: str, params: RunParams, pseudonym: Callable[[str], str] | None,
                  trend: pd.DataFrame | None) -> str:
    lang, currency = params.report.language, params.report.currency
    show_trend = stage in ("summary", "01_data_and_kpis")
    if comparison is None:
        body = [f"<h2>{_e(_say('title_first', lang))}</h2>", _p(_say("first", lang))]
        if show_trend:
            body.append(_trend_block(trend, lang, currency))
        return f'<section class="kit-since">{_STYLE}{"".join(body)}</section>'

    previous = comparison["previous"]["observation_end"]
    body = [f"<h2>{_e(_say('title', lang, date=previous))}</h2>",
            _p(_say("intro", lang, previous=previous, days=fmt_int(comparison["days_between"])), muted=True)]
    if stage in ("summary", "01_data_and_kpis"):
        body.append(_h3("h_kpis", lang) + _kpi_block(comparison["kpis"], lang, currency, period=comparison.get("period", "M")))
    if stage == "summary":
        body.append(_migration_block(comparison["migration"], lang, currency))
        body.append(_at_risk_block(comparison["newly_at_risk"], lang, currency))
        body.append(_forecast_block(comparison, lang))
    elif stage == "02_clv_models":
        body.append(_forecast_block(comparison, lang))
        body.append(_kpi_block(comparison["kpis"], lang, currency, keys=("total_expected_value",)))
    elif stage == "03_segments":
        body.append(_migration_block(comparison["migration"], lang, currency))
        body.append(_at_risk_block(comparison["newly_at_risk"], lang, currency, pseudonym, with_list=True))
    elif stage == "04_retention_roi":
        body.append(_roi_block(comparison["roi"], lang, currency))
        body.append(_at_risk_block(comparison["newly_at_risk"], lang, currency))
    if show_trend:
        body.append(_trend_block(trend, lang, currency))
    return f'<section class="kit-since">{_STYLE}{"".join(body)}</section>'
