"""Periodic reporting: as-of runs, backfill, the reports index, ``latest``, incremental rebuilds,
and the comparison with the previous report (issue #6).

The slow tests drive the real ``make -j2 backfill`` on the CDNOW sample (2,357 customers,
50 CLV draws) into a temporary reports folder. Expected values are read independently from
the raw CSV and from the run folders' own JSON/Parquet files, not taken from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis.runs import steps
from analysis.runs import history, incremental

from analysis.runs import publish
from analysis.config import PeriodParams
from analysis.periods import period_ends
from conftest import ROOT, SAMPLE

TEST_KEY = "test-key-not-secret-0123456789"
DATES = ["1998-04-30", "1998-05-31", "1998-06-30"]
PAGES = ["01_data_and_kpis.html", "02_clv_models.html", "03_segments.html", "04_retention_roi.html",
         "05_campaigns.html"]


# ---------------------------------------------------------------- as-of dates (hand-computed)


@pytest.mark.parametrize("start, end, every, expected", [
    ("1998-01-01", "1998-06-30", "month", ["1998-01-31", "1998-02-28", "1998-03-31", "1998-04-30", "1998-05-31", "1998-06-30"]),
    ("1998-04-15", "1998-06-15", "month", ["1998-04-30", "1998-05-31"]),
    ("2024-01-31", "2024-03-31", "month", ["2024-01-31", "2024-02-29", "2024-03-31"]),  # leap year
    ("1997-01-01", "1998-06-30", "quarter", ["1997-03-31", "1997-06-30", "1997-09-30", "1997-12-31", "1998-03-31", "1998-06-30"]),
    ("1997-11-01", "1998-01-31", "month", ["1997-11-30", "1997-12-31", "1998-01-31"]),  # across a year end
    ("1998-06-01", "1998-06-30", "week", ["1998-06-01", "1998-06-08", "1998-06-15", "1998-06-22", "1998-06-29"]),
    ("1998-06-30", "1998-06-30", "week", ["1998-06-30"]),
])
def test_period_ends(start, end, every, expected):
    got = period_ends(dt.date.fromisoformat(start), dt.date.fromisoformat(end), every)
    assert [d.isoformat() for d in got] == expected


@pytest.mark.parametrize("args, message", [
    (["--from", "1998-06-30", "--to", "1998-01-01"], "before FROM"),
    (["--from", "30/06/1998", "--to", "1998-07-01"], "FROM must be a date written YYYY-MM-DD"),
    (["--from", "1998-01-01", "--to", "1998-02-01", "--every", "fortnight"], "EVERY must be one of"),
    (["--from", "1998-06-01", "--to", "1998-06-20", "--every", "month"], "no month end"),
])
def test_periods_cli_errors(args, message):
    result = subprocess.run([os.sys.executable, "-m", "analysis.periods", *args], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_as_of_keeps_the_holdout_length():
    fixed = PeriodParams(observation_end=dt.date(1998, 6, 30), calibration_end=dt.date(1997, 9, 30))
    # 273 days of holdout before 1998-06-30 -> the same 273 days before the as-of date
    assert steps.as_of_calibration_end(fixed, dt.date(1998, 4, 30)) == dt.date(1997, 7, 31)
    assert steps.as_of_calibration_end(PeriodParams(holdout_days=100), dt.date(1998, 4, 30)) is None


def _package(tmp_path, files: dict[str, str]):
    """A package ``analysis`` of the given files under tmp_path, with an empty ``__init__.py``."""
    src = tmp_path / "analysis"
    src.mkdir()
    (src / "__init__.py").write_text("")
    for name, text in files.items():
        (src / name).write_text(text)
    return src


def test_step_keys_follow_the_imports(tmp_path):
    src = _package(tmp_path, {"a.py": "from analysis import b\n", "b.py": "def f():\n    from analysis.c import g\n",
                              "c.py": "import os\n", "d.py": "x = 1\n"})
    names = [p.name for p in incremental.module_closure(["a"], src)]
    assert names == ["__init__.py", "a.py", "b.py", "c.py"]
    nb = tmp_path / "n.ipynb"
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "source": ["%matplotlib inline\n", "import analysis.d\n"]},
                                        {"cell_type": "markdown", "source": ["from analysis import a"]}]}))
    assert [p.name for p in incremental.notebook_code(nb, src)] == ["__init__.py", "d.py"]


def test_step_keys_follow_sub_packages_and_relative_imports(tmp_path):
    """After a move into sub-packages a change to model code must still change the notebook keys: the closure
    follows ``analysis.models.bgnbd``, ``from analysis.models import base`` and ``from .base import X``, and
    takes in the ``__init__`` of every package on the way."""
    src = tmp_path / "analysis"
    (src / "models").mkdir(parents=True)
    (src / "scoring").mkdir()
    (src / "__init__.py").write_text("")
    (src / "models" / "__init__.py").write_text("from .registry import REGISTRY\n")
    (src / "models" / "registry.py").write_text("from . import bgnbd\nREGISTRY = {}\n")
    (src / "models" / "bgnbd.py").write_text("from .base import Model\n")
    (src / "models" / "base.py").write_text("from ..scoring.clv import value\n")
    (src / "scoring" / "__init__.py").write_text("")
    (src / "scoring" / "clv.py").write_text("def value():\n    from analysis.models import REGISTRY\n")
    (src / "unused.py").write_text("")
    names = [p.relative_to(src).as_posix() for p in incremental.module_closure(["scoring.clv"], src)]
    assert names == ["__init__.py", "models/__init__.py", "models/base.py", "models/bgnbd.py",
                     "models/registry.py", "scoring/__init__.py", "scoring/clv.py"]
    nb = tmp_path / "n.ipynb"
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "source": ["from analysis.models import bgnbd\n"]}]}))
    assert "models/base.py" in [p.relative_to(src).as_posix() for p in incremental.notebook_code(nb, src)]


def _fresh_process_state(monkeypatch, cache):
    """As in a new process: nothing read from the cache file yet, nothing parsed in memory."""
    monkeypatch.setenv(incremental.CACHE_ENV, str(cache))
    monkeypatch.setattr(incremental, "_PARSED", None)
    monkeypatch.setattr(incremental, "_PARSED_NEW", set())
    incremental._import_statements.cache_clear()
    incremental._top_level_names.cache_clear()


def test_step_keys_use_the_cache_file_and_parse_a_changed_module_again(tmp_path, monkeypatch):
    """#13: parsing the modules for the step keys took 0.3 s before every run could read its data; what a run
    parsed is kept in a cache file by the hash of each module's text. The next run finds the same closure without
    parsing; a changed module is parsed again."""
    src = _package(tmp_path, {"a.py": "from analysis.b import f\nfrom analysis import c\n",
                              "b.py": "def f():\n    from analysis import c\n", "c.py": "import os\n", "d.py": "x = 1\n"})
    cache = tmp_path / "cache"
    _fresh_process_state(monkeypatch, cache)
    first = incremental.module_closure(["a"], src)
    assert [p.name for p in first] == ["__init__.py", "a.py", "b.py", "c.py"]
    assert incremental.parse_cache_file().is_file() and incremental.parse_cache_file().parent == cache

    _fresh_process_state(monkeypatch, cache)
    real_parse = incremental._parse

    def no_parsing(source):
        raise AssertionError("parsed although cached")

    monkeypatch.setattr(incremental, "_parse", no_parsing)
    assert incremental.module_closure(["a"], src) == first
    (src / "c.py").write_text("from analysis import d\n")  # changed: its imports must be read again
    with pytest.raises(AssertionError, match="parsed although cached"):
        incremental.module_closure(["a"], src)
    monkeypatch.setattr(incremental, "_parse", real_parse)
    assert [p.name for p in incremental.module_closure(["a"], src)] == ["__init__.py", "a.py", "b.py", "c.py", "d.py"]


def test_a_damaged_or_unwritable_cache_only_means_parsing(tmp_path, monkeypatch):
    src = _package(tmp_path, {"a.py": "from analysis import b\n", "b.py": ""})
    cache = tmp_path / "cache"
    cache.mkdir()
    _fresh_process_state(monkeypatch, cache)
    incremental.parse_cache_file().write_text("{not json")
    assert [p.name for p in incremental.module_closure(["a"], src)] == ["__init__.py", "a.py", "b.py"]
    assert json.loads(incremental.parse_cache_file().read_text())  # rewritten whole
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    _fresh_process_state(monkeypatch, blocked)
    assert [p.name for p in incremental.module_closure(["a"], src)] == ["__init__.py", "a.py", "b.py"]


@pytest.mark.parametrize("line", ["from analysis import modles\n", "import analysis.models.bgnbdd\n",
                                  "from analysis.scoring.clvv import value\n", "from .nothere import x\n"])
def test_an_import_the_step_keys_cannot_follow_stops_the_run(tmp_path, line):
    src = tmp_path / "analysis"
    (src / "models").mkdir(parents=True)
    (src / "__init__.py").write_text("")
    (src / "models" / "__init__.py").write_text("")
    (src / "models" / "bgnbd.py").write_text("")
    (src / "a.py").write_text("import os\n" + line)
    expected = "modles" if "modles" in line else line.split()[1].rsplit(".", 1)[-1]
    with pytest.raises(incremental.UnresolvedImport, match=rf"a.py, line 2: .*{expected}"):
        incremental.module_closure(["a"], src)


def test_the_kit_s_own_step_keys_resolve_and_cover_the_language_catalogue():
    """Every notebook's key covers the Dutch catalogue (its text is on the pages)."""
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        names = {p.name for p in incremental.notebook_code(notebook)}
        assert {"i18n.py", "lang_nl.py", "nb.py"} <= names, notebook.name


# ---------------------------------------------------------------- a real backfill


def _params(folder: Path) -> Path:
    raw = yaml.safe_load((ROOT / "params" / "cdnow_sample.yaml").read_text())
    raw["data"]["path"] = str(SAMPLE / "cdnow_sample.csv")
    raw["models"]["n_draws"] = 50
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "RETENTION_KIT_PSEUDONYM_KEY": TEST_KEY, "RETENTION_KIT_CHROMIUM": "none"}


def _make(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=_env())


def _backfill(params: Path, reports: Path, *extra: str) -> list[str]:
    return ["backfill", "FROM=1998-04-01", "TO=1998-06-30", "EVERY=month", f"PARAMS={params}", f"REPORTS={reports}", *extra]


@pytest.fixture(scope="module")
def backfill(tmp_path_factory):
    folder = tmp_path_factory.mktemp("periodic")
    params = _params(folder)
    reports = folder / "reports"
    t0 = time.time()
    result = _make("-j2", *_backfill(params, reports))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {"params": params, "reports": reports, "stdout": result.stdout, "seconds": time.time() - t0}


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _raw() -> pd.DataFrame:
    raw = pd.read_csv(SAMPLE / "cdnow_sample.csv", dtype={"customer_id": str, "date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw


@pytest.mark.slow
def test_backfill_makes_three_as_of_runs(backfill):
    reports = backfill["reports"]
    assert sorted(p.name for p in reports.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and not p.is_symlink()) == DATES
    raw = _raw()
    for date in DATES:
        run = reports / date
        assert (run / "index.html").is_file() and all((run / p).is_file() for p in PAGES)
        assert _json(run / "artifacts" / "run.json")["observation_end"] == date
        quality = _json(run / "artifacts" / "data_quality.json")
        later = int((raw["date"] > pd.Timestamp(date)).sum())  # independent count from the CSV
        assert quality["left_out"].get("after the observation end", 0) == later
        assert _json(run / "manifest.json")["as_of"] == date
    # the runs of -j2 compared with the right previous report
    assert _json(reports / DATES[0] / "manifest.json")["previous_run"] is None
    for before, date in zip(DATES, DATES[1:]):
        assert _json(reports / date / "manifest.json")["previous_run"]["folder"] == before


@pytest.mark.slow
def test_index_lists_every_run_and_latest_is_newest(backfill):
    reports = backfill["reports"]
    index = (reports / "index.html").read_text()
    for date in DATES:
        assert f'href="{date}/index.html"' in index
        customers = _json(reports / date / "artifacts" / "kpis.json")["customers"]
        assert f"{customers:,}" in index
    assert "<script" not in index and "data:image/png;base64," in index  # the trend chart, embedded
    assert (reports / "latest").is_symlink() and os.readlink(reports / "latest") == DATES[-1]
    assert (reports / "latest" / "index.html").is_file()


@pytest.mark.slow
def test_deltas_are_the_differences_of_the_kpis_files(backfill):
    reports = backfill["reports"]
    for before, date in zip(DATES, DATES[1:]):
        prev, cur = _json(reports / before / "artifacts" / "kpis.json"), _json(reports / date / "artifacts" / "kpis.json")
        since = _json(reports / date / "artifacts" / "since_last.json")
        rows = {row["kpi"]: row for row in since["kpis"]}
        for kpi in ["customers", "active_customers", "retention_rate", "churn_rate", "repeat_purchase_rate",
                    "revenue_per_buyer", "average_order_value"]:
            assert rows[kpi]["previous"] == prev[kpi] and rows[kpi]["current"] == cur[kpi]
            assert rows[kpi]["delta"] == pytest.approx(cur[kpi] - prev[kpi], abs=1e-12)
        value_prev = _json(reports / before / "artifacts" / "model.json")["clv"]["total"]
        value_cur = _json(reports / date / "artifacts" / "model.json")["clv"]["total"]
        assert rows["total_expected_value"]["delta"] == pytest.approx(value_cur - value_prev, rel=1e-12)


@pytest.mark.slow
def test_migration_rows_add_up_to_the_previous_segments(backfill):
    reports = backfill["reports"]
    for before, date in zip(DATES, DATES[1:]):
        prev = pd.read_parquet(reports / before / "artifacts" / "customers.parquet")
        cur = pd.read_parquet(reports / date / "artifacts" / "customers.parquet")
        both = prev.merge(cur, on="customer_id", suffixes=("_prev", "_cur"))
        expected = both["value_risk_segment_prev"].astype(str).value_counts()
        migration = pd.read_csv(reports / date / "artifacts" / "migration.csv")
        got = migration.groupby("from_segment")["customers"].sum()
        got = got[got > 0]
        assert got.sort_index().to_dict() == expected[expected > 0].sort_index().to_dict()
        # each cell, independently: customers who moved from one segment to another
        cells = both.groupby(["value_risk_segment_prev", "value_risk_segment_cur"], observed=True).size()
        for (src, dst), n in cells.items():
            row = migration[(migration["from_segment"] == src) & (migration["to_segment"] == dst)]
            assert int(row["customers"].sum()) == n


@pytest.mark.slow
def test_forecast_vs_actual_counts_the_period_just_ended(backfill):
    reports = backfill["reports"]
    raw = _raw()
    raw = raw[raw["amount"] > 0]  # params: returns dropped, zero amounts kept -> positive or zero
    for before, date in zip(DATES, DATES[1:]):
        since = _json(reports / date / "artifacts" / "since_last.json")
        prev_customers = pd.read_parquet(reports / before / "artifacts" / "customers.parquet")["customer_id"]
        window = raw[(raw["date"] > pd.Timestamp(before)) & (raw["date"] <= pd.Timestamp(date))]
        days = window[window["customer_id"].isin(prev_customers)][["customer_id", "date"]].drop_duplicates()
        assert since["forecast"]["actual"] == pytest.approx(len(days), abs=0.5 + 0.01 * len(days))


@pytest.mark.slow
def test_every_page_has_the_since_last_report_section(backfill):
    reports = backfill["reports"]
    first = (reports / DATES[0] / "index.html").read_text()
    assert "first report in the series" in first
    # page 05 (campaigns measured against their control group) has no since-last section: a campaign's result
    # is its own comparison
    with_section = [p for p in PAGES if p.removesuffix(".html") in history.STAGES]
    assert len(with_section) == len(PAGES) - 1
    for date in DATES[1:]:
        for page in ["index.html", *with_section]:
            text = (reports / date / page).read_text()
            assert 'class="kit-since"' in text and DATES[DATES.index(date) - 1] in text, (date, page)
            assert "<script" not in text


@pytest.mark.slow
def test_backfill_again_skips_up_to_date_runs(backfill):
    reports = backfill["reports"]
    before = {d: (reports / d / "manifest.json").stat().st_mtime_ns for d in DATES}
    result = _make(*_backfill(backfill["params"], reports))
    assert result.returncode == 0, result.stdout[-2000:]
    assert "papermill" not in result.stdout
    assert {d: (reports / d / "manifest.json").stat().st_mtime_ns for d in DATES} == before


@pytest.mark.slow
def test_unchanged_inputs_reuse_every_step(backfill, tmp_path):
    """A run of an up-to-date folder (forced past make) reuses every computing step: same artifacts."""
    reports = backfill["reports"]
    run = reports / DATES[1]
    old = _json(run / "manifest.json")
    result = subprocess.run([os.sys.executable, "-m", "analysis.pipeline", "run", "--params", str(backfill["params"]),
                             "--as-of", DATES[1], "--out", str(run)], cwd=ROOT, capture_output=True, text=True,
                            env=_env(), timeout=600)
    assert result.returncode == 0, result.stdout[-2000:]
    new = _json(run / "manifest.json")
    computing = [s for s in new["steps"] if "key" in s]
    assert [s["step"] for s in computing] == ["ingest", "01_data_and_kpis", "02_clv_models", "03_segments",
                                              "04_retention_roi", "05_campaigns"]
    assert all(s["reused"] for s in computing), [(s["step"], s["reused"]) for s in computing]
    assert new["artifacts"] == old["artifacts"]


@pytest.mark.slow
def test_a_changed_notebook_reruns_only_what_depends_on_it(backfill, tmp_path):
    """Notebook 03 gets a new text cell: 03 runs again; ingest, 01, 02 are reused; 04 and 05 are reused
    too, because 03 wrote the same artifacts as before."""
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    for nb in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        text = nb.read_text()
        if nb.name.startswith("03_"):
            data = json.loads(text)
            data["cells"].insert(1, {"cell_type": "markdown", "id": "extra", "metadata": {},
                                     "source": ["A sentence added by the test."]})
            text = json.dumps(data)
        (project / "notebooks" / nb.name).write_text(text)
    run = backfill["reports"] / DATES[2]
    before = _json(run / "manifest.json")
    code = ("import sys; from pathlib import Path; from analysis import pipeline; import datetime as dt; "
            f"pipeline.run(Path({str(backfill['params'])!r}), Path({str(run)!r}), Path({str(project)!r}), "
            f"as_of=dt.date.fromisoformat({DATES[2]!r}))")
    result = subprocess.run([os.sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=_env(),
                            timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    after = _json(run / "manifest.json")
    reused = {s["step"]: s["reused"] for s in after["steps"] if "key" in s}
    assert reused == {"ingest": True, "01_data_and_kpis": True, "02_clv_models": True, "03_segments": False,
                      "04_retention_roi": True, "05_campaigns": True}
    assert after["artifacts"] == before["artifacts"]
    assert "A sentence added by the test." in (run / "03_segments.html").read_text()


@pytest.mark.slow
def test_a_failed_run_in_the_middle_leaves_the_others_and_the_index(backfill):
    """Re-run the series after a configuration change and kill the middle run: the other two are
    rebuilt, the middle one keeps its last good report, the index still lists all three."""
    reports, params = backfill["reports"], backfill["params"]
    middle = reports / DATES[1]
    keep = {p.relative_to(middle).as_posix(): p.read_bytes() for p in middle.rglob("*") if p.is_file()}
    # a changed value every page reads (a comment alone no longer re-runs any step: keys follow the values)
    raw = yaml.safe_load(params.read_text())
    raw.setdefault("report", {})["title"] = "Changed by the test: every page is out of date"
    params.write_text(yaml.safe_dump(raw, sort_keys=False))
    log = params.parent / "backfill.log"
    with open(log, "w") as handle:
        proc = subprocess.Popen(["make", "--no-print-directory", "-k", *_backfill(params, reports)], cwd=ROOT,
                                stdout=handle, stderr=subprocess.STDOUT, text=True, env=_env(), start_new_session=True)
    lock = publish.lock_path(middle)
    deadline = time.monotonic() + 600
    pid = None
    while time.monotonic() < deadline and pid is None:
        text = lock.read_text().strip() if lock.exists() else ""
        if text and "03_segments: executing" in log.read_text():
            pid = int(text.split()[0])
        time.sleep(0.2)
    assert pid, log.read_text()[-2000:]
    os.kill(pid, signal.SIGTERM)
    proc.wait(timeout=900)
    output = log.read_text()
    assert proc.returncode != 0 and "Terminated" in output, output[-2000:]
    # the middle run kept its last good report, byte for byte
    assert {p.relative_to(middle).as_posix(): p.read_bytes() for p in middle.rglob("*") if p.is_file()} == keep
    # the others were rebuilt and published; the index lists all three; latest is the newest
    index = (reports / "index.html").read_text()
    for date in DATES:
        assert f'href="{date}/index.html"' in index
    assert os.readlink(reports / "latest") == DATES[-1]
    assert not any(p.name.startswith(".staging-") for p in reports.iterdir())
    assert any((reports / ".failed").iterdir())
