"""Nothing the kit did not make is ever deleted; each configuration is a series of its own;
too little history is one clear line."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    (report / pipeline.RUN_MARKER).write_text("made by the kit\n")
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
        pipeline.check_output_folder(where(project), project["root"], [project["input"]])


def test_new_empty_and_kit_made_folders_are_accepted(project, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    for out in (project["report"], empty, tmp_path / "new" / "run"):
        pipeline.check_output_folder(out, project["root"], [project["input"]])


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
        pipeline.resolve_dates(params, "2023-08-31", "2023-01-02")
    message = str(err.value)
    # 2023-08-31 - 182 days = 2023-03-02: 59 days after 2023-01-02; first good date 2023-01-02 + 90 + 182 days
    assert "\n" not in message and "has 59 days" in message
    assert (dt.date(2023, 1, 2) + dt.timedelta(days=272)).isoformat() in message
    dates = pipeline.resolve_dates(params, "2023-10-01", "2023-01-02")
    assert dates["calibration_end"] == "2023-04-02"
