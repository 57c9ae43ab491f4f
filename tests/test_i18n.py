"""Dutch labels for the summary page, KPI tiles, segments and charts."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import re  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from analysis.reporting import fmt, plotting  # noqa: E402
from analysis.reporting.i18n import translate, translate_figure, translate_frame  # noqa: E402
from analysis.reporting.report import findings, kpi_tiles, value_tiles  # noqa: E402
from analysis.business.segments import RFM_SEGMENTS, VALUE_RISK_SEGMENTS  # noqa: E402


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
    from analysis.reporting import fmt
    from analysis.reporting.i18n import model_error

    assert model_error(11_662, 12_320, "en") == "5.3% too low"
    assert model_error(12_419, 12_320, "en") == "0.8% too high"  # (12,419 - 12,320) / 12,320 = 0.80%
    assert model_error(12_320.5, 12_320, "en") == "spot on"
    assert model_error(5, 0, "en") == "n/a"
    with fmt.using("nl"):
        assert model_error(11_662, 12_320, "nl") == "5,3% te laag"
        assert model_error(12_419, 12_320, "nl") == "0,8% te hoog"


# ------------------------------------------------------------------ every template has its Dutch


def _templates():
    """Every literal template handed to a function that fills in fields, with where it is: the first
    argument of say(), and of caption/note/markdown (the second of show_table) when called with values."""
    import ast
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sources = [(str(p.relative_to(root)), p.read_text(encoding="utf-8")) for p in sorted((root / "src").rglob("*.py"))]
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        sources += [(f"{path.name} {c['id']}", "".join(c["source"])) for c in cells if c["cell_type"] == "code"]
    for where, text in sources:
        tree = ast.parse(text)
        # a bare say() is the catalogue's only where the module imports it from analysis.reporting.i18n
        says = any(isinstance(n, ast.ImportFrom) and n.module == "analysis.reporting.i18n" and any(a.name == "say" for a in n.names)
                   for n in ast.walk(tree)) or where.endswith("i18n.py")
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            if name == "say" and isinstance(node.func, ast.Name) and not says:
                continue
            values = [k for k in node.keywords if k.arg not in ("index", "lang")]
            position = {"say": 0, "_say_": 0, "caption": 0, "note": 0, "markdown": 0, "show_table": 1}.get(name)
            if position is None or (name != "say" and not values) or len(node.args) <= position:
                continue
            yield where, node.lineno, node.args[position]


@pytest.mark.parametrize("lang", ["nl"])
def test_every_template_is_a_literal_with_a_translation(lang):
    import ast
    import string

    from analysis.runs import history

    from analysis.scoring import holdout

    from analysis.reporting import i18n

    labels = i18n.CATALOGUES[lang].LABELS

    def fields(text):
        return sorted(f for _, f, _, _ in string.Formatter().parse(text) if f is not None)

    found, problems = 0, []
    for where, line, arg in _templates():
        if isinstance(arg, (ast.Name, ast.Subscript, ast.Attribute)):
            continue  # handed on: the literal is checked where it is written (or below, for template tables)
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            problems.append(f"{where}:{line}: the template is not a literal string (an f-string fills in English)")
            continue
        found += 1
        if arg.value not in labels:
            problems.append(f"{where}:{line}: no {lang} for {arg.value!r}")
        elif fields(labels[arg.value]) != fields(arg.value):
            problems.append(f"{where}:{line}: the {lang} has fields {fields(labels[arg.value])}, the English"
                            f" {fields(arg.value)}")
    for table, templates in (("holdout._RELIABILITY", holdout._RELIABILITY), ("history.TEXT", history.TEXT),
                             ("i18n._MODEL_ERROR", i18n._MODEL_ERROR)):
        for key, template in templates.items():
            if template not in labels or fields(labels[template]) != fields(template):
                problems.append(f"{table}[{key!r}]: no {lang} with the same fields for {template!r}")
    assert found >= 80 and not problems, "\n".join(problems)


def test_a_language_is_one_catalogue_module():
    """Everything a language needs is in its module: what fmt, narrative and roi use comes from there."""
    from analysis.reporting import fmt, i18n, lang_nl, narrative
    from analysis.business import roi

    assert i18n.CATALOGUES["nl"] is lang_nl and i18n.LANGUAGES == ("en", "nl")
    assert fmt.LOCALES["nl"] == lang_nl.LOCALE and fmt.DEFAULT_CURRENCY["nl"] == lang_nl.CURRENCY
    assert narrative.CATALOGUES["nl"] is lang_nl.CELLS
    assert roi.formula_text("nl").startswith("Zo worden de campagnecijfers berekend")
    assert "1%" in roi.formula_text("nl") and "{floor}" not in roi.formula_text("nl")


def test_say_fills_in_the_dutch_template():
    from analysis.reporting.i18n import say

    assert say("Revenue in {latest} / the {n} customers who bought in it.", "nl", latest="juni 1998", n="1.234") == (
        "Omzet in juni 1998 / de 1.234 klanten die toen kochten.")
    assert say("Revenue in {latest} / the {n} customers who bought in it.", "en", latest="June 1998", n="1,234") == (
        "Revenue in June 1998 / the 1,234 customers who bought in it.")


def test_why_a_model_failed_reads_in_dutch_with_dutch_numbers():
    """The fits write their reasons in English; on a Dutch page the model-failure notes show them through the
    catalogue's patterns. Real failures of the kit's own checks, not copies of their text."""
    import numpy as np

    from analysis.errors import ModelFitError
    from analysis.models import fitting
    from analysis.models.gamma_gamma import fit_gamma_gamma
    from analysis.scoring.modelstage import plain_failure

    def reason(call) -> str:
        with pytest.raises(ModelFitError) as info:
            call()
        return str(info.value)

    flat = lambda t: float((t[0] - 1.0) ** 2)  # noqa: E731 - no curvature in the second parameter
    failures = [
        reason(lambda: fitting._check_estimates("BG/NBD", {"r": 0.5, "alpha": 3.2e9}, 20.0, "W")),
        reason(lambda: fitting._check_estimates("BG/NBD", {"r": 0.5, "alpha": float("nan")}, 20.0, "W")),
        reason(lambda: fitting._covariance_and_ci("Pareto/NBD", ["r", "alpha"], np.array([1.0, 0.5]), flat, 0.95,
                                                  "W", False)),
        reason(lambda: fit_gamma_gamma(pd.DataFrame({"frequency": [1, 2, 3], "monetary_value": [10.0, 12.5, 9.0]},
                                                    index=pd.Index(["a", "b", "c"], name="customer_id")))),
    ]
    english = ("the ", "estimate", "optimizer", "is flat", "not finite", "customers with", "What to try")
    for message in failures:
        dutch = plain_failure(message, "nl")
        assert not any(word in dutch for word in english), (message, dutch)
        assert not re.search(r"\d\.\d", dutch), dutch  # 3,2e+09, not 3.2e+09
        assert plain_failure(message, "en") == plain_failure(message, "en").strip() and "What to try" not in \
            plain_failure(message, "en")
    assert "onwaarschijnlijk groot" in plain_failure(failures[0], "nl") and "3,2e+09" in plain_failure(failures[0], "nl")


def test_one_customer_at_risk_is_one_customer_in_the_findings():
    """The summary says "1 high-value customers are at risk" no more: one customer is written in the singular, in
    English and in Dutch (the Dutch web shop had one)."""
    one = pd.DataFrame({"clv": [153.0]})
    two = pd.DataFrame({"clv": [100.0, 53.0]})
    assert findings({}, {}, None, one, None, "€", 12, "en") == [
        "One high-value customer is at risk of being lost, worth €153: the list for a retention campaign has this one"
        " customer."]
    assert findings({}, {}, None, one, None, "€", 12, "nl")[0].startswith(
        "Eén klant met een hoge waarde dreigt te vertrekken, goed voor")
    assert findings({}, {}, None, two, None, "€", 12, "nl")[0].startswith(
        "2 klanten met een hoge waarde dreigen te vertrekken, samen goed voor")


def test_a_long_series_labels_whole_steps_of_the_calendar_and_a_short_one_every_period():
    """Six years of months ran into one black band of 72 labels on the data page and the summary: beyond 24 periods
    the axis labels every step-th period at whole steps of the calendar (here each July and January: 72 months, at
    most 12 labels), with a small tick for every period; 18 months keep a label each (CDNOW's pages unchanged)."""
    def axis(months: int, period: str = "M"):
        starts = pd.date_range("2005-01-01", periods=months, freq="MS" if period == "M" else "QS")
        series = pd.DataFrame({"period_start": starts, "active_customers": 5, "new_customers": 2, "revenue": 1.0,
                               "retention_rate": 0.5, "churn_rate": 0.5})
        fig = Figure()
        return [plot(series, period, ax=fig.add_subplot()) for plot in
                (plotting.plot_active_customers, plotting.plot_retention, plotting.plot_revenue)]

    for ax in axis(72):
        labels = [t.get_text() for t in ax.get_xticklabels()]
        ticks = set(ax.get_xticks()) | set(ax.get_xticks(minor=True))  # matplotlib drops minor ticks under major ones
        assert len(labels) <= 12 and ticks == set(range(72)), labels
        assert all(label.startswith(("Jan", "Jul")) for label in labels), labels
    assert [t.get_text() for t in axis(72)[0].get_xticklabels()][:2] == ["Jan 2005", "Jul 2005"]
    assert all(len(ax.get_xticklabels()) == 18 for ax in axis(18))
    quarters = axis(40, "Q")[0]
    assert len(quarters.get_xticklabels()) == 10 and len(quarters.get_xticks(minor=True)) == 30


@pytest.mark.parametrize("contacted, en, nl", [(1, "1 customer contacted.", "1 klant benaderd."),
                                                (1200, "1,200 customers contacted.", "1.200 klanten benaderd.")])
def test_the_best_campaigns_tile_counts_its_customers_in_words_that_agree(contacted, en, nl):
    """The summary's campaign tile says how many customers a scenario contacts: one customer, not 'customers'
    (the apparel data's best scenario contacts one), in English and in Dutch."""
    roi = pd.DataFrame({"scenario": ["protect"], "label": ["Protect high-value customers"], "net_gain": [-0.4],
                        "roi": [-0.16], "customers_targeted": [contacted]})
    texts = {}
    for lang in ("en", "nl"):
        with fmt.using(lang):
            (tile,) = value_tiles({}, None, None, roi, "EUR", 12, lang)
        texts[lang] = tile["definition"]
    assert texts["en"].endswith(en) and texts["nl"].endswith(nl), texts
