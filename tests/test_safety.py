"""Nothing the kit did not make is ever deleted; each configuration is a series of its own;
too little history is one clear line."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from analysis.runs import publish, steps
from analysis import pipeline
from analysis.config import PeriodParams, RunParams
from conftest import ROOT

TEST_KEY = "safety-test-key-0123456789abcdef"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path):
    """A project folder with an input file in data/, a user's documents and an earlier report."""
    root = tmp_path / "project"
    (root / "params").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "data" / "tx.csv").write_text("customer_id,date,amount\nA,2020-01-01,1\n")
    docs = tmp_path / "Documents"
    docs.mkdir()
    (docs / "letter.docx").write_bytes(b"PK\x03\x04 not ours")
    report = root / "reports" / "2020-01-31"
    report.mkdir(parents=True)
    (report / publish.RUN_MARKER).write_text("made by the kit\n")
    (report / "index.html").write_text("<html></html>")
    return {"root": root, "docs": docs, "report": report, "input": root / "data" / "tx.csv"}


@pytest.mark.parametrize("where, fragment", [
    (lambda p: p["root"], "is the project folder"),
    (lambda p: p["root"].parent, "contains the project folder"),
    (lambda p: p["root"] / "data", "is the folder of the input file"),
    (lambda p: p["docs"], "was not made by the kit"),
    (lambda p: p["root"] / "reports", "was not made by the kit"),
    (lambda p: p["docs"] / "letter.docx", "is an existing file"),
])
def test_output_folders_the_kit_did_not_make_are_refused(project, where, fragment, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(pipeline.UnsafeOutput, match=fragment):
        publish.check_output_folder(where(project), project["root"], [project["input"]])


def test_new_empty_and_kit_made_folders_are_accepted(project, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    for out in (project["report"], empty, tmp_path / "new" / "run"):
        publish.check_output_folder(out, project["root"], [project["input"]])


def test_a_run_into_a_users_folder_stops_before_touching_anything(project, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(f"data:\n  path: {ROOT / 'data' / 'sample' / 'cdnow_sample.csv'}\n  date_format: '%Y%m%d'\n")
    before = _files(tmp_path)
    for out in (project["docs"], project["docs"] / "letter.docx", ROOT, ROOT / "data" / "sample"):
        result = subprocess.run([sys.executable, "-m", "analysis.pipeline", "run", "--params", str(params),
                                 "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                                env={**os.environ, "RETENTION_KIT_PSEUDONYM_KEY": TEST_KEY})
        assert result.returncode == 2, result.stdout
        errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR:")]
        assert len(errors) == 1 and str(out) in errors[0] and "Traceback" not in result.stdout + result.stderr
    assert _files(tmp_path) == before
    assert (ROOT / ".git").is_dir() and (ROOT / "data" / "sample" / "cdnow_sample.csv").is_file()
    assert not list((project["docs"].parent).glob(".staging-*"))


def test_each_configuration_is_a_series_of_its_own(tmp_path):
    (tmp_path / "params").mkdir()
    default = tmp_path / "params" / "default.yaml"
    default.write_text("data: {path: x.csv}\n")
    assert pipeline.series_root(default, tmp_path) == tmp_path / "reports"
    assert pipeline.series_root(tmp_path / "params" / "mine.yaml", tmp_path) == tmp_path / "reports" / "mine"
    assert pipeline.series_root(tmp_path / "elsewhere" / "shop.yaml", tmp_path) == tmp_path / "reports" / "shop"


def test_the_makefile_gives_other_configurations_their_own_reports_folder():
    def reports_of(*args: str) -> str:
        return subprocess.run(["make", "--no-print-directory", "--eval", "print-reports: ; @echo $(REPORTS)",
                               "print-reports", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    assert reports_of() == "reports"
    assert reports_of("PARAMS=params/cdnow_sample.yaml") == "reports/cdnow_sample"
    assert reports_of("PARAMS=/somewhere/else/shop.yaml") == "reports/shop"


def test_too_little_history_is_one_line_with_the_first_good_date():
    params = RunParams.model_validate({"data": {"path": "x.csv"}})
    assert isinstance(params.period, PeriodParams)
    with pytest.raises(pipeline.NotEnoughHistory) as err:
        steps.resolve_dates(params, "2023-08-31", "2023-01-02")
    message = str(err.value)
    # 2023-08-31 - 182 days = 2023-03-02: 59 days after 2023-01-02; first good date 2023-01-02 + 90 + 182 days
    assert "\n" not in message and "has 59 days" in message
    assert (dt.date(2023, 1, 2) + dt.timedelta(days=272)).isoformat() in message
    dates = steps.resolve_dates(params, "2023-10-01", "2023-01-02")
    assert dates["calibration_end"] == "2023-04-02"


# ---------------------------------------------------------------- up to date means: every step key matches


@pytest.mark.slow
def test_up_to_date_is_decided_by_content_not_by_file_times(tmp_path, monkeypatch):
    import json
    import shutil

    monkeypatch.setenv("RETENTION_KIT_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.setenv("RETENTION_KIT_CHROMIUM", "none")
    project = tmp_path / "project"
    shutil.copytree(ROOT / "notebooks", project / "notebooks")
    data = tmp_path / "cdnow_sample.csv"
    shutil.copyfile(ROOT / "data" / "sample" / "cdnow_sample.csv", data)
    params = tmp_path / "params.yaml"
    params.write_text(f"data:\n  path: {data}\n  date_format: '%Y%m%d'\nperiod:\n  time_unit: W\n"
                      "models:\n  n_draws: 20\n")
    out = tmp_path / "reports" / "1998-06-30"
    as_of = dt.date(1998, 6, 30)

    def run() -> dict:
        pipeline.run(params, out, project, as_of=as_of, if_changed=True)
        manifest = json.loads((out / "manifest.json").read_text())
        return {"finished": manifest["finished_at"] + str((out / "manifest.json").stat().st_mtime_ns),
                "executed": [s["step"] for s in manifest["steps"] if "key" in s and not s["reused"]]}

    first = run()
    assert first["executed"][0] == "ingest"
    again = run()
    assert again["finished"] == first["finished"]  # up to date: not touched at all

    nb03 = project / "notebooks" / "03_segments.ipynb"
    original = nb03.read_text()
    edited = json.loads(original)
    edited["cells"].insert(1, {"cell_type": "markdown", "id": "experiment", "metadata": {},
                               "source": ["An experiment, reverted later."]})
    nb03.write_text(json.dumps(edited))
    assert run()["executed"] == ["03_segments"]
    assert "An experiment, reverted later." in (out / "03_segments.html").read_text()
    nb03.write_text(original)  # reverted: an older notebook again; file times would call the run up to date
    os.utime(nb03, (0, 0))
    assert run()["executed"] == ["03_segments"]
    assert "An experiment, reverted later." not in (out / "03_segments.html").read_text()

    # a newer export copied over the input with an older file time (cp -p, rsync -t, a download)
    text = data.read_text().splitlines()
    data.write_text("\n".join(text[:-5]) + "\n")
    os.utime(data, (0, 0))
    assert run()["executed"][0] == "ingest"


@pytest.mark.parametrize("make_problem, fragment", [
    (lambda out: (out.parent / f".{out.name}.lock").mkdir(parents=True), "it is a folder where the kit needs a file"),
    (lambda out: out.parent.write_text("a file"),
     "a part of that path is a file where the kit needs a folder"),
])
def test_machine_problems_get_one_line_that_names_the_path(tmp_path, make_problem, fragment):
    out = tmp_path / "reports" / "run"
    make_problem(out)
    params = tmp_path / "params.yaml"
    params.write_text(f"data:\n  path: {ROOT / 'data' / 'sample' / 'cdnow_sample.csv'}\n  date_format: '%Y%m%d'\n")
    result = subprocess.run([sys.executable, "-m", "analysis.pipeline", "run", "--params", str(params), "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "RETENTION_KIT_PSEUDONYM_KEY": TEST_KEY})
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and fragment in errors[0] and "unexpected" not in errors[0], result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_only_the_last_failed_runs_are_kept(tmp_path):
    failed = tmp_path / ".failed"
    failed.mkdir()
    for i in range(8):
        folder = failed / f".staging-{1000 + i}-{1700000000 + i}"
        folder.mkdir()
        os.utime(folder, (1700000000 + i, 1700000000 + i))
    (failed / "notes.txt").write_text("not ours")
    assert publish.prune_failed(failed) == publish.KEEP_FAILED
    left = sorted(p.name for p in failed.iterdir())
    assert left == sorted(["notes.txt"] + [f".staging-{1000 + i}-{1700000000 + i}" for i in range(3, 8)])


def test_run_folders_with_a_foreign_manifest_are_skipped_with_a_note(tmp_path):
    from analysis.runs import series

    for name, manifest in (("2024-01-31", "[1, 2, 3]"), ("2024-02-29", '{"input": "data.csv"}')):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text(manifest)
        (tmp_path / name / "index.html").write_text("<html></html>")
    assert series.complete_runs(tmp_path) == []
    notes = series.publish_index(tmp_path)
    assert any("2024-01-31 is left out" in n for n in notes) and any("2024-02-29 is left out" in n for n in notes)


@pytest.mark.slow
def test_a_notebook_run_by_hand_never_writes_into_a_published_report(tmp_path, monkeypatch):
    import papermill as pm

    monkeypatch.setenv("RETENTION_KIT_PSEUDONYM_KEY", TEST_KEY)
    monkeypatch.setenv("RETENTION_KIT_CHROMIUM", "none")
    params = tmp_path / "params.yaml"
    params.write_text(f"data:\n  path: {ROOT / 'data' / 'sample' / 'cdnow_sample.csv'}\n  date_format: '%Y%m%d'\n"
                      "models:\n  n_draws: 20\n")
    # the notebooks' default run folder does not exist yet: the first notebook makes one with the pipeline
    dev = tmp_path / "reports" / "dev"
    pm.execute_notebook(str(ROOT / "notebooks" / "01_data_and_kpis.ipynb"), str(tmp_path / "01.ipynb"),
                        parameters={"params_path": str(params), "run_dir": str(dev)}, cwd=str(ROOT / "notebooks"),
                        kernel_name="python3", progress_bar=False)
    assert (dev / "manifest.json").is_file() and (tmp_path / "reports" / ".dev" / "dev" / "artifacts").is_dir()
    published = _files(dev)
    # pointed at a published run, notebook 02 works on a copy: the run stays byte for byte as it was
    pm.execute_notebook(str(ROOT / "notebooks" / "02_clv_models.ipynb"), str(tmp_path / "02.ipynb"),
                        parameters={"params_path": str(params), "run_dir": str(dev)}, cwd=str(ROOT / "notebooks"),
                        kernel_name="python3", progress_bar=False)
    assert _files(dev) == published
    assert (tmp_path / "reports" / ".dev" / "dev" / "artifacts" / "model.json").is_file()


# ---------------------------------------------------------------- CSV files for people: no formulas


def test_spreadsheet_safe_neutralises_formula_cells_only():
    import pandas as pd

    from analysis.privacy import spreadsheet_safe

    frame = pd.DataFrame({"clv": [1.5, -2.0, 3.0], "note": ["=1+1", "fine", "\tx"]},
                         index=pd.Index(["-2+3+cmd", "@SUM(A1)", "007"], name="customer_id"))
    safe = spreadsheet_safe(frame)
    assert safe.index.tolist() == ["'-2+3+cmd", "'@SUM(A1)", "007"] and safe.index.name == "customer_id"
    assert safe["note"].tolist() == ["'=1+1", "fine", "'\tx"]
    assert safe["clv"].tolist() == [1.5, -2.0, 3.0]  # numbers stay numbers
    assert frame.index.tolist() == ["-2+3+cmd", "@SUM(A1)", "007"]  # the input is not changed


@pytest.mark.slow
def test_crm_exports_with_real_ids_cannot_run_formulas(tmp_path, monkeypatch):
    import csv

    import pandas as pd

    monkeypatch.setenv("RETENTION_KIT_PSEUDONYM_KEY", TEST_KEY)
    raw = pd.read_csv(ROOT / "data" / "sample" / "cdnow_sample.csv", dtype=str)
    evil = {"=1+1", "+cmd|' /C calc'!A0", "-2+3+cmd", "@SUM(1+1)*cmd"}
    top = raw["customer_id"].value_counts().index[:4]  # frequent buyers, likely in the exports
    raw["customer_id"] = raw["customer_id"].replace(dict(zip(top, sorted(evil))))
    data = tmp_path / "evil.csv"
    raw.to_csv(data, index=False)
    params = tmp_path / "params.yaml"
    params.write_text(f"data:\n  path: {data}\n  date_format: '%Y%m%d'\nmodels:\n  n_draws: 20\n"
                      "privacy:\n  crm_export_real_ids: true\n"
                      "segments:\n  p_alive_at_risk_below: 0.99\n")  # nearly everyone at risk: the ids are exported
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "analysis.pipeline", "run", "--params", str(params), "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "RETENTION_KIT_CHROMIUM": "none"})
    assert result.returncode == 0, result.stdout[-3000:]
    exported = out / "artifacts" / "at_risk_high_value.csv"
    with open(exported, newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert any(cell.lstrip("'") in evil for cell in cells), "the test ids should be in the CRM export"
    for path in (out / "artifacts").glob("*.csv"):
        with open(path, newline="") as handle:
            for row in csv.reader(handle):
                assert not any(cell[:1] in ("=", "+", "@", "\t", "\r") or
                               (cell[:1] == "-" and not _is_number(cell)) for cell in row), (path.name, row)
    ids = set(pd.read_parquet(out / "artifacts" / "customers.parquet")["customer_id"])
    assert evil <= ids  # the analyst's files keep the real ids as they are


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


@pytest.mark.slow
def test_make_report_with_a_space_in_out(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(f"data:\n  path: {ROOT / 'data' / 'sample' / 'cdnow_sample.csv'}\n  date_format: '%Y%m%d'\n"
                      "models:\n  n_draws: 20\n")
    out = tmp_path / "my reports" / "june run"
    result = subprocess.run(["make", "--no-print-directory", "report", f"PARAMS={params}", f"OUT={out}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "RETENTION_KIT_PSEUDONYM_KEY": TEST_KEY, "RETENTION_KIT_CHROMIUM": "none"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert (out / "index.html").is_file() and (out / "manifest.json").is_file()
