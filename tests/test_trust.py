"""Can the reports be trusted: one writer per folder, no damage from killed runs, same input -> same bytes,
and no personal data in what goes to stakeholders.

The slow tests run the whole pipeline (``make report``) on the CDNOW sample with a small number of CLV
draws, with a test pseudonymisation key in the environment (so nothing is written to the home folder);
the fast ones exercise the locking, publishing and pseudonymisation helpers directly.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis import pipeline, privacy
from analysis.runs import publish
from analysis.errors import ConfigError
from conftest import ROOT, SAMPLE

TEST_KEY = "test-key-not-secret-0123456789"
PSEUDONYM = r"c_[0-9a-f]{16}"

ARTIFACTS = ["customers.parquet", "model.json", "kpis.json", "segments.csv", "at_risk_high_value.csv", "roi.csv",
             "kpi_series.csv", "tracking.csv", "data_quality.json", "run.json"]
PAGES = ["01_data_and_kpis.html", "02_clv_models.html", "03_segments.html", "04_retention_roi.html"]


# ---------------------------------------------------------------- helpers


def _small_params(folder: Path, data: Path | None = None, **privacy_section) -> Path:
    """params/cdnow_sample.yaml with an absolute data path and 50 CLV draws (same models, faster)."""
    raw = yaml.safe_load((ROOT / "params" / "cdnow_sample.yaml").read_text())
    raw["data"]["path"] = str(data or SAMPLE / "cdnow_sample.csv")
    raw["models"]["n_draws"] = 50
    if privacy_section:
        raw["privacy"] = privacy_section
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _env() -> dict[str, str]:
    return {**os.environ, privacy.ENV_VAR: TEST_KEY}


def _pseudo() -> privacy.Pseudonymiser:
    return privacy.Pseudonymiser(privacy.PseudonymKey(TEST_KEY.encode(), "test"))


def _visible_html(path: Path) -> str:
    """The HTML without the embedded images (base64 can contain any digits)."""
    return re.sub(r"data:image/[a-z]+;base64,[A-Za-z0-9+/=]+", "data:image", path.read_text(encoding="utf-8"))


def _command(params: Path, out: Path, *extra: str) -> list[str]:
    return ["make", "--no-print-directory", "report", f"PARAMS={params}", f"OUT={out}", *extra]


def _run(params: Path, out: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(_command(params, out), cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=_env())


def _start(params: Path, out: Path, log: Path, *extra: str) -> subprocess.Popen:
    """``make report`` in its own process group (so the test can signal the whole group)."""
    with open(log, "w") as handle:  # the child keeps its own copy of the file descriptor
        return subprocess.Popen(_command(params, out, *extra), cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True, env=_env())


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _hashes(run_dir: Path) -> dict[str, str]:
    """sha256 of every artifact and of the four notebook reports (index.html shows the run time, so not it)."""
    files = sorted(p for p in (run_dir / "artifacts").rglob("*") if p.is_file()) + [run_dir / p for p in PAGES]
    return {p.relative_to(run_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _lock_holder(out: Path) -> int | None:
    path = publish.lock_path(out)
    text = path.read_text().strip() if path.exists() else ""
    return int(text.split()[0]) if text else None


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _kernels_of(pid: int) -> list[int]:
    """Jupyter kernels started by process ``pid`` that are still running (JPY_PARENT_PID in their environment)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"JPY_PARENT_PID={pid}".encode() in environ:
            found.append(int(proc.name))
    return found


# ---------------------------------------------------------------- fast: the helpers


def test_second_writer_is_refused_while_the_lock_is_held(tmp_path):
    out = tmp_path / "report"
    with publish.FolderLock(out):
        result = subprocess.run([sys.executable, "-m", "analysis.pipeline", "run", "--params",
                                 str(_small_params(tmp_path)), "--out", str(out)],
                                cwd=ROOT, capture_output=True, text=True, timeout=120, env=_env())
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"another run is writing {out} (pid {os.getpid()}" in result.stdout
    assert "OUT=" in result.stdout and "Traceback" not in result.stdout + result.stderr
    assert not out.exists() and not list(tmp_path.glob(".staging-*")) and not (tmp_path / ".failed").exists()
    with publish.FolderLock(out):  # released: can be taken again
        pass


def test_lock_is_exclusive_within_and_across_processes(tmp_path):
    out = tmp_path / "report"
    with publish.FolderLock(out):
        with pytest.raises(pipeline.RunLocked, match=r"pid \d+"):
            publish.FolderLock(out).acquire()
    assert publish.lock_path(out).read_text() == ""  # released and emptied


def test_clean_stale_removes_dead_runs_and_restores_an_interrupted_swap(tmp_path):
    dead, alive = _dead_pid(), os.getpid()
    (tmp_path / f".staging-{dead}-1").mkdir()                      # killed mid-run
    (tmp_path / f".staging-{alive}-2").mkdir()                     # a run still going: keep
    (tmp_path / f".old-1998-06-30-{dead}").mkdir()                 # killed between the renames:
    (tmp_path / f".old-1998-06-30-{dead}" / "index.html").write_text("last good")  # ... put back
    (tmp_path / "kept").mkdir()
    (tmp_path / f".old-kept-{dead}").mkdir()                       # killed while deleting the old one
    done = publish.clean_stale(tmp_path)
    assert len(done) == 3, done
    assert (tmp_path / "1998-06-30" / "index.html").read_text() == "last good"
    left = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert left == [f".staging-{alive}-2", "1998-06-30", "kept"]


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "rename-aside"])
def test_replace_dir_publishes_the_new_folder_and_removes_the_old(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(publish, "_renameat2_exchange", lambda a, b: False)
    out, staging = tmp_path / "report", tmp_path / ".staging-1-1"
    out.mkdir()
    (out / "index.html").write_text("old")
    staging.mkdir()
    (staging / "index.html").write_text("new")
    publish.replace_dir(staging, out)
    assert (out / "index.html").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
    fresh = tmp_path / ".staging-1-2"
    fresh.mkdir()
    publish.replace_dir(fresh, tmp_path / "new-folder")
    assert (tmp_path / "new-folder").is_dir() and not fresh.exists()


KILL_BETWEEN_THE_RENAMES = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, {src!r})
from analysis.runs import publish
publish._renameat2_exchange = lambda a, b: False      # a file system without RENAME_EXCHANGE
real = os.replace
def replace_then_die(a, b):
    real(a, b)
    os.kill(os.getpid(), signal.SIGKILL)               # not a signal the run can hold back
os.replace = replace_then_die
publish.replace_dir(Path({staging!r}), Path({out!r}))
"""


def test_a_kill_between_the_two_renames_loses_no_report(tmp_path):
    """Without RENAME_EXCHANGE the swap is two renames; SIGKILL between them leaves the last good report
    aside as .old-<name>-<pid>, and the next run puts it back before it does anything else (#18)."""
    dead = _dead_pid()
    out, staging = tmp_path / "reports" / "1998-06-30", tmp_path / "reports" / f".staging-{dead}-1"
    out.mkdir(parents=True)
    (out / publish.RUN_MARKER).write_text("")
    (out / "index.html").write_text("last good")
    staging.mkdir()
    (staging / "index.html").write_text("new")
    script = KILL_BETWEEN_THE_RENAMES.format(src=str(ROOT / "src"), staging=str(staging), out=str(out))
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    aside = [p.name for p in out.parent.iterdir() if p.name.startswith(".old-")]
    assert not out.exists() and len(aside) == 1 and (out.parent / aside[0] / "index.html").read_text() == "last good"
    # the next run (here one that then stops on a missing input file) restores it first
    params = yaml.safe_load(_small_params(tmp_path).read_text())
    params["data"]["path"] = str(tmp_path / "missing.csv")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    again = subprocess.run([sys.executable, "-m", "analysis.pipeline", "run", "--params", str(tmp_path / "params.yaml"),
                            "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300, env=_env())
    assert again.returncode != 0 and "missing.csv" in again.stdout + again.stderr
    assert "restored 1998-06-30" in again.stdout + again.stderr
    assert (out / "index.html").read_text() == "last good"
    assert sorted(p.name for p in out.parent.iterdir() if p.is_dir() and p.name != ".failed") == ["1998-06-30"]


# ---------------------------------------------------------------- slow: whole runs


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """A good report: (params, run folder, sha256 of its artifacts and pages)."""
    folder = tmp_path_factory.mktemp("trust")
    params = _small_params(folder)
    out = folder / "report"
    result = _run(params, out)
    assert result.returncode == 0, result.stdout + result.stderr
    return params, out, _hashes(out)


@pytest.fixture(scope="module")
def concurrent(baseline, tmp_path_factory):
    """Run A into a new folder; while it runs, run B into the same folder. Returns (A's folder, A, B, B's seconds)."""
    params = baseline[0]
    folder = tmp_path_factory.mktemp("concurrent")
    out = folder / "report"
    first = _start(params, out, folder / "a.log")
    try:
        _wait_for(lambda: _lock_holder(out) is not None, 60, "the first run to take the lock")
        t0 = time.monotonic()
        second = _run(params, out, timeout=120)
        seconds = time.monotonic() - t0
        first_rc = first.wait(timeout=600)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    return out, (first_rc, (folder / "a.log").read_text()), second, seconds


@pytest.mark.slow
def test_two_runs_at_once_into_the_same_folder(concurrent):
    out, (first_rc, first_log), second, seconds = concurrent
    assert second.returncode != 0
    assert f"another run is writing {out} (pid " in second.stdout, second.stdout
    assert "Wait for it to finish, or choose another folder with OUT=" in second.stdout
    assert "Traceback" not in second.stdout + second.stderr
    assert seconds < 30, f"the refusal should be immediate, took {seconds:.1f} s"
    assert first_rc == 0, first_log  # the first run is not disturbed
    assert (out / "index.html").is_file()
    assert not list(out.parent.glob(".staging-*")) and not list(out.parent.glob(".old-*"))
    with publish.FolderLock(out):  # the lock is free again
        pass


@pytest.mark.slow
def test_same_input_and_configuration_give_identical_artifacts(baseline, concurrent):
    _, first_dir, first = baseline
    second_dir = concurrent[0]
    second = _hashes(second_dir)
    assert set(first) == set(second) and {f"artifacts/{name}" for name in ARTIFACTS} <= set(first)
    assert any(name.startswith("artifacts/targets_") for name in first)
    differ = sorted(name for name in first if first[name] != second[name])
    assert not differ, f"not byte-identical across runs: {differ}"

    manifest = json.loads((second_dir / "manifest.json").read_text())
    data = SAMPLE / "cdnow_sample.csv"
    assert manifest["input"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert manifest["params"]["models"]["seed"] == manifest["seed"] == 20050101
    assert manifest["params_sha256"] == hashlib.sha256(baseline[0].read_bytes()).hexdigest()
    assert (second_dir / "params.yaml").read_bytes() == baseline[0].read_bytes()
    assert {"pandas", "numpy", "lifetimes", "duckdb", "pyarrow"} <= set(manifest["packages"])
    assert manifest["environment"]["pandas"] == manifest["packages"]["pandas"]
    assert {"commit", "dirty"} <= set(manifest["git"]) and manifest["python"]["version"] and manifest["platform"]
    assert manifest["env"]["PYTHONHASHSEED"]
    assert manifest["artifacts"]["artifacts/model.json"] == second["artifacts/model.json"]
    assert "make report PARAMS=" in manifest["repeat"]


@pytest.mark.slow
def test_killing_a_run_mid_way_keeps_the_last_good_report(baseline, tmp_path):
    params, out, good = baseline
    for sig in (signal.SIGTERM, signal.SIGKILL):
        log = tmp_path / f"{sig.name}.log"
        proc = _start(params, out, log, "FRESH=1")  # execute every step, even though nothing changed
        try:
            _wait_for(lambda: "02_clv_models: executing" in log.read_text(), 120, "a notebook to run")
            pid = _lock_holder(out)
            time.sleep(1.0)
            os.killpg(proc.pid, sig)
            rc = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        assert rc != 0, log.read_text()
        assert _hashes(out) == good, f"{sig.name} changed the last good report"
        assert (out / "index.html").is_file()
        if sig == signal.SIGTERM:  # cleaned up by the run itself: the attempt is kept with its log
            assert "Terminated" in log.read_text()
            assert not list(out.parent.glob(".staging-*"))
            assert any((p / "logs" / "pipeline.log").is_file() for p in (out.parent / ".failed").iterdir())
        else:  # nothing could run: the half-built folder stays until the next run
            assert len(list(out.parent.glob(".staging-*"))) == 1
        _wait_for(lambda: not _kernels_of(pid), 30, f"the notebook kernel to exit after {sig.name}")

    result = _run(params, out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "removed the unfinished folder of an interrupted run" in result.stdout
    assert not list(out.parent.glob(".staging-*")) and not list(out.parent.glob(".old-*"))
    assert _hashes(out) == good  # and the rerun gives the same bytes


# ---------------------------------------------------------------- privacy


def test_pseudonym_is_a_truncated_hmac_sha256_of_the_id():
    key = privacy.PseudonymKey(b"0123456789abcdef-key", "test")
    # RFC 4231 test case 2 (HMAC-SHA256, key "Jefe"): the hash the pseudonyms are cut from
    jefe = privacy.PseudonymKey(b"Jefe", "rfc4231")
    assert privacy.pseudonym("what do ya want for nothing?", jefe) == "c_5bdcc146bf60754e"
    assert privacy.pseudonym("00042", key) == privacy.pseudonym("00042", key)  # stable
    assert privacy.pseudonym("00042", key) != privacy.pseudonym("00042", privacy.PseudonymKey(b"another-key-0123456", "t"))
    assert privacy.pseudonym("00042", key) != privacy.pseudonym("00043", key)
    assert pd.Series([privacy.pseudonym(i, key) for i in range(1000)]).str.fullmatch(PSEUDONYM).all()
    assert "0123456789abcdef" not in repr(key)  # the secret is never shown


def test_pseudonymiser_replaces_the_index_or_the_column():
    pseudo = _pseudo()
    by_index = pd.DataFrame({"clv": [1.0, 2.0]}, index=pd.Index(["00007", "A-1"], name="customer_id"))
    out = pseudo.frame(by_index)
    assert list(out.index) == [pseudo("00007"), pseudo("A-1")] and out.index.name == "customer_id"
    assert list(by_index.index) == ["00007", "A-1"]  # the input is not changed
    by_column = by_index.reset_index()
    assert pseudo.frame(by_column)["customer_id"].tolist() == list(out.index)
    with pytest.raises(ValueError, match="customer_id missing"):
        pseudo.frame(pd.DataFrame({"x": [1]}))


def test_key_comes_from_the_environment_then_the_key_file_then_a_created_default(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv(privacy.ENV_VAR, raising=False)
    project = tmp_path / "project"
    project.mkdir()
    key_file = tmp_path / "secret.key"
    key_file.write_text("file-key-0123456789abcdef\n")

    with pytest.raises(ConfigError, match="No pseudonymisation key"):
        privacy.load_key(None, create=False, project_dir=project)
    created = privacy.load_key(None, create=True, project_dir=project)
    default = tmp_path / "config" / "retention-kit" / "pseudonym.key"
    assert created.created and created.source == f"file {default}" and len(created.secret) == 64
    assert default.stat().st_mode & 0o777 == 0o600
    again = privacy.load_key(None, create=True, project_dir=project)
    assert again.secret == created.secret and not again.created  # stable between runs

    assert privacy.load_key(key_file, project_dir=project).secret == b"file-key-0123456789abcdef"
    monkeypatch.setenv(privacy.ENV_VAR, TEST_KEY)
    assert privacy.load_key(key_file, project_dir=project).secret == TEST_KEY.encode()
    monkeypatch.setenv(privacy.ENV_VAR, "short")
    with pytest.raises(ConfigError, match="shorter than 16"):
        privacy.load_key(None, project_dir=project)
    monkeypatch.delenv(privacy.ENV_VAR)
    inside = project / "pseudonym.key"
    inside.write_text("inside-the-repo-0123456789\n")
    with pytest.raises(ConfigError, match="outside the repository"):
        privacy.load_key(inside, project_dir=project)
    with pytest.raises(ConfigError, match="Cannot read"):
        privacy.load_key(tmp_path / "missing.key", project_dir=project)


MARKUP_ID = "<script>alert('x')</script>"


def test_customer_ids_with_markup_are_text_in_the_report_helpers(tmp_path, monkeypatch):
    """Valid but hostile data: an id with markup is escaped by every helper that writes HTML."""
    import IPython.display

    from analysis.reporting import nb, report
    from analysis.config import load_params

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, *a, **k: shown.append(obj.data))
    nb.show_table(pd.DataFrame({"customer_id": [MARKUP_ID], "clv": ["$1"]}), caption_text=MARKUP_ID, index=False)
    nb.note(MARKUP_ID)
    html = "".join(shown) + nb.tiles_html([{"label": MARKUP_ID, "value": MARKUP_ID, "definition": MARKUP_ID}])
    assert "<script" not in html and html.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;") >= 4

    params = yaml.safe_load(_small_params(tmp_path).read_text())
    params["report"]["title"] = MARKUP_ID
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    run_dir = tmp_path / "run"
    (run_dir / "artifacts").mkdir(parents=True)
    manifest = {"input": {"path": MARKUP_ID, "sha256": "0" * 64}, "params_file": MARKUP_ID, "git": {},
                "started_at": "", "finished_at": "", "duration_seconds": 0, "dates": {"observation_end": "1998-06-30"}}
    page = report.write_index(run_dir, load_params(tmp_path / "p.yaml"), [("01_x.html", MARKUP_ID)], manifest)
    text = page.read_text()
    assert "<script" not in text and "&lt;script&gt;" in text


@pytest.mark.slow
def test_stakeholder_outputs_carry_pseudonyms_not_customer_ids(baseline):
    out = baseline[1]
    pseudo = _pseudo()
    customers = pd.read_parquet(out / "artifacts" / "customers.parquet")
    assert customers["customer_id"].str.fullmatch(r"\d{5}").all()  # the analyst's table keeps the real ids
    real = set(customers["customer_id"])
    at_risk = pd.read_csv(out / "artifacts" / "at_risk_high_value.csv", dtype=str)
    assert len(at_risk) and at_risk["customer_id"].str.fullmatch(PSEUDONYM).all()
    high_risk = customers.loc[customers["value_risk_segment"] == "High value, at risk", "customer_id"]
    assert set(at_risk["customer_id"]) == set(pseudo.ids(high_risk))
    targets = list((out / "artifacts").glob("targets_*.csv"))
    assert targets
    for path in targets:
        ids = pd.read_csv(path, dtype=str)["customer_id"]
        assert ids.str.fullmatch(PSEUDONYM).all() and not set(ids) & real, path.name
    segments_page = _visible_html(out / "03_segments.html")
    assert pseudo(at_risk["customer_id"].iloc[0]) not in segments_page  # not double-hashed ...
    assert at_risk["customer_id"].iloc[0] in segments_page  # ... the preview shows the same pseudonyms
    for page in out.glob("*.html"):
        visible = _visible_html(page)
        leaked = [c for c in high_risk if c in visible]
        assert not leaked, (page.name, leaked[:5])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["privacy"]["key_source"] == f"environment variable {privacy.ENV_VAR}"
    assert manifest["privacy"]["crm_export_real_ids"] is False
    assert TEST_KEY not in (out / "manifest.json").read_text()
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".json", ".csv", ".ipynb", ".log", ".yaml"}:
            assert TEST_KEY not in path.read_text(encoding="utf-8", errors="replace"), path


@pytest.mark.slow
def test_customer_id_with_markup_through_the_whole_pipeline(tmp_path):
    """An id holding a <script> tag: real id in the analyst's table and (when configured) the CRM export,
    a pseudonym everywhere else, and never markup in any HTML page."""
    data = pd.read_csv(SAMPLE / "cdnow_sample.csv", dtype=str)
    data.loc[data["customer_id"] == "11341", "customer_id"] = MARKUP_ID  # a high-value customer at risk
    path = tmp_path / "hostile.csv"
    data.to_csv(path, index=False)
    params = _small_params(tmp_path, data=path, crm_export_real_ids=True)
    out = tmp_path / "run"
    result = _run(params, out)
    assert result.returncode == 0, result.stdout + result.stderr
    pseudo = _pseudo()

    customers = pd.read_parquet(out / "artifacts" / "customers.parquet")
    assert MARKUP_ID in set(customers["customer_id"])
    at_risk = pd.read_csv(out / "artifacts" / "at_risk_high_value.csv", dtype=str)
    assert MARKUP_ID in set(at_risk["customer_id"])  # crm_export_real_ids: true
    for target in (out / "artifacts").glob("targets_*.csv"):
        assert MARKUP_ID not in target.read_text(), target.name
    for page in out.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "<script" not in text.lower() and "alert(" not in text, page.name
    assert pseudo(MARKUP_ID) in (out / "03_segments.html").read_text()
    assert json.loads((out / "manifest.json").read_text())["privacy"]["crm_export_real_ids"] is True
