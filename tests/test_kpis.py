"""KPIs against hand calculations on the tiny log (see conftest)."""

from __future__ import annotations

import datetime as dt

import pytest

from analysis.config import DataParams
from analysis.data.ingest import ingest_transactions
from analysis.business.kpis import cohort_retention, headline_kpis, period_series


@pytest.fixture
def purchases(tiny_csv, tmp_path):
    out = tmp_path / "p.parquet"
    ingest_transactions(DataParams(path=tiny_csv), out, today=dt.date(2024, 1, 1))
    return out


def test_headline_kpis_by_hand(purchases):
    k = headline_kpis(purchases, "2020-02-29", "M", active_window_days=30)
    assert k["customers"] == 3
    assert k["orders"] == 6  # A 3 days, 007 1, B 2
    assert k["revenue"] == pytest.approx(125.0)  # 15+20+30+40+8+12
    assert k["repeat_purchase_rate"] == pytest.approx(2 / 3)  # A and B
    assert k["revenue_per_customer"] == pytest.approx(125 / 3)
    assert k["average_order_value"] == pytest.approx(125 / 6)
    assert k["purchase_frequency"] == pytest.approx(2.0)
    # February: of January's 3 buyers only B bought again.
    assert k["retention_rate"] == pytest.approx(1 / 3) and k["churn_rate"] == pytest.approx(2 / 3)
    assert k["retention_period"] == "2020-02-01"
    assert k["retention_base"] == 3  # January's buyers: A, 007, B
    # February by hand: only B bought, for 12.
    assert (k["period_buyers"], k["period_revenue"], k["revenue_per_buyer"]) == (1, pytest.approx(12.0), pytest.approx(12.0))
    # Active in the 30 days up to 02-29 (after 01-30): only B (02-05).
    assert k["active_customers"] == 1


def test_period_series_by_hand(purchases):
    s = period_series(purchases, "2020-02-29", "M").set_index("period_start")
    assert s["active_customers"].tolist() == [3, 1]
    assert s["new_customers"].tolist() == [3, 0]
    assert s["retained_customers"].tolist() == [0, 1]
    assert s["revenue"].tolist() == pytest.approx([113.0, 12.0])
    assert s["complete"].tolist() == [True, True]


def test_incomplete_last_period_is_not_the_headline(purchases):
    k = headline_kpis(purchases, "2020-02-10", "M")
    assert k["retention_rate"] is None  # February is cut off; January has no previous month
    assert k["revenue_per_buyer"] is None and k["retention_base"] is None


def test_cohort_retention_by_hand(purchases):
    c = cohort_retention(purchases, "2020-02-29")
    assert c.loc["2020-01", 0] == pytest.approx(1.0)
    assert c.loc["2020-01", 1] == pytest.approx(1 / 3)


def test_purchase_days_read_once_give_the_same_kpis_as_raw_lines(tiny_csv):
    """Raw lines (several on one day, unsorted), not the ingest's one row per day: made once and passed to
    all three functions, PurchaseDays gives what each gives from the lines themselves; by hand, A's two lines
    of 2020-01-05 are one order."""
    import pandas as pd

    from analysis.business.kpis import PurchaseDays

    lines = pd.DataFrame({"customer_id": ["A", "A", "B", "A", "B", "C"],
                          "date": pd.to_datetime(["2020-01-05", "2020-01-05", "2020-02-03", "2020-02-10",
                                                  "2020-01-20", "2020-03-02"]),
                          "amount": [10.0, 2.5, 7.0, 4.0, 3.0, 9.0]})
    days = PurchaseDays(lines, "2020-02-29")
    series = period_series(days, "2020-02-29", "M")
    assert series.equals(period_series(lines, "2020-02-29", "M"))
    assert series["orders"].tolist() == [2, 2]  # January: A once (two lines), B once; February: B, A
    headline = headline_kpis(days, "2020-02-29", "M", series=series)
    assert headline == headline_kpis(lines, "2020-02-29", "M")
    assert (headline["customers"], headline["orders"], headline["revenue"]) == (2, 4, 26.5)  # C bought later
    assert cohort_retention(days, "2020-02-29").equals(cohort_retention(lines, "2020-02-29"))
    with pytest.raises(ValueError, match="end on 2020-02-29, not on 2020-03-31"):
        period_series(days, "2020-03-31", "M")


def test_the_ingests_purchase_days_need_no_grouping(purchases):
    """The run's purchases.parquet has one row per customer and day (A's two lines of 2020-01-01 are one row),
    so PurchaseDays may skip the grouping (#13): the same KPIs, series and cohorts."""
    import duckdb

    from analysis.business.kpis import PurchaseDays

    assert duckdb.sql(f"SELECT count(*) = count(DISTINCT (customer_id, date)) FROM '{purchases}'").fetchall()[0][0]
    grouped, plain = PurchaseDays(purchases, "2020-02-29"), PurchaseDays(purchases, "2020-02-29", one_row_per_day=True)
    assert headline_kpis(plain, "2020-02-29", "M", 30) == headline_kpis(grouped, "2020-02-29", "M", 30)
    assert period_series(plain, "2020-02-29", "M").equals(period_series(grouped, "2020-02-29", "M"))
    assert cohort_retention(plain, "2020-02-29").equals(cohort_retention(grouped, "2020-02-29"))
    assert headline_kpis(plain, "2020-02-29", "M", 30)["orders"] == 6  # by hand (see test_headline_kpis_by_hand)


# ---------------------------------------------------------------- the KPI catalogue (#16: one place per KPI)


def test_every_catalogue_kpi_of_kpis_json_is_computed(purchases):
    from analysis.business.kpis import CATALOGUE

    k = headline_kpis(purchases, "2020-02-29", "M", active_window_days=30)
    missing = [kpi.key for kpi in CATALOGUE if kpi.source == "kpis.json" and kpi.key not in k]
    assert not missing, f"in the catalogue but not in kpis.json: {missing}"
    assert len({kpi.key for kpi in CATALOGUE}) == len(CATALOGUE)
    assert {kpi.key for kpi in CATALOGUE if kpi.trend} <= {kpi.key for kpi in CATALOGUE if kpi.compared}


def test_every_page_takes_its_kpis_from_the_catalogue(purchases):
    """The tiles, the comparison with the previous report, the trend and the reports index list the catalogue's
    KPIs in its order; a KPI added to the catalogue appears on all of them."""
    from analysis.business.kpis import CATALOGUE
    from analysis.reporting import fmt, report
    from analysis.runs import history

    k = headline_kpis(purchases, "2020-02-29", "M", active_window_days=30)
    with fmt.using("en", "USD"):
        summary = [t["label"] for t in report.kpi_tiles(k, "USD")]
        data_page = [t["label"] for t in report.kpi_tiles(k, "USD", data_page=True, first_date="2020-01-01",
                                                          last_date="2020-02-29")]
    assert summary == [kpi.label_for("M") for kpi in CATALOGUE if kpi.summary and kpi.source == "kpis.json"]
    assert data_page == [kpi.label_for("M") for kpi in CATALOGUE if kpi.source == "kpis.json"]
    assert [s.key for s in history.KPI_SPECS] == [kpi.key for kpi in CATALOGUE if kpi.compared]
    assert list(history.TREND_COLUMNS[1:]) == [kpi.key for kpi in CATALOGUE if kpi.trend]


@pytest.mark.parametrize("lang", ["nl"])
def test_the_catalogue_is_translated(lang):
    from analysis.business.kpis import CATALOGUE, PERIOD_UNITS
    from analysis.reporting.i18n import translate

    untranslated = []
    for kpi in CATALOGUE:
        texts = {kpi.label.format(period=p) for p in (*PERIOD_UNITS.values(), "period")}
        texts |= ({kpi.definition.format(period=p) for p in PERIOD_UNITS.values()} if "{period}" in kpi.definition
                  else {kpi.definition})  # a sentence template is translated before it is filled in
        untranslated += [text for text in sorted(texts) if translate(text, lang) == text]
    assert not untranslated, untranslated


def test_a_number_kpi_keeps_its_decimals_in_the_comparison():
    """A KPI of unit number (two decimals): 2.31 -> 2.69 is a rise of 0.38, not 'unchanged' (as a count would be
    rounded), and both values are written with two decimals."""
    from analysis.business.kpis import Kpi
    from analysis.reporting import fmt
    from analysis.runs import history

    kpi = Kpi("items_per_order", "Items per order", "number", "Items / orders.", decimals=2)
    with fmt.using("en", "USD"):
        row = history._kpi_row(kpi, 2.31, 2.69, "USD", "en")
    assert (row["direction"], row["good"]) == ("up", True)
    assert "2.69" in row["sentence"] and "2.31" in row["sentence"] and "0.38" in row["sentence"]


def _published_run(root, date, customers, retention, revenue_per_buyer, total, aov):
    import json

    folder = root / date
    (folder / "artifacts").mkdir(parents=True)
    (folder / "index.html").write_text("<html></html>")
    (folder / "manifest.json").write_text(json.dumps({"input": {"path": "shop.csv"},
                                                      "params": {"report": {"currency": "EUR", "language": "en"}}}))
    (folder / "artifacts" / "run.json").write_text(json.dumps({"observation_end": date}))
    (folder / "artifacts" / "kpis.json").write_text(json.dumps({
        "customers": customers, "active_customers": customers // 2, "retention_rate": retention,
        "churn_rate": 1 - retention, "revenue_per_buyer": revenue_per_buyer, "average_order_value": aov}))
    (folder / "artifacts" / "model.json").write_text(json.dumps({"clv": {"total": total}, "final": {"model": "pareto"}}))


def test_the_reports_index_lists_the_catalogues_trend_kpis(tmp_path, monkeypatch):
    """The reports index table: one column per trend KPI of the catalogue, written by unit (by hand, en and EUR);
    a KPI marked trend in the catalogue appears there without touching the page's template."""
    import re

    from analysis.business import kpis
    from analysis.runs import series

    _published_run(tmp_path, "1998-03-31", 23570, 0.368, 52.904, 268096.4, 36.93)
    _published_run(tmp_path, "1998-06-30", 23570, 0.30, 50.5449, 230113.2, 36.99)
    page = series.render_index(tmp_path, series.complete_runs(tmp_path))
    headers = re.findall(r"<th>([^<]*)</th>", page.split('<table class="runs">')[1].split("</thead>")[0])
    assert headers == ["Data up to", "Customers", "Active customers", "Retention rate", "Churn rate",
                       "Revenue per customer per period", "Total expected customer value", "Compared with"]
    newest = page.split('href="1998-06-30/index.html">1998-06-30</a></td>')[1].split("</tr>")[0]
    assert re.findall(r"<td>([^<]*)</td>", newest) == ["23,570", "11,785", "30.0%", "70.0%", "€50.54", "€230,113", "–"]

    extra = kpis.Kpi("average_order_value", "Average order value", "money", "Revenue / purchase days.", decimals=2,
                     trend=True)
    monkeypatch.setattr(kpis, "CATALOGUE", (*kpis.CATALOGUE, extra))
    page = series.render_index(tmp_path, series.complete_runs(tmp_path))
    assert "<th>Average order value</th>" in page and "<td>€36.99</td>" in page
