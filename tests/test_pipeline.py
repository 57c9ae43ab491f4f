"""Smoke test: the whole `make report` on a small input, and the run folder contract."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from conftest import ROOT, SAMPLE

pytestmark = pytest.mark.slow


def _params(tmp_path: Path, data: Path, name: str = "params.yaml") -> Path:
    path = tmp_path / name
    path.write_text(
        f"""
data:
  path: {data}
  date_format: "%Y%m%d"
period:
  observation_end: 1998-06-30
  calibration_end: 1997-09-30
  time_unit: W
models:
  n_draws: 50
report:
  title: Smoke test
"""
    )
    return path


def _make_report(params: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", "report", f"PARAMS={params}", f"OUT={out}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """The shipped literature configuration (CDNOW sample, weeks, FHL 2005 dates), run end to end."""
    out = tmp_path_factory.mktemp("smoke") / "run"
    result = _make_report(ROOT / "params" / "cdnow_sample.yaml", out)
    assert result.returncode == 0, result.stdout + result.stderr
    (out.parent / "console.txt").write_text(result.stdout)
    return out


def test_page_02_lets_page_03_start_once_its_artifacts_are_written(run_dir):
    """#13: page 02 says on its log when its artifacts are written, before its charts; the pipeline shows it and
    page 03 may start then (tests/test_release.py, test_schedule.py)."""
    from analysis.runs.runfolder import ARTIFACTS_WRITTEN

    console = (run_dir.parent / "console.txt").read_text()
    assert f"02_clv_models: {ARTIFACTS_WRITTEN}" in console
    log = (run_dir / "logs" / "02_clv_models.log").read_text()
    assert log.count(ARTIFACTS_WRITTEN) == 1


def test_run_folder_contract(run_dir):
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert notebooks[0] == "01_data_and_kpis"
    assert (run_dir / "index.html").is_file()
    for stem in notebooks:
        assert (run_dir / f"{stem}.html").is_file(), stem
        assert (run_dir / "executed" / f"{stem}.ipynb").is_file(), stem
    index = (run_dir / "index.html").read_text()
    for stem in notebooks:
        assert f'href="{stem}.html"' in index

    customers = pd.read_parquet(run_dir / "artifacts" / "customers.parquet")
    assert customers["customer_id"].is_unique and len(customers) == 2357
    assert {"frequency", "recency", "T", "monetary_value"} <= set(customers.columns)
    assert customers["customer_id"].str.len().eq(5).all()  # "00004": leading zeros kept

    kpis = json.loads((run_dir / "artifacts" / "kpis.json").read_text())
    assert kpis["customers"] == 2357

    manifest = json.loads((run_dir / "manifest.json").read_text())
    data = SAMPLE / "cdnow_sample.csv"
    assert manifest["input"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert manifest["params"]["period"]["calibration_end"] == "1997-09-30"
    assert manifest["dates"] == {"observation_end": "1998-06-30", "calibration_end": "1997-09-30", "time_unit": "W"}
    assert {"pandas", "lifetimes", "duckdb", "papermill"} <= set(manifest["packages"])
    assert "commit" in manifest["git"]
    steps = [s["step"] for s in manifest["steps"]]
    assert steps[0] == "ingest" and steps[-1] == "html" and all(s["seconds"] >= 0 for s in manifest["steps"])
    assert all(s["started_at"] <= s["ended_at"] for s in manifest["steps"])


def test_executed_notebooks_have_no_stderr_warnings_or_errors(run_dir):
    for path in (run_dir / "executed").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                # a page may end early on purpose (analysis.reporting.nb.end_page: page 05 without a configured campaign)
                assert output.get("output_type") != "error" or output.get("ename") == "PageEnds", (path.name, output)
                assert not (output.get("output_type") == "stream" and output.get("name") == "stderr"), (
                    path.name, output.get("text"))
                text = json.dumps(output.get("data", {})) + output.get("text", "")
                assert "Warning" not in text, (path.name, text[:300])


def test_html_has_no_code_and_no_network(run_dir):
    for path in run_dir.glob("*.html"):
        html = path.read_text()
        assert "<script src=" not in html, path.name
        assert 'class="highlight' not in html and "params_path" not in html and "nb.start(" not in html, path.name
        assert "Traceback" not in html, path.name


def test_failed_run_keeps_the_last_good_report(run_dir, tmp_path):
    before = hashlib.sha256((run_dir / "index.html").read_bytes()).hexdigest()
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,cds,amount\n00001,19970101,1,abc\n")
    result = _make_report(_params(tmp_path, bad), run_dir)
    assert result.returncode != 0
    assert "column 'amount'" in result.stdout and "'abc'" in result.stdout
    assert "Traceback" not in result.stdout
    assert hashlib.sha256((run_dir / "index.html").read_bytes()).hexdigest() == before


def test_shipped_literature_configuration_reproduces_fader_hardie_lee(run_dir):
    """params/cdnow_sample.yaml gives the published values (FHL 2005; Batislam et al. 2007; FHL 2005b)."""
    model = json.loads((run_dir / "artifacts" / "model.json").read_text())
    assert model["time_unit"] == "W" and model["calibration_end"] == "1997-09-30"
    bg = model["models"]["bgnbd"]
    assert bg["params"] == pytest.approx({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, abs=5e-4)
    assert bg["loglik"] == pytest.approx(-9582.4, abs=0.05)
    pareto = model["models"]["pareto"]
    assert pareto["params"] == pytest.approx({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, abs=2e-3)
    assert pareto["loglik"] == pytest.approx(-9595.0, abs=0.05)
    mbg = model["models"]["mbgnbd"]
    assert mbg["params"] == pytest.approx({"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}, abs=5e-4)
    assert model["gamma_gamma"]["params"] == pytest.approx({"p": 6.25, "q": 3.74, "v": 15.44}, abs=0.011)
    assert model["holdout"]["actual"] == 1882
    for name in ("bgnbd", "pareto", "mbgnbd"):
        assert {"params", "loglik", "aic", "bic", "ci", "expected_holdout"} <= set(model["models"][name])
    assert model["selected_model"] == "bgnbd" and model["final"]["model"] == "bgnbd"
    assert model["clv"]["low"] <= model["clv"]["total"] <= model["clv"]["high"]


def test_customer_table_has_scores_and_segments(run_dir):
    customers = pd.read_parquet(run_dir / "artifacts" / "customers.parquet").set_index("customer_id")
    scores = ["p_alive", "expected_purchases", "expected_avg_value", "clv", "clv_low", "clv_high"]
    segments = ["rfm_r", "rfm_f", "rfm_m", "rfm_segment", "abc_class", "clv_tier", "value_risk_segment"]
    assert set(scores + segments) <= set(customers.columns)
    assert customers[scores].notna().all().all()
    assert ((customers["clv_low"] <= customers["clv"] + 1e-9) & (customers["clv"] <= customers["clv_high"] + 1e-9)).all()
    assert customers["p_alive"].between(0, 1).all()
    profiles = pd.read_csv(run_dir / "artifacts" / "segments.csv")
    for _, group in profiles.groupby("segmentation"):
        assert group["customers"].sum() == len(customers)
    at_risk = pd.read_csv(run_dir / "artifacts" / "at_risk_high_value.csv", dtype={"customer_id": str})
    assert list(at_risk.columns[:3]) == ["customer_id", "clv", "p_alive"]
    # exported with keyed pseudonyms by default (privacy.crm_export_real_ids: false), one per at-risk customer
    assert at_risk["customer_id"].str.fullmatch(r"c_[0-9a-f]{16}").all() and at_risk["customer_id"].is_unique
    assert len(at_risk) == (customers["value_risk_segment"] == "High value, at risk").sum()


def test_summary_page_tiles_match_the_artifacts(run_dir):
    from analysis.reporting.nb import fmt_int, fmt_money, fmt_pct

    html = (run_dir / "index.html").read_text()
    kpis = json.loads((run_dir / "artifacts" / "kpis.json").read_text())
    model = json.loads((run_dir / "artifacts" / "model.json").read_text())
    roi = pd.read_csv(run_dir / "artifacts" / "roi.csv")
    best = roi.loc[roi["net_gain"].idxmax()]
    at_risk = pd.read_csv(run_dir / "artifacts" / "at_risk_high_value.csv")
    expected = {
        "Customers": fmt_int(kpis["customers"]),
        "Active customers": fmt_int(kpis["active_customers"]),
        "Repeat purchase rate": fmt_pct(kpis["repeat_purchase_rate"]),
        "Churn rate": fmt_pct(kpis["churn_rate"]),
        "Total expected customer value": fmt_money(model["clv"]["total"]),
        "High value, at risk": fmt_int(len(at_risk)),
        "Best campaign: net gain": fmt_money(best["net_gain"]),
    }
    for label, value in expected.items():
        assert f'<div class="l">{label}</div><div class="v">{value}</div>' in html, (label, value)
    assert fmt_money(model["clv"]["low"]) in html and fmt_money(model["clv"]["high"]) in html
    assert f"ROI {fmt_pct(best['roi'], 0)}" in html
    for name in ("roi.csv", "at_risk_high_value.csv"):
        assert f'href="artifacts/{name}"' in html
    assert (run_dir / "artifacts" / f"targets_{best['scenario']}.csv").is_file()


def test_optional_inputs_and_dutch_labels(tmp_path):
    """Cost to serve and a survey file make the segment report say more; language nl translates labels."""
    ids = sorted(pd.read_csv(SAMPLE / "cdnow_sample.csv", dtype=str)["customer_id"].unique())[:40]
    survey = tmp_path / "survey.csv"
    rows = [f"{cid},1998-05-01,{i % 11},{1 + i % 5}" for i, cid in enumerate(ids)] + ["99999,1998-05-02,10,5"]
    survey.write_text("customer_id,date,nps,csat\n" + "\n".join(rows) + "\n")
    text = (ROOT / "params" / "cdnow_sample.yaml").read_text()
    text = text.replace("path: data/sample/cdnow_sample.csv", f"path: {SAMPLE / 'cdnow_sample.csv'}")
    text = text.replace("  language: en", "  language: nl").replace("  n_draws: 200", "  n_draws: 50")
    costs = "".join(f'    "{seg}": {cost}\n' for seg, cost in [
        ("High value, likely to stay", 12), ("High value, at risk", 8), ("Medium value, likely to stay", 6),
        ("Medium value, at risk", 4), ("Low value, likely to stay", 3), ("Low value, at risk", 1)])
    text = text.replace("  abc_b_share: 0.95\n", f"  abc_b_share: 0.95\n  cost_to_serve:\n{costs}  survey:\n    path: {survey}\n")
    params = tmp_path / "params.yaml"
    params.write_text(text)
    out = tmp_path / "run"
    result = _make_report(params, out)
    assert result.returncode == 0, result.stdout + result.stderr
    segments_html = (out / "03_segments.html").read_text()
    assert "Net Promoter Score" in segments_html and "Unknown customer" in segments_html
    assert "Kampioenen" in segments_html  # RFM segment names in Dutch
    profiles = pd.read_csv(out / "artifacts" / "segments.csv")
    assert {"serving_cost", "expected_profit"} <= set(profiles.columns)
    index = (out / "index.html").read_text()
    assert '<html lang="nl">' in index and '<div class="l">Klanten</div>' in index and "Bevindingen" in index


def test_a_survey_of_csat_only_gives_a_segments_page(tmp_path):
    """A valid survey configuration without an NPS column: the page shows the CSAT summary and no NPS groups
    (it used to stop the step with "Required column nps missing")."""
    ids = sorted(pd.read_csv(SAMPLE / "cdnow_sample.csv", dtype=str)["customer_id"].unique())[:40]
    survey = tmp_path / "survey.csv"
    survey.write_text("customer_id,date,csat\n" + "\n".join(f"{cid},1998-05-01,{1 + i % 5}" for i, cid in enumerate(ids))
                      + "\n")
    text = (ROOT / "params" / "cdnow_sample.yaml").read_text()
    text = text.replace("path: data/sample/cdnow_sample.csv", f"path: {SAMPLE / 'cdnow_sample.csv'}")
    text = text.replace("  n_draws: 200", "  n_draws: 20")
    text = text.replace("  abc_b_share: 0.95\n", f"  abc_b_share: 0.95\n  survey:\n    path: {survey}\n"
                                                  "    nps_column: null\n")
    params = tmp_path / "params.yaml"
    params.write_text(text)
    out = tmp_path / "run"
    result = _make_report(params, out)
    assert result.returncode == 0, result.stdout + result.stderr
    page = (out / "03_segments.html").read_text()
    assert "CSAT (% scoring 4-5)" in page and "Do promoters stay more often" not in page


def test_the_summary_charts_need_neither_the_models_nor_seaborn(run_dir):
    """The pipeline's own process draws the summary's four charts (#13): with matplotlib only, not the models
    (SciPy's statistics) and seaborn that the pages' charts import (0.85 s of its time at every run). The
    pictures are those of the published summary."""
    import subprocess
    import sys

    code = ("import sys, json, pathlib\n"
            "from analysis.config import load_params\n"
            "from analysis.reporting.report import key_charts\n"
            f"run = pathlib.Path({str(run_dir)!r})\n"
            "charts = key_charts(run / 'artifacts', load_params(run / 'params.yaml'))\n"
            "index = (run / 'index.html').read_text()\n"
            "print(len(charts), all(c['src'] in index for c in charts),"
            " sorted(m for m in ('scipy.stats', 'seaborn', 'analysis.models') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "4 True []", out.stdout + out.stderr


def test_summary_charts_drawn_while_the_pages_run_are_those_drawn_at_the_end(run_dir):
    """The pipeline draws the summary's charts while the pages run, each once the pages that write its artifacts
    have finished (#13): the summary shows the charts that drawing them all at the end gives, and a chart waits
    for every page it is drawn from."""
    from analysis.config import load_params
    from analysis.reporting.report import KeyChartsAhead, key_charts

    params = load_params(run_dir / "params.yaml")
    artifacts = run_dir / "artifacts"
    at_end = key_charts(artifacts, params)
    assert len(at_end) == 4
    index = (run_dir / "index.html").read_text()
    assert all(chart["src"] in index for chart in at_end)
    stems = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    ahead = KeyChartsAhead(artifacts, params, stems)
    ahead.page_done("02_clv_models")
    assert set(ahead.drawn) == {"tracking"}  # its files (tracking.csv, model.json) are both page 02's
    ahead.page_done("05_campaigns")
    ahead.page_done("01_data_and_kpis")
    ahead.page_done("03_segments")
    assert set(ahead.drawn) == {"tracking", "activity", "value_risk"}  # page 04 (roi.csv) has not finished
    assert ahead.result() == at_end
