"""The steps of a run: what each reads (configuration sections, input files, code), its key, and
running or reusing it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Iterable

from analysis.config import SECTIONS, RunParams, params_to_dict
from analysis.errors import KitError, NotEnoughHistory, StepFailed
from analysis.reporting.pages import PAGES, needs
from analysis.runs import console, incremental
from analysis.runs.kernels import NOTEBOOK_DIR, notebooks


def input_files(params: RunParams, sections: Iterable[str] | None = None) -> list[Path]:
    """The data files a run reads: the transactions and any other ``path`` in the configuration (only in
    ``sections`` of it, when given)."""
    found: list[Path] = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "path" and isinstance(value, str):
                    found.append(Path(value))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    dumped = params_to_dict(params)
    walk(dumped if sections is None else {name: dumped[name] for name in sections})
    return found


#: The sections of the run configuration each step reads, and so the only ones whose change re-runs it (a
#: changed campaign cost re-runs pages 04 and 05, not the ingest or the model fits). Each notebook records what it
#: reads (analysis.config.recording); a notebook that reads a section not listed here stops the run with a message
#: that says to add it, so a step is never reused after a change it depends on. A notebook not listed depends on
#: every section. The pages' sections are listed with the pages (analysis.reporting.pages.PAGES).
STEP_SECTIONS: dict[str, tuple[str, ...]] = {
    "ingest": ("engine", "spark", "data", "period"),
    **{page.stem: page.sections for page in PAGES},
}


def step_sections(step: str) -> tuple[str, ...]:
    """The configuration sections step ``step`` depends on (:data:`STEP_SECTIONS`; all of them if unlisted)."""
    return STEP_SECTIONS.get(step, SECTIONS)


def step_config(params: RunParams, digests: dict[str, str], hashes: dict[str, str | None], step: str) -> dict:
    """What a step's key takes from the configuration: the digest of each section it reads and the files those
    sections name (``hashes``: the run's input files, hashed once, :func:`input_hashes`)."""
    sections = step_sections(step)
    return {"config": {name: digests[name] for name in sections},
            "inputs": {str(p): hashes[str(p)] for p in input_files(params, sections)}}


def input_hashes(params: RunParams) -> dict[str, str | None]:
    """``{path: sha256}`` of every input file of the run (None for a missing one): each file read once a run."""
    return {str(p): (incremental.sha256_file(p) if p.is_file() else None) for p in input_files(params)}


def check_sections_read(staging: Path, step: str) -> None:
    """Stop when notebook ``step`` read a configuration section its step key does not cover."""
    record = staging / "logs" / f"{step}.sections.json"
    if not record.is_file():
        return
    extra = sorted(set(json.loads(record.read_text(encoding="utf-8"))) - set(step_sections(step)))
    if extra:
        raise KitError(f"Notebook {step} read the configuration section(s) {extra}, which its entry in"
                       f" analysis.reporting.pages.PAGES does not list. Add them to that entry's sections (so that a"
                       " change to them re-runs this page), or read them in another step.")


def dependencies(params: RunParams, project_dir: Path) -> list[Path]:
    """Every file a run's result depends on, for the Makefile: configuration inputs, notebooks, library."""
    src = incremental.SRC
    files = [p for p in input_files(params) if p.is_file()]
    files += notebooks(project_dir / NOTEBOOK_DIR)
    files += sorted(src.rglob("*.py")) + sorted(p for p in (src / "reporting" / "templates").rglob("*") if p.is_file())
    lock = project_dir / "requirements.lock"
    return files + ([lock] if lock.is_file() else [])


def _artifacts(outputs: dict[str, str]) -> dict[str, str]:
    """The files under ``artifacts/`` of a step's outputs."""
    return {rel: sha for rel, sha in outputs.items() if rel.startswith("artifacts/")}


def _written_by(name: str, written: dict[str, str]) -> dict[str, str]:
    """Of the files written while step ``name`` ran, those it writes by the catalogue (or that it does not list)."""
    return {rel: sha for rel, sha in written.items() if writer_of(rel) in (name, None)}


class Steps:
    """Runs the steps of one run: times them, records their key and outputs, reuses what it can."""

    def __init__(self, staging: Path, reuse: incremental.Reuse, render_only: bool) -> None:
        self.staging, self.reuse, self.render_only = staging, reuse, render_only
        self.records: list[dict] = []
        #: Steps may run at the same time (analysis.runs.schedule): each step's outputs are then only the files it
        #: writes by the catalogue, and its lines on the console name it.
        self.side_by_side = False
        self._before: dict[str, dict] = {}  # the folder before each running step, for release()
        #: The artifacts of steps still running that released them (release()), until their record is made.
        self.released: dict[str, dict[str, str]] = {}

    def artifacts_of(self, steps: Iterable[str]) -> dict[str, str]:
        """``{path: sha256}`` of the artifacts steps ``steps`` wrote (each file has one writer), from their
        records: hashed once, when written or reused; of a step still running, those it released."""
        steps = set(steps)
        recorded = {record["step"]: record.get("outputs", {}) for record in list(self.records)}
        released = {name: outputs for name, outputs in dict(self.released).items() if name not in recorded}
        return {rel: sha for step, outputs in {**released, **recorded}.items() if step in steps
                for rel, sha in _artifacts(outputs).items()}

    def release(self, name: str) -> None:
        """Step ``name``, still running, has written all its artifacts (a page that goes on drawing its charts,
        :class:`analysis.runs.schedule.Released`): hash them now, so that the steps that read them can start. When
        the step ends, its artifacts must be these (:meth:`run`)."""
        before = self._before.get(name)
        if before is None or name in self.released:
            return
        self.released[name] = _artifacts(_written_by(name, incremental.written_since(self.staging, before)))

    def run(self, name: str, key: str | None, action, header: str, config: dict[str, str] | None = None) -> bool:
        """Run ``action()`` as step ``name``, unless its outputs can be reused; True if it ran.

        ``header`` is the console line announcing the step, e.g. "[2/7] 01_data_and_kpis: executing
        with papermill"; when the step is reused, only its part before the colon is shown. ``config``: the
        digests of the configuration sections the step reads; when the last run of the folder had other
        ones, the line says which sections changed.
        """
        t0 = time.time()
        record = {"step": name, "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        if config is not None:
            record["config"] = config
        reused = self.reuse.take(name, key, self.staging) if key is not None else None
        console.echo(header + self._why(name, config) if reused is None
             else header.split(":")[0] + ": unchanged, reused from the last run of this folder")
        ok = False
        try:
            if reused is not None:
                if self.render_only:  # keep the key the reused outputs were made with
                    key = self.reuse.steps[name]["key"]
                record.update(outputs=reused, reused=True)
            else:
                before = self._before[name] = incremental.snapshot(self.staging)
                try:
                    action()
                finally:
                    self._before.pop(name, None)
                if key is not None:
                    written = incremental.written_since(self.staging, before)
                    if self.side_by_side:  # leave out what the step running alongside wrote meanwhile
                        written = _written_by(name, written)
                    self._check_released(name, written)
                    record.update(outputs=written, reused=False)
            ok = True
        finally:
            seconds = time.time() - t0
            if key is not None:
                record["key"] = key
            record.update(ended_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                          seconds=round(seconds, 3), ok=ok)
            self.records.append(record)
        if reused is None:
            console.echo(f"      {name + ': ' if self.side_by_side else ''}done in {seconds:.1f} s")
        return reused is None

    def _check_released(self, name: str, written: dict[str, str]) -> None:
        """A step that released its artifacts (:meth:`release`) must not have changed them afterwards: the steps
        that read them may have started with the released ones."""
        released = self.released.get(name)
        if released is None:
            return
        now = _artifacts(written)
        if now != released:
            changed = sorted(rel for rel in {*now, *released} if now.get(rel) != released.get(rel))
            raise StepFailed(f"{name} changed {', '.join(changed)} after it said its artifacts were written; the"
                             " pages that read them may have started with the earlier files")

    def in_order(self, names: list[str]) -> list[dict]:
        """The records in the order of the steps ``names`` (steps that ran side by side end in any order)."""
        rank = {name: i for i, name in enumerate(names)}
        return sorted(self.records, key=lambda record: rank.get(record["step"], len(rank)))

    def _why(self, name: str, config: dict[str, str] | None) -> str:
        """' (changed: roi, campaigns)' when the configuration sections step ``name`` reads differ from those of
        the last run of this folder, else ''."""
        before = (self.reuse.steps.get(name) or {}).get("config") if self.reuse.dir is not None else None
        if not config or not isinstance(before, dict):
            return ""
        changed = [section for section in config if before.get(section) != config[section]]
        return f" (changed in the configuration: {', '.join(changed)})" if changed else ""


def writer_of(rel: str) -> str | None:
    """The step that writes run-folder file ``rel`` (``executed/<stem>.ipynb`` and ``logs/<stem>.*``: notebook
    ``stem``; the rest: the catalogue, :mod:`analysis.runs.runfolder`), None for a file the catalogue does not know
    (an analyst's own artifact)."""
    from analysis.runs import runfolder

    folder, _, name = rel.partition("/")
    if folder in ("executed", "logs") and "/" not in name:
        return name.split(".")[0]
    try:
        return runfolder.lookup(rel).writer
    except KeyError:
        return None


def ingest_key(common: dict, code: list[str], config: dict) -> str:
    """The step key of the ingest step (see :mod:`analysis.runs.incremental`); ``config``: :func:`step_config`."""
    return incremental.digest({**common, **config,
                               "code": incremental.files_digest(incremental.module_closure(code))})


def notebook_key(common: dict, notebook: Path, artifacts: dict[str, str], config: dict) -> str:
    """The step key of a notebook step, given the artifacts of the steps it runs after (the ingest and the pages
    it needs, :func:`analysis.reporting.pages.needs`) and the part of the configuration it reads
    (:func:`step_config`)."""
    # the notebook's imports, and what puts its text cells in the report language before it runs
    code = sorted(set(incremental.notebook_code(notebook)) | set(incremental.module_closure(["reporting.narrative"])))
    return incremental.digest({**common, **config, "notebook": incremental.sha256_file(notebook),
                               "code": incremental.files_digest(code),
                               "artifacts": dict(sorted(artifacts.items()))})


def render_key(common: dict, previous) -> str:
    """What the pages (comparison, HTML, summary) depend on beyond the steps: the code that renders
    them, its templates, and the previous report they are compared with."""
    src = incremental.SRC
    templates = sorted(p for p in (src / "reporting" / "templates").rglob("*") if p.is_file())
    return incremental.digest({**common,
                               "code": incremental.files_digest(incremental.module_closure(
                                   ["pipeline", "runs.history", "reporting.report", "runs.series"])),
                               "templates": incremental.files_digest(templates, src),
                               "previous": ({"folder": previous.dir.name,
                                             "artifacts": previous.manifest.get("artifacts")} if previous else None)})


def not_up_to_date(out: Path, common: dict, code: list[str], nb_list: list[Path], render_key: str,
                    config_of) -> str | None:
    """Why the published run ``out`` is out of date, or None when every step key and the render key match
    and every recorded output is intact (by content: file times play no part)."""
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "no readable manifest.json"
    if not isinstance(manifest, dict):
        return "no readable manifest.json"
    records = {s.get("step"): s for s in manifest.get("steps", []) if isinstance(s, dict)}
    stems = [nb.stem for nb in nb_list]

    def artifacts(stem: str) -> dict[str, str]:
        return {rel: sha for step in ("ingest", *needs(stem, stems))
                for rel, sha in _artifacts((records.get(step) or {}).get("outputs") or {}).items()}

    for name, key in [("ingest", lambda: ingest_key(common, code, config_of("ingest")))] + [
            (nb.stem, lambda nb=nb: notebook_key(common, nb, artifacts(nb.stem), config_of(nb.stem))) for nb in nb_list]:
        record = records.get(name) or {}
        if record.get("key") != key():
            return f"step {name} has new inputs"
        outputs = record.get("outputs") or {}
        for rel, sha in outputs.items():
            if not (out / rel).is_file() or incremental.sha256_file(out / rel) != sha:
                return f"{rel} was changed or removed"
    if manifest.get("render_key") != render_key:
        return "the pages have new inputs (the rendering code, or the previous report)"
    missing = [p for p in ["index.html", *(f"{nb.stem}.html" for nb in nb_list)] if not (out / p).is_file()]
    return f"{missing[0]} is missing" if missing else None


def as_of_calibration_end(period, as_of: dt.date) -> dt.date | None:
    """The calibration end of a run as of ``as_of`` (``make report AS_OF=...``).

    The holdout keeps its length so the runs of a series are alike: with both
    ``observation_end`` and ``calibration_end`` configured, the calibration end moves with
    the as-of date; otherwise it is ``holdout_days`` before it (None: decided later).
    """
    if period.calibration_end and period.observation_end:
        return as_of - (period.observation_end - period.calibration_end)
    return None


def resolve_dates(params: RunParams, quality_observation_end: str, first_date: str,
                  calibration_end: dt.date | None = None, as_of: dt.date | None = None) -> dict:
    """Observation and calibration end of the run, checked against the data."""
    obs_end = dt.date.fromisoformat(quality_observation_end)
    if as_of is not None:
        calibration_end = calibration_end or as_of_calibration_end(params.period, as_of)
    else:
        calibration_end = calibration_end or params.period.calibration_end
    cal_end = calibration_end or (obs_end - dt.timedelta(days=params.period.holdout_days))
    first = dt.date.fromisoformat(first_date)
    if cal_end >= obs_end:
        raise KitError(f"The calibration end ({cal_end}) must be before the observation end ({obs_end}).")
    if cal_end <= first and as_of is None:
        raise KitError(
            f"The calibration end ({cal_end}) is on or before the first transaction ({first}): there is nothing"
            " to fit the models on. Set period.calibration_end later or period.holdout_days smaller."
        )
    shortest = params.period.min_calibration_days
    if (cal_end - first).days < shortest:
        earliest = first + dt.timedelta(days=shortest) + (obs_end - cal_end)
        span = (f"has {(cal_end - first).days} days, fewer than" if cal_end > first
                else "would end before they start; it needs at least")
        raise NotEnoughHistory(
            f"Not enough history for a report as of {obs_end}: the data start on {first}, so the calibration period"
            f" (up to {cal_end}) {span} period.min_calibration_days ({shortest}). The first date with enough"
            f" history is {earliest}."
        )
    return {"observation_end": obs_end.isoformat(), "calibration_end": cal_end.isoformat(),
            "time_unit": params.period.time_unit}


def first_purchases_on(purchases: Path, calibration_end: str, observation_end: str) -> dict[str, int]:
    """How many customers made their first purchase on the calibration end and on the observation end.

    They have T = 0 in the calibration or the whole-period summary: nothing could have happened
    after their first purchase yet, so the models leave them out of that fit (their likelihood
    is 1 under every model) and still score them.
    """
    import duckdb

    source = "read_parquet('" + str(purchases).replace("'", "''") + "')"
    cal, end = (f"DATE '{d}'" for d in (calibration_end, observation_end))
    n_cal, n_end = duckdb.connect().execute(
        f"SELECT count(*) FILTER (WHERE first = {cal}), count(*) FILTER (WHERE first = {end})"
        f" FROM (SELECT min(CAST(date AS DATE)) AS first FROM {source} GROUP BY customer_id)").fetchone()
    return {"calibration_end": int(n_cal), "observation_end": int(n_end)}
