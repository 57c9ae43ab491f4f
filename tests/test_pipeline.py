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
    tmp = tmp_path_factory.mktemp("smoke")
    out = tmp / "run"
    result = _make_report(_params(tmp, SAMPLE / "cdnow_sample.csv"), out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


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
    assert {"pandas", "lifetimes", "duckdb", "papermill"} <= set(manifest["packages"])
    assert "commit" in manifest["git"]
    steps = [s["step"] for s in manifest["steps"]]
    assert steps[0] == "ingest" and steps[-1] == "html" and all(s["seconds"] >= 0 for s in manifest["steps"])


def test_executed_notebooks_have_no_stderr_warnings_or_errors(run_dir):
    for path in (run_dir / "executed").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                assert output.get("output_type") != "error", (path.name, output)
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
