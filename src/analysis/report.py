"""The run's landing page, ``index.html``: headline KPIs and links to every report.

Self-contained HTML (inline CSS, no scripts, no network), readable on a phone
and printable. Everything shown comes from the artifacts of the run.
"""

from __future__ import annotations

import json
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from analysis.config import RunParams
from analysis.nb import fmt_int, fmt_money, fmt_pct


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def kpi_tiles(kpis: dict, currency: str) -> list[dict]:
    """Headline tiles (label, value, definition) from ``kpis.json``."""
    period = "month" if kpis.get("period", "M") == "M" else "quarter"
    tiles = [
        ("Customers", fmt_int(kpis.get("customers")), "Customers with at least one purchase in the data."),
        ("Active customers", fmt_int(kpis.get("active_customers")),
         f"Bought in the last {kpis.get('active_window_days', 90)} days ({fmt_pct(kpis.get('active_share'))} of all)."),
        ("Repeat purchase rate", fmt_pct(kpis.get("repeat_purchase_rate")), "Share of customers who bought on two or more days."),
        ("Retention rate", fmt_pct(kpis.get("retention_rate")),
         f"Of last {period}'s buyers, the share who bought again in the latest {period}."),
        ("Churn rate", fmt_pct(kpis.get("churn_rate")), f"1 - retention rate, latest {period}."),
        ("Revenue per customer", fmt_money(kpis.get("revenue_per_customer"), currency, 2), "Total revenue / customers."),
        ("Average order value", fmt_money(kpis.get("average_order_value"), currency, 2), "Revenue / purchase days."),
    ]
    return [{"label": a, "value": b, "definition": c} for a, b, c in tiles]


def write_index(run_dir: Path, params: RunParams, pages: list[tuple[str, str]], manifest: dict) -> Path:
    """Render ``run_dir/index.html`` from the run's artifacts."""
    env = Environment(loader=PackageLoader("analysis", "templates"), autoescape=select_autoescape(["html", "j2"]))
    template = env.get_template("index.html.j2")
    kpis = _read(run_dir / "artifacts" / "kpis.json")
    quality = _read(run_dir / "artifacts" / "data_quality.json")
    html = template.render(
        title=params.report.title,
        tiles=kpi_tiles(kpis, params.report.currency) if kpis else [],
        pages=[{"href": href, "title": title} for href, title in pages],
        quality=quality,
        dates=manifest.get("dates", {}),
        manifest=manifest,
    )
    target = run_dir / "index.html"
    target.write_text(html, encoding="utf-8")
    return target
