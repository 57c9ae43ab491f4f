"""A Dutch report writes every figure the Dutch way (analysis.reporting.fmt through the whole pipeline).

Expected strings are made here by hand from the run's own JSON artifacts (a point between thousands,
a comma before decimals, the euro sign with a space before the amount), not with the formatter.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, SAMPLE

pytestmark = pytest.mark.slow

#: English notation: a comma between thousands (23,570) or a point before one or two decimals (48.9%,
#: $492.17). Dutch decimals (48,9; 0,001: no English thousands start with a lone 0) and Dutch thousands
#: (23.570) do not match; nor do ISO dates.
ENGLISH_NUMBER = re.compile(r"(?<![\d,.])(?!0,)\d{1,3}(?:,\d{3})+(?![\d,])|\d\.\d{1,2}(?![\d.])")


def _visible_text(page: str) -> str:
    page = re.sub(r"(?s)<(style|script)[^>]*>.*?</\1>", " ", page)
    page = re.sub(r'src="data:[^"]*"', "", page)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _dutch(value: float, decimals: int = 0) -> str:
    """By hand: 23570 -> '23.570', 48.87 -> '48,9' (decimals=1)."""
    english = f"{value:,.{decimals}f}"
    return english.replace(",", "_").replace(".", ",").replace("_", ".")


#: The names a Dutch user gives in the configuration (the report shows them as written).
DUTCH_NAMES = {"protect_high_value": "Waardevolle klanten met risico beschermen",
               "email_best_5000": "E-mail aan de beste 5000 klanten",
               "voucher_best_1000": "Tegoedbon voor de beste 1000 klanten",
               "repeat_spring_reminder": "Voorjaarsherinnering opnieuw (gemeten effect)",
               "simulated_spring_1998": "Voorjaarsherinnering 1998 (gesimuleerd)"}


@pytest.fixture(scope="module")
def dutch_run(tmp_path_factory):
    """The bundled configuration (every page, a measured campaign, a scenario on its measured uplift) in Dutch,
    with Dutch names for the scenarios, the campaign and the report."""
    folder = tmp_path_factory.mktemp("nl")
    raw = yaml.safe_load((ROOT / "params" / "default.yaml").read_text())
    raw["data"]["path"] = str(ROOT / raw["data"]["path"])
    for item in raw["roi"]["scenarios"] + raw["campaigns"]:
        item["label"] = DUTCH_NAMES[item["name"]]
    for campaign in raw["campaigns"]:
        campaign["path"] = str(ROOT / campaign["path"])
    raw["models"]["n_draws"] = 50
    raw["report"].update(language="nl", currency="EUR", title="Klantbehoud en klantwaarde")
    params = folder / "params.yaml"
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    out = folder / "run"
    result = subprocess.run([sys.executable, "-m", "analysis.pipeline", "run", "--params", str(params), "--out",
                             str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900,
                            env={**__import__("os").environ, "RETENTION_KIT_CHROMIUM": "none"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def test_no_page_writes_a_number_the_english_way(dutch_run):
    pages = sorted(dutch_run.glob("*.html"))
    assert len(pages) == 6
    for page in pages:
        text = _visible_text(page.read_text(encoding="utf-8"))
        found = [text[max(0, m.start() - 30):m.end() + 10] for m in ENGLISH_NUMBER.finditer(text)]
        assert not found, (page.name, found[:10])


def test_summary_tiles_in_dutch_notation(dutch_run):
    kpis = json.loads((dutch_run / "artifacts" / "kpis.json").read_text())
    text = _visible_text((dutch_run / "index.html").read_text(encoding="utf-8"))
    assert _dutch(kpis["customers"]) in text
    assert _dutch(100 * kpis["repeat_purchase_rate"], 1) + "%" in text
    assert "€\u00a0" + _dutch(kpis["revenue_per_buyer"], 2) in text
    assert re.search(r"\b(jan|feb|mrt|apr|mei|jun|jul|aug|sep|okt|nov|dec)\b|juni 1998", text), text[:500]
    assert "model getoetst op 30 dec 1997" in text  # the holdout period under the title


def test_the_pages_own_text_is_dutch(dutch_run):
    """Headings and paragraphs (analysis.reporting.narrative), fixed captions and notes (analysis.reporting.i18n), the back link."""
    pages = {p.name: _visible_text(p.read_text(encoding="utf-8")) for p in dutch_run.glob("*.html")}
    assert "Datakwaliteit en kerncijfers voor klantbehoud" in pages["01_data_and_kpis.html"]
    assert "Zijn de voorspellingen betrouwbaar?" in pages["02_clv_models.html"]
    assert "Voor analisten: de statistiek achter de voorspellingen" in pages["02_clv_models.html"]
    assert "Waarde x risico: wat te doen met wie" in pages["03_segments.html"]
    assert "Verwachte netto opbrengst van elk scenario, met het rendement (ROI)." in pages["04_retention_roi.html"]
    for name, text in pages.items():
        if name != "index.html":
            assert "Terug naar de samenvatting" in text and "Back to the summary" not in text, name


#: Words that are English and not Dutch ("in", "is", "model", "interval", "data", "test" are both).
ENGLISH_WORDS = frozenset("""
the and to which from customers customer with that this are for their what who each than only they would will
bought buy buys within expected campaign campaigns month months day days revenue share purchase purchases buyers not
were have has more less after before between chance cannot rows read used file first amounts amount returns zero
policy value values average total cost costs gain margin spend since next year years weeks time unit intervals at
risk high low likely stay group groups treated control uplift your you our it its be by on no yes all any every there
these those when where how why because but if or period list bar bars line lines chart shows show shown cell cells
contacted reached measured difference mean standard deviation deviations percentile median
""".split())
#: Left as they are in a Dutch report: names of models and methods, literature, the kit's own names.
ALLOWED = ("Gamma-Gamma", "Krinsky–Robb", "Pareto/NBD", "BG/NBD", "MBG/NBD", "GGompertz/NBD", "Fleiss, Levin & Paik",
           "Fader, Hardie & Lee", "P(alive)")


def _prose(page: str) -> str:
    """The visible text without code, file names, configuration keys and the allowed names."""
    page = re.sub(r"(?s)<code>.*?</code>", " ", page)
    text = _visible_text(page)
    text = re.sub(r"\S+\.(csv|json|html|yaml|png)\b|\b\w+(\.\w+)+\b|\b\w+_\w+\b", " ", text)
    text = re.sub(r"\b[0-9a-f]{7,40}\b", " ", text)  # a commit hash ("...11be" would read as the word "be")
    for name in ALLOWED:
        text = text.replace(name, " ")
    return text


def _english_lines(run) -> dict[str, list[str]]:
    """Per page, the lines of prose that hold English words (with the words)."""
    found = {}
    for page in sorted(run.glob("*.html")):
        for line in _prose(page.read_text(encoding="utf-8")).splitlines():
            words = sorted({w for w in re.findall(r"[A-Za-z']+", line) if w.lower() in ENGLISH_WORDS})
            if words:
                found.setdefault(page.name, []).append(f"{words}: {' '.join(line.split())[:160]}")
    return found


def _report(found: dict[str, list[str]]) -> str:
    return "\n".join(f"{name}: {line}" for name, lines in found.items() for line in lines)


def test_the_dutch_report_has_no_english_words(dutch_run):
    """Every page of a Dutch report, with a measured campaign, is Dutch: not one English word outside the
    allowed names (a missing catalogue entry or an f-string that bypasses it shows up here)."""
    found = _english_lines(dutch_run)
    assert not found, _report(found)


@pytest.mark.parametrize("case", ["no repeat buyers", "every customer buys exactly weekly"])
def test_a_dutch_report_without_a_model_says_why_in_dutch(case, tmp_path):
    """When no purchase model can be fitted (an early as-of date, odd data), the model page explains why and
    what to try; a Dutch reader gets that advice, and the default title, in Dutch."""
    from test_own_data import _degenerate_logs

    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {"path": str(_degenerate_logs(tmp_path)[case])},
                                      "models": {"n_draws": 50}, "report": {"language": "nl"}}))
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "analysis.pipeline", "run", "--params", str(params), "--out",
                             str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**__import__("os").environ, "RETENTION_KIT_CHROMIUM": "none"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    model_page = _visible_text((out / "02_clv_models.html").read_text(encoding="utf-8"))
    assert "Op deze gegevens kon geen aankoopmodel worden geschat" in model_page
    assert {"no repeat buyers": "kocht een tweede keer",  # nobody bought twice: wait, or a later calibration end
            "every customer buys exactly weekly": "verschillen nauwelijks"}[case] in model_page  # all alike
    summary = (out / "index.html").read_text(encoding="utf-8")
    assert "Klantbehoud en klantwaarde" in summary
    assert "model getoetst op" not in summary  # no model, so no "model checked on <holdout period>" under the title
    found = _english_lines(out)
    assert not found, _report(found)
