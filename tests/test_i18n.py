"""Dutch labels for the summary page, KPI tiles, segments and charts."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis import plotting  # noqa: E402
from analysis.i18n import translate, translate_figure, translate_frame  # noqa: E402
from analysis.report import findings, kpi_tiles  # noqa: E402
from analysis.segments import RFM_SEGMENTS, VALUE_RISK_SEGMENTS  # noqa: E402


def test_english_is_unchanged_and_unknown_text_passes_through():
    assert translate("Churn rate", "en") == "Churn rate"
    assert translate("something new", "nl") == "something new"


def test_every_segment_name_has_a_dutch_label():
    for name in RFM_SEGMENTS + VALUE_RISK_SEGMENTS:
        assert translate(name, "nl") != name, name


def test_kpi_tiles_and_findings_in_dutch():
    kpis = {"customers": 1200, "active_customers": 300, "active_share": 0.25, "active_window_days": 90,
            "repeat_purchase_rate": 0.5, "retention_rate": 0.3, "churn_rate": 0.7, "period": "M",
            "revenue_per_customer": 10.0, "average_order_value": 5.0}
    labels = [t["label"] for t in kpi_tiles(kpis, "€", "nl")]
    assert {"Klanten", "Klantbehoud (retentie)", "Churn (klantverloop)", "Aandeel herhaalkopers"} <= set(labels)
    text = findings(kpis, {}, None, None, None, "€", 12, "nl")[0]
    assert text.startswith("1,200 klanten kochten minstens één keer")


def test_chart_labels_are_translated():
    series = pd.DataFrame({"period_start": pd.to_datetime(["2020-01-01", "2020-02-01"]),
                           "active_customers": [3, 1], "new_customers": [3, 0]})
    fig = Figure()
    ax = plotting.plot_active_customers(series, "M", ax=fig.add_subplot())
    translate_figure(fig, "nl")
    assert ax.get_title() == "Klanten die kochten, per maand"
    assert ax.get_ylabel() == "klanten (aantal)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["nieuwe klanten", "terugkerende klanten"]


def test_table_cells_are_translated():
    df = pd.DataFrame({"Segment": ["Champions", "Lost"], "Customers": [1, 2]})
    out = translate_frame(df, "nl")
    assert out.iloc[:, 0].tolist() == ["Kampioenen", "Verloren"]
    assert list(out.columns) == ["Segment", "Klanten"]


def test_category_tick_labels_are_translated():
    fig = Figure()
    ax = fig.add_subplot()
    ax.barh([0, 1], [1, 2])
    ax.set_yticks([0, 1], ["Champions", "Next 40%"])
    translate_figure(fig, "nl")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Kampioenen", "Volgende 40%"]


def test_one_sign_convention_for_a_model_that_was_off():
    """Expected 11,662 repeat purchases, 12,320 happened: (11,662 - 12,320) / 12,320 = -5.34%: too low."""
    from analysis import fmt
    from analysis.i18n import model_error

    assert model_error(11_662, 12_320, "en") == "5.3% too low"
    assert model_error(12_419, 12_320, "en") == "0.8% too high"  # (12,419 - 12,320) / 12,320 = 0.80%
    assert model_error(12_320.5, 12_320, "en") == "spot on"
    assert model_error(5, 0, "en") == "n/a"
    with fmt.using("nl"):
        assert model_error(11_662, 12_320, "nl") == "5,3% te laag"
        assert model_error(12_419, 12_320, "nl") == "0,8% te hoog"
