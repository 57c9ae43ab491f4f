"""The executive summary, ``index.html``: one page a manager reads in two minutes.

KPI tiles, three or four key charts, findings written from the numbers, links to
the detailed reports and the at-risk list, and the run's metadata. The page is
self-contained (inline CSS, charts as embedded PNG, no scripts, no network), so
it opens from a file or an e-mail attachment, reads on a phone and prints.
Everything on it comes from the run's artifacts.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from analysis import fmt
from analysis.config import RunParams
from analysis.i18n import model_error, translate, translate_figure
from analysis.nb import fmt_int, fmt_money, fmt_pct


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _tile(label: str, value: str, definition: str, lang: str) -> dict:
    return {"label": translate(label, lang), "value": value, "definition": translate(definition, lang)}


def kpi_tiles(kpis: dict, currency: str, lang: str = "en") -> list[dict]:
    """Retention tiles (label, value, definition) from ``kpis.json``."""
    period = "month" if kpis.get("period", "M") == "M" else "quarter"
    return [
        _tile("Customers", fmt_int(kpis.get("customers")), "Customers with at least one purchase in the data.", lang),
        _tile("Active customers", fmt_int(kpis.get("active_customers")),
              f"Bought in the last {kpis.get('active_window_days', 90)} days ({fmt_pct(kpis.get('active_share'))} of all).",
              lang),
        _tile("Repeat purchase rate", fmt_pct(kpis.get("repeat_purchase_rate")),
              "Share of customers who bought on two or more days.", lang),
        _tile("Retention rate", fmt_pct(kpis.get("retention_rate")),
              f"Of last {period}'s buyers, the share who bought again in the latest {period}.", lang),
        _tile("Churn rate", fmt_pct(kpis.get("churn_rate")), f"1 - retention rate, latest {period}.", lang),
        _tile("Revenue per customer", fmt_money(kpis.get("revenue_per_customer"), currency, 2),
              "Total revenue / customers.", lang),
        _tile("Average order value", fmt_money(kpis.get("average_order_value"), currency, 2),
              "Revenue / purchase days.", lang),
    ]


def value_tiles(model: dict, customers: pd.DataFrame | None, at_risk: pd.DataFrame | None, roi: pd.DataFrame | None,
                currency: str, horizon_months: int, lang: str = "en") -> list[dict]:
    """Customer-value and campaign tiles from ``model.json``, the customer table and ``roi.csv``."""
    tiles = []
    clv = model.get("clv", {})
    if clv:
        band = f"{fmt_money(clv.get('low'), currency)} – {fmt_money(clv.get('high'), currency)}"
        tiles.append(_tile("Total expected customer value", fmt_money(clv.get("total"), currency),
                           f"Discounted margin expected from today's customers in the next {horizon_months} months; "
                           f"{fmt_pct(clv.get('level', 0.9), 0)} band {band}.", lang))
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
                           f"{fmt_int(best['customers_targeted'])} customers contacted.", lang))
    return tiles


FINDINGS = {
    "customers": {
        "en": "{customers} customers bought at least once; {active} of them bought in the last {days} days, and {repeat} came back for a second purchase.",
        "nl": "{customers} klanten kochten minstens één keer; {active} van hen kocht in de laatste {days} dagen, en {repeat} kwam terug voor een tweede aankoop.",
    },
    "value": {
        "en": "Over the next {months} months the customers are expected to bring {total} in margin (between {low} and {high}); the top 10% of customers hold {top} of that value.",
        "nl": "In de komende {months} maanden brengen de klanten naar verwachting {total} aan marge op (tussen {low} en {high}); de beste 10% van de klanten heeft {top} van die klantwaarde.",
    },
    "no_model": {
        "en": "No purchase model could be fitted on these data, so there are no customer values, segments by value or campaign figures in this report; the model page says why.",
        "nl": "Op deze gegevens kon geen aankoopmodel worden geschat, dus dit rapport bevat geen klantwaarden, waardesegmenten of campagnecijfers; de modelpagina legt uit waarom.",
    },
    "holdout": {
        "en": "The model was checked on a period it had not seen: it expected {expected} repeat purchases and {actual} happened ({error}).",
        "nl": "Het model is getoetst op een periode die het niet kende: het verwachtte {expected} herhaalaankopen en er waren er {actual} ({error}).",
    },
    "at_risk": {
        "en": "{n} high-value customers are at risk of being lost, together worth {value}: they are the list for a retention campaign.",
        "nl": "{n} klanten met een hoge waarde dreigen te vertrekken, samen goed voor {value}: zij vormen de lijst voor een klantbehoudcampagne.",
    },
    "roi_pays": {
        "en": "Of the campaign scenarios, {name} brings the highest net gain and pays for itself: expected net gain {gain} (ROI {roi}), if the assumed uplift of {uplift} holds; it breaks even at an uplift of {breakeven}.",
        "nl": "Van de campagnescenario's levert {name} de hoogste netto opbrengst en verdient zichzelf terug: verwachte netto opbrengst {gain} (ROI {roi}), als het aangenomen effect van {uplift} klopt; het break-evenpunt ligt bij een effect van {breakeven}.",
    },
    "roi_loses": {
        "en": "None of the campaign scenarios pays for itself; the one with the highest net gain, {name}, has an expected net gain of {gain} (ROI {roi}) at an assumed uplift of {uplift}; it would break even at an uplift of {breakeven}.",
        "nl": "Geen van de campagnescenario's verdient zichzelf terug; dat met de hoogste netto opbrengst, {name}, heeft een verwachte netto opbrengst van {gain} (ROI {roi}) bij een aangenomen effect van {uplift}; het break-evenpunt ligt bij een effect van {breakeven}.",
    },
}


def findings(kpis: dict, model: dict, customers: pd.DataFrame | None, at_risk: pd.DataFrame | None,
             roi: pd.DataFrame | None, currency: str, horizon_months: int, lang: str = "en") -> list[str]:
    """Plain-language findings written from the numbers."""
    def say(key: str, **values) -> str:
        return FINDINGS[key].get(lang, FINDINGS[key]["en"]).format(**values)

    out = []
    if kpis:
        out.append(say("customers", customers=fmt_int(kpis["customers"]), active=fmt_pct(kpis.get("active_share")),
                       days=kpis["active_window_days"], repeat=fmt_pct(kpis.get("repeat_purchase_rate"))))
    if model.get("unavailable"):
        out.append(say("no_model"))
    clv = model.get("clv", {})
    if clv and customers is not None and "clv" in customers:
        ranked = customers["clv"].sort_values(ascending=False)
        top = ranked.head(max(1, len(ranked) // 10)).sum() / ranked.sum() if ranked.sum() > 0 else float("nan")
        out.append(say("value", months=horizon_months, total=fmt_money(clv["total"], currency),
                       low=fmt_money(clv["low"], currency), high=fmt_money(clv["high"], currency), top=fmt_pct(top, 0)))
    holdout = model.get("holdout", {})
    if holdout.get("actual") and holdout.get("expected") is not None:
        out.append(say("holdout", expected=fmt_int(holdout["expected"]), actual=fmt_int(holdout["actual"]),
                       error=model_error(holdout["expected"], holdout["actual"], lang)))
    if at_risk is not None and len(at_risk):
        out.append(say("at_risk", n=fmt_int(len(at_risk)), value=fmt_money(float(at_risk["clv"].sum()), currency)))
    if roi is not None and len(roi):
        best = roi.loc[roi["net_gain"].idxmax()]
        out.append(say("roi_pays" if best["net_gain"] > 0 else "roi_loses", name=best.get("label", best["scenario"]),
                       gain=fmt_money(float(best["net_gain"]), currency), roi=fmt_pct(float(best["roi"]), 0),
                       uplift=fmt_pct(float(best["uplift"])), breakeven=fmt_pct(float(best["breakeven_uplift"]))))
    return out


def png_data_uri(fig, dpi: int = 100) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def key_charts(artifacts: Path, params: RunParams) -> list[dict]:
    """Up to four charts (as embedded PNG) drawn from the artifacts that exist."""
    from matplotlib.figure import Figure

    from analysis import plotting

    lang, currency = params.report.language, params.report.currency
    charts = []

    def add(draw, caption: str) -> None:
        # 7 inches wide, shown about 530 px wide in two columns: text stays readable; 150 dpi for the full size
        fig = Figure(figsize=(7, 4.2))
        draw(fig.add_subplot())
        translate_figure(fig, lang)
        charts.append({"src": png_data_uri(fig, dpi=150), "alt": translate(caption, lang), "caption": translate(caption, lang)})

    series_path = artifacts / "kpi_series.csv"
    if series_path.exists():
        series = pd.read_csv(series_path, parse_dates=["period_start"])
        add(lambda ax: plotting.plot_active_customers(series, params.kpis.period, ax=ax),
            "Customers who bought in each period; the light part are first-time buyers.")
    tracking_path = artifacts / "tracking.csv"
    if tracking_path.exists():
        tracking = pd.read_csv(tracking_path)
        model = _read_json(artifacts / "model.json")
        add(lambda ax: plotting.plot_tracking(tracking, model.get("time_unit", "W"), model.get("calibration_end_t"),
                                              cumulative=True, ax=ax),
            "The model's expected repeat purchases against what happened, including a period it had not seen.")
    customers_path = artifacts / "customers.parquet"
    if customers_path.exists():
        customers = pd.read_parquet(customers_path)
        if "value_risk_segment" in customers:
            from analysis.segments import plot_value_risk_heatmap

            add(lambda ax: plot_value_risk_heatmap(customers.set_index("customer_id"), currency=currency, ax=ax),
                "Customers and their expected value by value tier and risk of being lost.")
    roi_path = artifacts / "roi.csv"
    if roi_path.exists():
        from analysis.roi import plot_scenario_comparison

        table = pd.read_csv(roi_path, index_col="scenario")
        add(lambda ax: plot_scenario_comparison(table, currency=currency, ax=ax),
            "Expected net gain and ROI of each retention campaign scenario.")
    return charts


def write_index(run_dir: Path, params: RunParams, pages: list[tuple[str, str]], manifest: dict,
                since_html: str = "") -> Path:
    """Render ``run_dir/index.html`` (the executive summary) from the run's artifacts, every figure in the
    notation of ``report.language`` and ``report.currency``.

    ``since_html``: the "since the last report" section (:func:`analysis.history.section_html`).
    """
    with fmt.using(params.report.language, params.report.currency):
        return _write_index(run_dir, params, pages, manifest, since_html)


def _write_index(run_dir: Path, params: RunParams, pages: list[tuple[str, str]], manifest: dict,
                 since_html: str) -> Path:
    artifacts = run_dir / "artifacts"
    lang, currency = params.report.language, params.report.currency
    kpis = _read_json(artifacts / "kpis.json")
    model = _read_json(artifacts / "model.json")
    quality = _read_json(artifacts / "data_quality.json")
    customers = (pd.read_parquet(artifacts / "customers.parquet").set_index("customer_id")
                 if (artifacts / "customers.parquet").exists() else None)
    at_risk = pd.read_csv(artifacts / "at_risk_high_value.csv") if (artifacts / "at_risk_high_value.csv").exists() else None
    roi = pd.read_csv(artifacts / "roi.csv") if (artifacts / "roi.csv").exists() else None
    horizon = params.clv.horizon_months

    env = Environment(loader=PackageLoader("analysis", "templates"), autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("index.html.j2")
    html = template.render(
        lang=lang,
        t=lambda text: translate(text, lang),
        numbers=fmt.current(),
        title=params.report.title,
        tiles=(kpi_tiles(kpis, currency, lang) if kpis else []) + value_tiles(model, customers, at_risk, roi, currency, horizon, lang),
        findings=findings(kpis, model, customers, at_risk, roi, currency, horizon, lang),
        charts=key_charts(artifacts, params),
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
        manifest=manifest,
        params=params,
        since_html=Markup(since_html),
    )
    target = run_dir / "index.html"
    target.write_text(html, encoding="utf-8")
    return target
