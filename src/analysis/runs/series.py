"""A series of periodic runs in one reports folder: ``reports/YYYY-MM-DD/``.

* :func:`complete_runs` lists the published runs (folders named by their as-of date
  with a ``manifest.json`` and an ``index.html``);
* :func:`previous_run` finds the one a new run is compared with;
* :func:`wait_for_earlier` lets a run of ``make -j2 backfill`` wait for an earlier
  date still being computed, so it compares with the right report;
* :func:`publish_index` writes ``reports/index.html`` (every run, its key figures and
  the trend chart) and points ``reports/latest`` at the newest run. Both are replaced
  atomically, and only after a successful run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

DATE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")
INDEX_LOCK = ".index.lock"
LATEST = "latest"


def folder_date(path: Path) -> dt.date | None:
    """The as-of date a run folder is named after, or None."""
    if not DATE_NAME.match(path.name):
        return None
    try:
        return dt.date.fromisoformat(path.name)
    except ValueError:
        return None


@dataclass
class RunInfo:
    """A published run of the series."""

    date: dt.date
    dir: Path
    manifest: dict = field(repr=False)

    @property
    def data_path(self) -> str | None:
        return (self.manifest.get("input") or {}).get("path")

    def artifact(self, name: str) -> dict:
        """A JSON artifact of this run (:func:`analysis.runs.runfolder.read_json`), {} when it is missing or damaged:
        the reports index still lists a run whose files an older kit wrote or someone damaged (the run's own
        page says what it has)."""
        from analysis.runs import runfolder
        from analysis.errors import RunArtifactError

        try:
            return runfolder.read_json(self.dir, name, required=False)
        except RunArtifactError:
            return {}


def complete_runs(reports_root: Path) -> list[RunInfo]:
    """The published runs in ``reports_root``, oldest first."""
    runs = []
    if not reports_root.is_dir():
        return runs
    for entry in reports_root.iterdir():
        date = folder_date(entry)
        if date is None or entry.is_symlink() or not entry.is_dir():
            continue
        manifest_path = entry / "manifest.json"
        if not (manifest_path.is_file() and (entry / "index.html").is_file()):
            continue
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if _unusable(manifest) is None:
            runs.append(RunInfo(date, entry, manifest))
    return sorted(runs, key=lambda r: r.date)


def _unusable(manifest: object) -> str | None:
    """Why a run folder's manifest cannot be used (e.g. written by an old or foreign tool), or None."""
    if not isinstance(manifest, dict):
        return "its manifest.json is not a JSON object"
    for key in ("input", "dates", "params"):
        if manifest.get(key) is not None and not isinstance(manifest[key], dict):
            return f"its manifest.json has an unexpected {key!r} entry"
    return None


def skipped_runs(reports_root: Path) -> list[str]:
    """One note per dated folder that looks like a run but is left out of the series, and why."""
    notes = []
    if not reports_root.is_dir():
        return notes
    for entry in sorted(reports_root.iterdir()):
        if folder_date(entry) is None or entry.is_symlink() or not (entry / "manifest.json").is_file():
            continue
        try:
            why = _unusable(json.loads((entry / "manifest.json").read_text(encoding="utf-8")))
        except (OSError, ValueError):
            why = "its manifest.json cannot be read"
        if why:
            notes.append(f"{entry.name} is left out of the series: {why} (made by another version of the kit?)")
    return notes


def same_series(run: RunInfo, data_path: str) -> bool:
    """Runs are compared only when they read the same transaction file."""
    return run.data_path == data_path


def previous_run(reports_root: Path, as_of: dt.date, data_path: str) -> RunInfo | None:
    """The newest published run before ``as_of`` on the same data, or None."""
    earlier = [r for r in complete_runs(reports_root) if r.date < as_of and same_series(r, data_path)]
    return earlier[-1] if earlier else None


def next_run(reports_root: Path, as_of: dt.date, data_path: str) -> RunInfo | None:
    """The oldest published run after ``as_of`` on the same data, or None."""
    later = [r for r in complete_runs(reports_root) if r.date > as_of and same_series(r, data_path)]
    return later[0] if later else None


def wait_for_earlier(reports_root: Path, as_of: dt.date, say: Callable[[str], None] = print) -> None:
    """Wait while a run for an earlier date is being written (its folder lock is held).

    Runs of a backfill compute independently; only the comparison with the previous
    report needs the earlier one finished. A run that fails releases its lock too, and
    the comparison then uses the newest run that did publish.
    """
    for lock in sorted(reports_root.glob(".????-??-??.lock")):
        date = folder_date(Path(lock.name[1:-5]))
        if date is None or date >= as_of:
            continue
        fd = os.open(lock, os.O_RDONLY)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                say(f"      waiting for the run of {date} to finish (this report is compared with it)")
                t0 = time.time()
                fcntl.flock(fd, fcntl.LOCK_SH)
                say(f"      the run of {date} finished; waited {time.time() - t0:.0f} s")
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


@contextlib.contextmanager
def index_lock(reports_root: Path):
    """Serialise updates of ``reports/index.html`` and ``reports/latest`` between runs."""
    fd = os.open(reports_root / INDEX_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def point_latest(reports_root: Path, run: RunInfo) -> str | None:
    """Make ``reports/latest`` a relative symlink to ``run``; returns why not, or None."""
    link = reports_root / LATEST
    if link.exists() and not link.is_symlink():
        return f"{link} exists and is not a symbolic link; left as it is"
    tmp = reports_root / f".{LATEST}.tmp-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.symlink(run.dir.name, tmp, target_is_directory=True)
        os.replace(tmp, link)
    except OSError as exc:  # e.g. a file system without symbolic links
        with contextlib.suppress(OSError):
            tmp.unlink()
        return f"could not point {link} at {run.dir.name}: {exc}"
    return None


def _row(run: RunInfo) -> dict:
    from analysis.business.kpis import CATALOGUE, kpi_values

    kpis, model = run.artifact("kpis.json"), run.artifact("model.json")
    since = run.artifact("since_last.json")
    return {
        "date": run.date.isoformat(), "href": f"{run.dir.name}/index.html",
        **kpi_values(kpis, model, (kpi for kpi in CATALOGUE if kpi.trend)),
        "model": (model.get("final") or {}).get("model"),
        "previous": (since.get("previous") or {}).get("observation_end"),
        "finished_at": run.manifest.get("finished_at"),
        "title": ((run.manifest.get("params") or {}).get("report") or {}).get("title"),
        "currency": ((run.manifest.get("params") or {}).get("report") or {}).get("currency"),
        "language": ((run.manifest.get("params") or {}).get("report") or {}).get("language", "en"),
    }


def render_index(reports_root: Path, runs: list[RunInfo]) -> str:
    """HTML of ``reports/index.html``: every run of the folder, newest first, and the KPI trend."""
    from analysis.reporting import fmt

    rows = [_row(r) for r in runs]
    newest = rows[-1] if rows else {}
    lang, currency = newest.get("language", "en"), newest.get("currency")
    with fmt.using(lang, currency):
        return _render_index(runs, rows, newest, lang, currency)


def _render_index(runs: list[RunInfo], rows: list[dict], newest: dict, lang: str, currency: str | None) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    from analysis.runs import history
    from analysis.reporting.i18n import translate
    from analysis.business.kpis import CATALOGUE
    from analysis.reporting.nb import fmt_kpi
    from analysis.reporting.report import png_data_uri

    chart = None
    series = [r for r in runs if not newest or same_series(r, runs[-1].data_path)]
    if len(series) >= 2:  # a chart of one dot per figure says nothing
        trend = history.kpi_trend([r.dir for r in series])
        chart = png_data_uri(history.plot_kpi_trend(trend, currency=currency, lang=lang))
    for row in rows:
        row["shown"] = {kpi.key: fmt_kpi(kpi, row[kpi.key], row["currency"]) for kpi in CATALOGUE if kpi.trend}
    env = Environment(loader=PackageLoader("analysis.reporting", "templates"), autoescape=select_autoescape(["html", "j2"]))
    return env.get_template("reports_index.html.j2").render(
        lang=lang, t=lambda text: translate(text, lang),
        kpi_columns=[(kpi.key, kpi.label.format(period="period")) for kpi in CATALOGUE if kpi.trend],
        title=newest.get("title") or translate("Customer retention and lifetime value", lang),
        rows=list(reversed(rows)), latest=newest, chart=chart,
        updated=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))


def publish_index(reports_root: Path) -> list[str]:
    """Rewrite ``reports/index.html`` and repoint ``reports/latest`` (under a lock); returns notes."""
    notes = skipped_runs(reports_root)
    with index_lock(reports_root):
        runs = complete_runs(reports_root)
        if not runs:
            return notes
        _write_atomic(reports_root / "index.html", render_index(reports_root, runs))
        why_not = point_latest(reports_root, runs[-1])
        if why_not:
            notes.append(why_not)
    return notes
