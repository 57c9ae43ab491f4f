"""The executive summary, ``index.html``: one page a manager reads in two minutes.

KPI tiles, three or four key charts, findings written from the numbers, links to
the detailed reports and the at-risk list, and the run's metadata. The page is
self-contained (inline CSS, charts as embedded PNG, no scripts, no network), so
it opens from a file or an e-mail attachment, reads on a phone and prints.
Everything on it comes from the run's artifacts.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from analysis.reporting import fmt

from analysis.runs import runfolder
from analysis.config import RunParams
from analysis.reporting.i18n import model_error, say, translate, translate_figure
from analysis.business.kpis import BY_KEY, CATALOGUE, PERIOD_UNITS
from analysis.reporting.nb import fmt_int, fmt_kpi, fmt_money, fmt_pct


def _read_json(path: Path) -> dict:
    """An artifact of the summary page (``<run>/artifacts/<name>``): {} when the run has none (a page may
    lack one), an error when it is damaged (:func:`analysis.runs.runfolder.read_json`)."""
    return runfolder.read_json(path.parent.parent, path.name, required=False)


def _tile(label: str, value: str, definition: str, lang: str) -> dict:
    return {"label": translate(label, lang), "value": value, "definition": translate(definition, lang)}


def kpi_tiles(kpis: dict, currency: str, lang: str | None = None, data_page: bool = False,
              first_date: str | None = None, last_date: str | None = None) -> list[dict]:
    """Retention tiles (label, value, definition) from ``kpis.json``: the KPIs of the catalogue
    (:data:`analysis.business.kpis.CATALOGUE`) kept in ``kpis.json``, those marked ``summary`` (all of them on
    the data page, ``data_page``; ``first_date``, ``last_date``: the dates of the data, for the revenue's definition), in
    ``lang`` (default: the report language set for this process, :func:`analysis.reporting.fmt.use`).
    Retention, churn and revenue per customer name the period they measure (the last complete month or
    quarter)."""
    f = fmt.current()
    lang = lang or f.language
    period = kpis.get("period", "M")
    unit = PERIOD_UNITS.get(period, "month")
    latest = kpis.get("retention_period")
    named = {}
    if latest and kpis.get("retention_base") is not None:  # kpis.json of an older run has no base
        start = dt.date.fromisoformat(latest)
        before = (pd.Timestamp(start) - pd.DateOffset(months=1 if period == "M" else 3)).date()
        named = {"base": fmt_int(kpis["retention_base"]), "before": f.period(before, period),
                 "latest": f.period(start, period)}
    tiles = []
    for kpi in CATALOGUE:
        if kpi.source != "kpis.json" or not (kpi.summary or data_page):
            continue
        value = kpis.get(kpi.key)
        label, definition = translate(kpi.label_for(period), lang), None
        if kpi.key == "active_customers":
            definition = say(kpi.definition, lang, days=kpis.get("active_window_days", 90),
                             share=fmt_pct(kpis.get("active_share")))
        elif kpi.key == "retention_rate" and named:
            definition = say("Of the {base} customers who bought in {before}, the share who bought again in"
                             " {latest}.", lang, **named)
        elif kpi.key == "churn_rate" and named:
            definition = say("Of the {base} customers who bought in {before}, the share who did not buy in"
                             " {latest}; some come back later (the cohort chart follows them).", lang, **named)
        elif kpi.key == "revenue_per_buyer":
            if value is None:
                continue
            definition = say(kpi.definition, lang, latest=f.period(dt.date.fromisoformat(latest), period),
                             n=fmt_int(kpis["period_buyers"]))
        elif kpi.key == "revenue":
            definition = say(kpi.definition, lang, first=f.date(first_date), last=f.date(last_date))
        else:
            definition = translate(kpi.definition.format(period=unit), lang)
        tiles.append({"label": label, "value": fmt_kpi(kpi, value, currency), "definition": definition})
    return tiles


def value_tiles(model: dict, customers: pd.DataFrame | None, at_risk: pd.DataFrame | None, roi: pd.DataFrame | None,
                currency: str, horizon_months: int, lang: str = "en") -> list[dict]:
    """Customer-value and campaign tiles from ``model.json``, the customer table and ``roi.csv``."""
    tiles = []
    clv = model.get("clv", {})
    if clv:
        band = f"{fmt_money(clv.get('low'), currency)} – {fmt_money(clv.get('high'), currency)}"
        kpi = BY_KEY["total_expected_value"]
        tiles.append({"label": translate(kpi.label, lang), "value": fmt_kpi(kpi, clv.get("total"), currency),
                      "definition": say(kpi.definition, lang, months=horizon_months,
                                        level=fmt_pct(clv.get("level", 0.9), 0), band=band)})
    if customers is not None and "clv" in customers:
        tiles.append(_tile("Average CLV", fmt_money(float(customers["clv"].mean()), currency, 2),
                           "Expected value per customer over the same horizon.", lang))
    if at_risk is not None:
        tiles.append(_tile("High value, at risk", fmt_int(len(at_risk)),
                           f"Worth {fmt_money(float(at_risk['clv'].sum()), currency)} together; see the at-risk list.", lang))
    if roi is not None and len(roi):
        best = roi.loc[roi["net_gain"].idxmax()]
        tiles.append(_tile("Best campaign: net gain", fmt_money(float(best["net_gain"]), currency),
                           f"Scenario {best.get('label', best['scenario'])}: ROI {fmt_pct(float(best['roi']), 0)}, "
                           f"{fmt_int(best['customers_targeted'])}"
                           f" {'customer' if int(best['customers_targeted']) == 1 else 'customers'} contacted.", lang))
    return tiles


def findings(kpis: dict, model: dict, customers: pd.DataFrame | None, at_risk: pd.DataFrame | None,
             roi: pd.DataFrame | None, currency: str, horizon_months: int, lang: str = "en") -> list[str]:
    """Plain-language findings written from the numbers."""
    out = []
    if kpis:
        out.append(say("{customers} customers bought at least once; {active} of them bought in the last {days} days,"
                       " and {repeat} came back for a second purchase.", lang,
                       customers=fmt_int(kpis["customers"]), active=fmt_pct(kpis.get("active_share")),
                       days=kpis["active_window_days"], repeat=fmt_pct(kpis.get("repeat_purchase_rate"))))
    if model.get("unavailable"):
        out.append(say("No purchase model could be fitted on these data, so there are no customer values, segments"
                       " by value or campaign figures in this report; the model page says why.", lang))
    clv = model.get("clv", {})
    if clv and customers is not None and "clv" in customers:
        ranked = customers["clv"].sort_values(ascending=False)
        top = ranked.head(max(1, len(ranked) // 10)).sum() / ranked.sum() if ranked.sum() > 0 else float("nan")
        out.append(say("Over the next {months} months the customers are expected to bring {total} in margin (between"
                       " {low} and {high}); the top 10% of customers hold {top} of that value.", lang,
                       months=horizon_months, total=fmt_money(clv["total"], currency),
                       low=fmt_money(clv["low"], currency), high=fmt_money(clv["high"], currency), top=fmt_pct(top, 0)))
    holdout = model.get("holdout", {})
    if holdout.get("actual") and holdout.get("expected") is not None:
        out.append(say("The model was checked on a period it had not seen: it expected {expected} repeat purchases"
                       " and {actual} happened ({error}).", lang,
                       expected=fmt_int(holdout["expected"]), actual=fmt_int(holdout["actual"]),
                       error=model_error(holdout["expected"], holdout["actual"], lang)))
    if at_risk is not None and len(at_risk) == 1:
        out.append(say("One high-value customer is at risk of being lost, worth {value}: the list for a retention"
                       " campaign has this one customer.", lang, value=fmt_money(float(at_risk["clv"].sum()), currency)))
    elif at_risk is not None and len(at_risk):
        out.append(say("{n} high-value customers are at risk of being lost, together worth {value}: they are the list"
                       " for a retention campaign.", lang,
                       n=fmt_int(len(at_risk)), value=fmt_money(float(at_risk["clv"].sum()), currency)))
    if roi is not None and len(roi):
        best = roi.loc[roi["net_gain"].idxmax()]
        figures = dict(name=best.get("label", best["scenario"]), gain=fmt_money(float(best["net_gain"]), currency),
                       roi=fmt_pct(float(best["roi"]), 0), uplift=fmt_pct(float(best["uplift"])),
                       breakeven=fmt_pct(float(best["breakeven_uplift"])))
        if best["net_gain"] > 0:
            out.append(say("Of the campaign scenarios, {name} brings the highest net gain and pays for itself: expected"
                           " net gain {gain} (ROI {roi}), if the assumed uplift of {uplift} holds; it breaks even at an"
                           " uplift of {breakeven}.", lang, **figures))
        else:
            out.append(say("None of the campaign scenarios pays for itself; the one with the highest net gain, {name},"
                           " has an expected net gain of {gain} (ROI {roi}) at an assumed uplift of {uplift}; it would"
                           " break even at an uplift of {breakeven}.", lang, **figures))
    return out


def png_data_uri(fig, dpi: int = 100) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _activity_chart(artifacts: Path, params: RunParams):
    from analysis.reporting import plotting

    series = pd.read_csv(artifacts / "kpi_series.csv", parse_dates=["period_start"])
    return (lambda ax: plotting.plot_active_customers(series, params.kpis.period, ax=ax),
            "Customers who bought in each period; the light part are first-time buyers.")


def _tracking_chart(artifacts: Path, params: RunParams):
    from analysis.reporting import plotting

    tracking = pd.read_csv(artifacts / "tracking.csv")
    model = _read_json(artifacts / "model.json")
    return (lambda ax: plotting.plot_tracking(tracking, model.get("time_unit", "W"), model.get("calibration_end_t"),
                                              cumulative=True, ax=ax),
            "The model's expected repeat purchases against what happened, including a period it had not seen.")


def _value_risk_chart(artifacts: Path, params: RunParams):
    import pyarrow.parquet as pq

    from analysis.business.segments import plot_value_risk_heatmap

    if "value_risk_segment" not in pq.read_schema(artifacts / "customers.parquet").names:
        return None
    # only the three columns the chart needs: the whole table (a million ids) took seconds to read
    customers = pd.read_parquet(artifacts / "customers.parquet", columns=["clv_tier", "p_alive_band", "clv"])
    return (lambda ax: plot_value_risk_heatmap(customers, currency=params.report.currency, ax=ax),
            "Customers and their expected value by value tier and risk of being lost.")


def _scenarios_chart(artifacts: Path, params: RunParams):
    from analysis.business.roi import plot_scenario_comparison

    table = pd.read_csv(artifacts / "roi.csv", index_col="scenario")
    return (lambda ax: plot_scenario_comparison(table, currency=params.report.currency, ax=ax),
            "Expected net gain and ROI of each retention campaign scenario.")


#: The summary's charts, in order: the artifacts each is drawn from (a chart whose files do not exist is left out)
#: and the function that reads them and gives its drawing and caption (or None: nothing to draw).
KEY_CHARTS = {
    "activity": (("kpi_series.csv",), _activity_chart),
    "tracking": (("tracking.csv", "model.json"), _tracking_chart),
    "value_risk": (("customers.parquet",), _value_risk_chart),
    "scenarios": (("roi.csv",), _scenarios_chart),
}


def key_chart(name: str, artifacts: Path, params: RunParams) -> dict | None:
    """One chart of :data:`KEY_CHARTS` as an embedded PNG (``src``, ``alt``, ``caption``), in the notation of
    ``report.language`` and ``report.currency``; None when its artifacts are missing."""
    from matplotlib.figure import Figure

    files, read = KEY_CHARTS[name]
    if not all((artifacts / f).exists() for f in files):
        return None
    lang = params.report.language
    with fmt.using(lang, params.report.currency):
        made = read(artifacts, params)
        if made is None:
            return None
        draw, caption = made
        # 7 inches wide, shown about 530 px wide in two columns: text stays readable; 150 dpi for the full size
        fig = Figure(figsize=(7, 4.2))
        draw(fig.add_subplot())
        translate_figure(fig, lang)
        return {"src": png_data_uri(fig, dpi=150), "alt": translate(caption, lang),
                "caption": translate(caption, lang)}


def key_charts(artifacts: Path, params: RunParams) -> list[dict]:
    """The charts of :data:`KEY_CHARTS` whose artifacts exist, in order."""
    return [c for c in (key_chart(name, artifacts, params) for name in KEY_CHARTS) if c is not None]


class KeyChartsAhead:
    """The summary's charts drawn while the report pages still run, each as soon as the pages that write its
    artifacts have finished (:meth:`page_done`), in a thread of their own: the pipeline's process waits for the
    pages' kernels meanwhile, and the end of the run (the summary, then the pages' HTML) no longer waits for them.

    The number notation is process-wide (:mod:`analysis.reporting.fmt`): nothing else in the pipeline's process
    formats numbers until :meth:`result` has returned. ``also``: more work for the end of the run done ahead the
    same way, once, after the first page (the HTML exporter's warm-up, :func:`analysis.reporting.html.warm_up`).
    """

    def __init__(self, artifacts: Path, params: RunParams, pages: list[str], also=None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.artifacts, self.params, self.also = artifacts, params, also
        writers = {name: {runfolder.lookup(f).writer for f in files} for name, (files, _) in KEY_CHARTS.items()}
        self.waiting = {name: {w for w in pages_of if w in pages} for name, pages_of in writers.items()}
        self.drawn: dict = {}
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="summary-charts")

    def page_done(self, page: str) -> None:
        """``page`` has finished: draw the charts that waited for it alone."""
        for name, waiting in self.waiting.items():
            if page in waiting:
                waiting.discard(page)
                if not waiting:
                    self.drawn[name] = self.pool.submit(key_chart, name, self.artifacts, self.params)
        if self.also is not None:
            self.pool.submit(self.also)  # its failure would show where the work itself is done
            self.also = None

    def result(self) -> list[dict]:
        """The charts, in order (those not drawn yet are drawn now)."""
        try:
            charts = [self.drawn[name].result() if name in self.drawn else key_chart(name, self.artifacts, self.params)
                      for name in KEY_CHARTS]
        finally:
            self.close()
        return [c for c in charts if c is not None]

    def close(self) -> None:
        """Stop drawing (the run failed): charts not begun are dropped."""
        self.pool.shutdown(wait=True, cancel_futures=True)


def write_index(run_dir: Path, params: RunParams, pages: list[tuple[str, str]], manifest: dict,
                since_html: str = "", charts: list[dict] | None = None) -> Path:
    """Render ``run_dir/index.html`` (the executive summary) from the run's artifacts, every figure in the
    notation of ``report.language`` and ``report.currency``.

    ``since_html``: the "since the last report" section (:func:`analysis.runs.history.section_html`). ``charts``:
    the key charts when drawn already (:class:`KeyChartsAhead`), else they are drawn here.
    """
    if charts is None:
        charts = key_charts(run_dir / "artifacts", params)
    with fmt.using(params.report.language, params.report.currency):
        return _write_index(run_dir, params, pages, manifest, since_html, charts)


def _customer_values(path: Path) -> pd.DataFrame | None:
    """The customer table's ``clv`` column, all the summary's tiles and findings read of it (None without the table;
    no column without a model): the whole table, a million customers' ids and segment names, took 1.2 s to read."""
    if not path.exists():
        return None
    import pyarrow.parquet as pq

    return pd.read_parquet(path, columns=[c for c in ("clv",) if c in pq.read_schema(path).names])


def _write_index(run_dir: Path, params: RunParams, pages: list[tuple[str, str]], manifest: dict,
                 since_html: str, charts: list[dict]) -> Path:
    artifacts = run_dir / "artifacts"
    lang, currency = params.report.language, params.report.currency
    kpis = _read_json(artifacts / "kpis.json")
    model = _read_json(artifacts / "model.json")
    quality = _read_json(artifacts / "data_quality.json")
    customers = _customer_values(artifacts / "customers.parquet")
    at_risk = pd.read_csv(artifacts / "at_risk_high_value.csv") if (artifacts / "at_risk_high_value.csv").exists() else None
    roi = pd.read_csv(artifacts / "roi.csv") if (artifacts / "roi.csv").exists() else None
    horizon = params.clv.horizon_months

    env = Environment(loader=PackageLoader("analysis.reporting", "templates"), autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("index.html.j2")
    html = template.render(
        lang=lang,
        t=lambda text: translate(text, lang),
        numbers=fmt.current(),
        title=params.report.heading(),
        tiles=(kpi_tiles(kpis, currency, lang) if kpis else []) + value_tiles(model, customers, at_risk, roi, currency, horizon, lang),
        findings=findings(kpis, model, customers, at_risk, roi, currency, horizon, lang),
        charts=charts,
        pages=[{"href": href, "title": translate(title, lang)} for href, title in pages],
        downloads=[{"href": f"artifacts/{name}", "title": translate(label, lang)} for name, label in [
            ("at_risk_high_value.csv", "High-value customers at risk (CSV, for the CRM)"),
            ("segments.csv", "Segment profiles (CSV)"),
            ("roi.csv", "Campaign scenarios (CSV)"),
            ("campaigns.csv", "Measured campaigns (CSV)"),
            ("kpis.json", "Headline KPIs (JSON)"),
        ] if (artifacts / name).exists() and (artifacts / name).stat().st_size > 1],
        quality=quality,
        dates=manifest.get("dates", {}),
        model_checked=bool(model) and not model.get("unavailable"),  # no model: no holdout check to date
        manifest=manifest,
        params=params,
        since_html=Markup(since_html),
    )
    target = run_dir / "index.html"
    target.write_text(html, encoding="utf-8")
    return target
