"""The run-folder catalogue (analysis.runs.runfolder) against real runs, and its names against the code.

Two real runs of the bundled configuration (CDNOW, every page, a measured campaign) make a series: one as of
1998-03-31 and one with all the data (to 1998-06-30), in folders named by their date, so the second is compared
with the first and writes the "since the last report" files too. The tests that need them are marked slow
(as in test_periodic.py); the tests of the catalogue's names run without a run.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from analysis.runs import runfolder
from conftest import ROOT

slow = pytest.mark.slow

TEST_KEY = "test-key-not-secret-0123456789"
FIRST, SECOND = "1998-03-31", "1998-06-30"
COMPARE_FILES = {"since_last.json", "migration.csv", "newly_at_risk.csv", "forecast_vs_actual.csv"}


def _pipeline(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "analysis.pipeline", "run", *args], cwd=ROOT, capture_output=True,
                            text=True, timeout=900,
                            env={**os.environ, "RETENTION_KIT_PSEUDONYM_KEY": TEST_KEY, "RETENTION_KIT_CHROMIUM": "none"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """``{"first": run folder, "second": run folder, "params": the configuration}``: the bundled configuration
    with absolute data paths and 50 draws, as of 1998-03-31 and then with all the data."""
    folder = tmp_path_factory.mktemp("runfolder")
    raw = yaml.safe_load((ROOT / "params" / "default.yaml").read_text())
    raw["data"]["path"] = str(ROOT / raw["data"]["path"])
    for campaign in raw["campaigns"]:
        campaign["path"] = str(ROOT / campaign["path"])
    raw["models"]["n_draws"] = 50
    params = folder / "params.yaml"
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    reports = folder / "reports"
    _pipeline("--params", str(params), "--as-of", FIRST, "--out", str(reports / FIRST))
    _pipeline("--params", str(params), "--out", str(reports / SECOND))
    return {"first": reports / FIRST, "second": reports / SECOND, "params": raw}


def _files(run: Path) -> list[str]:
    return sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if not p.is_dir())


# ---------------------------------------------------------------- real runs


@slow
def test_the_second_run_was_compared_with_the_first(series):
    """So the compare step's files are in the run the other tests check."""
    names = {p.name for p in (series["second"] / "artifacts").iterdir()}
    assert COMPARE_FILES <= names
    assert not COMPARE_FILES & {p.name for p in (series["first"] / "artifacts").iterdir()}


@slow
@pytest.mark.parametrize("which", ["first", "second"])
def test_check_run_finds_no_problem(series, which):
    assert runfolder.check_run(series[which]) == []


@slow
@pytest.mark.parametrize("which", ["first", "second"])
def test_every_file_of_the_run_is_catalogued(series, which):
    run = series[which]
    for rel in _files(run):
        entry = runfolder.lookup(rel)  # KeyError: not catalogued
        if rel.startswith("artifacts/"):
            assert entry in runfolder.ARTIFACTS and entry is runfolder.lookup(rel.removeprefix("artifacts/")), rel
        else:
            assert entry in runfolder.RUN_FILES, rel
    # one contact list per scenario, and nothing else matched the pattern
    targets = sorted(p.name for p in (run / "artifacts").glob("targets_*.csv"))
    assert targets == sorted(f"targets_{s['name']}.csv" for s in series["params"]["roi"]["scenarios"])
    # every file the catalogue says is always written is there
    for entry in runfolder.CATALOGUE:
        if entry.optional is None and not entry.is_pattern:
            rel = f"artifacts/{entry.name}" if entry in runfolder.ARTIFACTS else entry.name
            assert (run / rel).is_file(), rel


@slow
@pytest.mark.parametrize("which", ["first", "second"])
def test_each_table_has_the_catalogue_s_columns(series, which):
    """The bundled configuration writes every table with its usual columns (not a variant)."""
    run = series[which]
    tables = [p for p in (run / "artifacts").iterdir() if p.suffix in (".csv", ".parquet")]
    assert len(tables) >= 15
    for path in tables:
        entry = runfolder.lookup(path.name)
        assert entry.columns is not None, path.name
        assert runfolder.table_columns(path) == entry.columns, path.name


@slow
def test_the_check_finds_an_unknown_file_a_dropped_column_and_a_missing_file(series, tmp_path):
    run = tmp_path / SECOND
    shutil.copytree(series["second"], run, symlinks=True)
    artifacts = run / "artifacts"
    (artifacts / "notes.txt").write_text("an analyst's note\n")
    (run / "extra.html").write_text("<p>not the kit's</p>\n")
    with open(artifacts / "segments.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    drop = rows[0].index("avg_clv")
    with open(artifacts / "segments.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([r[:drop] + r[drop + 1:] for r in rows])
    (artifacts / "kpis.json").unlink()
    (artifacts / "tracking.csv").unlink()  # optional: not a problem

    problems = runfolder.check_run(run)
    assert len(problems) == 4, problems
    assert any(p.startswith("artifacts/notes.txt:") and "not in the run-folder catalogue" in p for p in problems)
    assert any(p.startswith("extra.html:") and "not in the run-folder catalogue" in p for p in problems)
    assert any(p.startswith("artifacts/segments.csv:") and "missing ['avg_clv']" in p for p in problems)
    assert any(p.startswith("artifacts/kpis.json:") and "missing" in p for p in problems)


@slow
def test_the_check_finds_a_column_in_another_order(series, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(series["first"], run, symlinks=True)
    path = run / "artifacts" / "migration.csv"  # not in the first run: copy the second's
    shutil.copyfile(series["second"] / "artifacts" / "migration.csv", path)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([[r[1], r[0], *r[2:]] for r in rows])
    assert runfolder.check_run(run) == [
        f"artifacts/migration.csv: columns differ from the catalogue (other order): found {[rows[0][1], rows[0][0], *rows[0][2:]]},"
        f" expected {list(runfolder.lookup('migration.csv').columns)}"]


# ---------------------------------------------------------------- the catalogue's names (no run)


def _step_names() -> set[str]:
    """The steps of a run as the code names them: the notebooks' stems and the other ``steps.run("name", ...)``
    of analysis.pipeline."""
    source = (ROOT / "src" / "analysis" / "pipeline.py").read_text(encoding="utf-8")
    others = set(re.findall(r"""steps\.run\(\s*["'](\w+)["']""", source))
    assert {"ingest", "compare", "html"} <= others
    return others | {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}


def _modules() -> set[str]:
    return {p.stem for p in (ROOT / "src" / "analysis").rglob("*.py") if p.stem != "__init__"}


def test_the_catalogue_knows_every_notebook_and_step():
    assert runfolder.NOTEBOOKS == tuple(sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    assert set(runfolder.STEPS) == _step_names()


def test_every_writer_is_a_step_and_every_reader_a_step_or_a_module():
    steps, modules = _step_names(), _modules()
    assert runfolder.PIPELINE in modules  # the pseudo-writer of the files written outside any step
    for entry in runfolder.CATALOGUE:
        assert entry.writer in steps or entry.writer == runfolder.PIPELINE, (entry.name, entry.writer)
        assert entry.writer not in entry.readers or entry.writer in ("ingest", runfolder.PIPELINE), entry.name
        for reader in entry.readers:
            assert reader in steps or reader in modules, (entry.name, reader)


def test_a_page_runs_after_every_page_whose_artifacts_it_reads():
    """Pages run side by side unless one reads the other's artifacts (analysis.reporting.pages.PAGES ``reads``):
    the catalogue's readers and the pages' ``reads`` must agree, or a page could read a file not yet written, and
    its step key would miss it. Both ways: a page lists no page it does not read."""
    from analysis.reporting.pages import PAGES, needs

    stems = list(runfolder.NOTEBOOKS)
    for page in PAGES:
        written_by = {e.writer for e in runfolder.ARTIFACTS if page.stem in e.readers and e.writer in stems}
        assert set(page.reads) == written_by, page.stem
        assert set(needs(page.stem, stems)) >= written_by
    assert needs("05_campaigns", stems) == ("02_clv_models",)
    assert needs("04_retention_roi", stems) == ("02_clv_models", "03_segments")
    assert needs("01_data_and_kpis", stems) == needs("02_clv_models", stems) == ()
    # an analyst's own notebook, which PAGES does not know, runs after every notebook before it
    assert needs("06_mine", [*stems, "06_mine"]) == tuple(stems)


def test_names_are_unique_and_lookup_resolves_them():
    names = [e.name for e in runfolder.CATALOGUE]
    assert len(names) == len(set(names))
    for entry in runfolder.ARTIFACTS:
        if not entry.is_pattern:
            assert runfolder.lookup(entry.name) is entry
            assert runfolder.lookup(f"artifacts/{entry.name}") is entry
    for entry in runfolder.RUN_FILES:
        assert runfolder.lookup(entry.name) is entry
        with pytest.raises(KeyError):
            runfolder.lookup(f"artifacts/{entry.name}")
    targets = runfolder.lookup("targets_email_best_5000.csv")
    assert targets.name == "targets_<scenario>.csv" and targets.is_pattern and targets.optional
    for unknown in ("targets_.csv", "targets_Big Spenders.csv", "new_transactions.parquet", "artifacts/x/roi.csv"):
        with pytest.raises(KeyError):
            runfolder.lookup(unknown)


def test_tables_have_columns_and_other_files_none():
    for entry in runfolder.CATALOGUE:
        table = entry.name.endswith((".csv", ".parquet"))
        assert (entry.columns is not None) == table, entry.name
        if entry.columns is not None:
            assert len(set(entry.columns)) == len(entry.columns), entry.name
            assert entry.columns not in entry.column_variants, entry.name
        else:
            assert entry.column_variants == (), entry.name


def test_a_folder_without_artifacts_is_not_a_run(tmp_path):
    assert runfolder.check_run(tmp_path) == [f"{tmp_path}: no artifacts/ folder, not a run folder"]


def test_every_json_reader_has_the_same_policy_for_a_missing_or_damaged_file(tmp_path):
    """The notebooks (nb.Run.read_json), the comparison (history), the summary page (report) and the reports
    index (series) read JSON artifacts through runfolder.read_json: a missing file an earlier step writes is
    an error naming that step; a missing optional one is {}; a damaged one is an error (the index lists the
    run anyway)."""
    import datetime as dt

    from analysis.runs import history, series

    from analysis.reporting import nb, report
    from analysis.errors import RunArtifactError

    run = tmp_path / "2024-01-31"
    (run / "artifacts").mkdir(parents=True)
    (run / "artifacts" / "run.json").write_text('{"observation_end": "2024-01-31"}')
    (run / "artifacts" / "kpis.json").write_text('{"customers": 3')  # cut off
    assert runfolder.read_json(run, "run.json") == {"observation_end": "2024-01-31"}
    with pytest.raises(RunArtifactError, match=r"model\.json is missing \(written by step 02_clv_models\)"):
        runfolder.read_json(run, "model.json")
    assert runfolder.read_json(run, "model.json", required=False) == {}
    with pytest.raises(RunArtifactError, match=r"kpis\.json is damaged \(written by step 01_data_and_kpis\)"):
        runfolder.read_json(run, "kpis.json", required=False)
    with pytest.raises(RunArtifactError, match="model.json is missing"):
        nb.Run(run).read_json("model.json")
    with pytest.raises(RunArtifactError, match="model.json is missing"):
        history._read_json(run, "model.json")
    assert report._read_json(run / "artifacts" / "model.json") == {}
    with pytest.raises(RunArtifactError, match="kpis.json is damaged"):
        report._read_json(run / "artifacts" / "kpis.json")
    info = series.RunInfo(date=dt.date(2024, 1, 31), dir=run, manifest={})
    assert info.artifact("kpis.json") == {} and info.artifact("run.json")["observation_end"] == "2024-01-31"
