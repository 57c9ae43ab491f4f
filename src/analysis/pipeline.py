"""Run the whole report pipeline: ingest, notebooks (papermill), HTML (nbconvert).

Usage::

    python -m analysis.pipeline run --params params/default.yaml [--out reports/NAME]
    python -m analysis.pipeline index --reports reports
    python -m analysis.pipeline deps --params params/default.yaml

This module is the command line and the order of a run's steps (:func:`run`). The parts live where the
pipeline's folders say: :mod:`analysis.runs.steps` (what each step reads, its key, running or reusing it),
:mod:`analysis.runs.kernels` (papermill and warm kernels), :mod:`analysis.runs.publish` (the staging folder,
the lock, the atomic swap: a failed or killed run never replaces the last good report),
:mod:`analysis.runs.manifest` (versions and git state), :mod:`analysis.reporting.html` (nbconvert and the
screenshot). Progress goes to the console (:mod:`analysis.runs.console`); details go to ``logs/`` in the run
folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import json
import os
import platform
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path

from analysis.runs.kernels import early_pool

#: ``python -m analysis.pipeline run``: the notebooks' kernels start now, while the rest of the kit is imported
#: (about 1 s), and the run takes them (:func:`_run`); the pages of a CDNOW report then wait about that much less.
if __name__ == "__main__":
    sys.modules.setdefault("rfc3987_syntax", None)  # before the kernels' threads import anything (see main())
_EARLY_POOL = early_pool(sys.argv[1:]) if __name__ == "__main__" else None

from analysis import privacy  # noqa: E402
from analysis.config import load_params, params_to_dict, section_digests  # noqa: E402
from analysis.errors import KitError, NotEnoughHistory, RunLocked, StepFailed, UnsafeOutput  # noqa: E402, F401 (re-exported)
from analysis.reporting.html import Screenshot, find_chromium, page_title, render_html, warm_up  # noqa: E402
from analysis.reporting.nb import STAGING_ENV  # noqa: E402
from analysis.reporting.pages import PAGES, needs  # noqa: E402
from analysis.runs import console, incremental, schedule  # noqa: E402
from analysis.runs.kernels import NOTEBOOK_DIR, KernelPool, kernel_environment, notebooks, run_notebook  # noqa: E402
from analysis.runs.manifest import REPRODUCIBILITY_ENV, git_state, installed_distributions, kit_version, package_versions  # noqa: E402
from analysis.runs.publish import (RUN_MARKER, FolderLock, Terminated, check_output_folder, clean_stale, prune_failed,  # noqa: E402
                                   replace_dir)
from analysis.runs.schedule import page_jobs  # noqa: E402
from analysis.runs.steps import (Steps, as_of_calibration_end, check_sections_read, dependencies, first_purchases_on,  # noqa: E402
                                 ingest_key, input_files, input_hashes, not_up_to_date, notebook_key, render_key,
                                 resolve_dates, step_config)


sha256_of = incremental.sha256_file


def _take_early_pool(project_dir: Path) -> KernelPool | None:
    """The pool started when the command began (:data:`_EARLY_POOL`), for the first run of this process in the
    folder it was started for; None otherwise."""
    global _EARLY_POOL
    pool, _EARLY_POOL = _EARLY_POOL, None
    if pool is not None and Path(pool.cwd).resolve() != project_dir:
        pool.close()
        return None
    return pool


def series_root(params_path: Path, project_dir: Path) -> Path:
    """Where the runs of a configuration go by default: ``reports/`` for ``params/default.yaml`` (the
    bundled sample), ``reports/<name>/`` for any other ``<name>.yaml``. Each configuration is a series
    of its own, with its own index, trend and ``latest`` (as the Makefile's ``REPORTS``)."""
    reports = project_dir / "reports"
    default = project_dir / "params" / "default.yaml"
    if default.exists() and params_path.resolve() == default.resolve():
        return reports
    return reports / params_path.stem


def run(params_path: Path, out: Path | None = None, project_dir: Path | None = None, *,
        as_of: dt.date | None = None, reuse: bool = True, render_only: bool = False,
        params_label: str | None = None, refresh_following: bool = True, if_changed: bool = False) -> Path:
    """Execute the pipeline; returns the run folder. Raises KitError or StepFailed.

    ``if_changed``: when ``out`` is a published run whose every step key, output and page input
    is unchanged, do nothing (``make`` uses this instead of file times).

    ``as_of``: the observation end (later transactions are left out and counted); the run
    goes to ``reports/<as_of>/`` unless ``out`` is given. ``reuse``: copy the outputs of
    steps whose inputs did not change from the published run of the same folder
    (:mod:`analysis.runs.incremental`). ``render_only``: reuse every computing step as it is
    and only redo the comparison with the previous report and the HTML (used to refresh a
    later report when an earlier one was re-run).
    """
    with console.prefixed(f"{as_of} " if as_of else ""):
        return _run(params_path, out, project_dir, as_of=as_of, reuse=reuse, render_only=render_only,
                    params_label=params_label, refresh_following=refresh_following, if_changed=if_changed)


def _run(params_path: Path, out: Path | None, project_dir: Path | None, *, as_of: dt.date | None, reuse: bool,
         render_only: bool, params_label: str | None, refresh_following: bool, if_changed: bool = False) -> Path:
    """One run; see :func:`run`."""
    from analysis.runs import history, series
    from analysis.data.ingest import ingest_transactions
    from analysis.reporting.report import KeyChartsAhead, write_index

    project_dir = (project_dir or Path.cwd()).resolve()
    started = time.time()
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    params = load_params(params_path)
    pseudonyms = privacy.load_key(params.privacy.key_file, create=True, project_dir=project_dir)
    if pseudonyms.created:
        console.echo(f"note: created a random pseudonymisation key in {privacy.default_key_file()}.\n"
             f"      Customer ids in the HTML reports and exported lists are replaced by pseudonyms (c_...) made with\n"
             f"      it. Keep the file (and a backup) so later runs give the same pseudonyms, or set\n"
             f"      {privacy.ENV_VAR} or privacy.key_file to use another key.")
    observation_end = as_of or params.period.observation_end
    out = out.resolve() if out else None
    reports_root = (out.parent if out else series_root(Path(params_path), project_dir)).resolve()
    if out is None and observation_end is not None:
        out = reports_root / observation_end.isoformat()
    if out is not None:
        check_output_folder(out, project_dir, input_files(params))
    reports_root.mkdir(parents=True, exist_ok=True)
    for line in clean_stale(reports_root):
        console.echo(f"      {line}")
    kernel_environment()  # the notebook kernels inherit it (the early pool's did at its start)
    lock = FolderLock(out).acquire() if out else None
    staging = reports_root / f".staging-{os.getpid()}-{int(started)}"
    staging.mkdir()
    (staging / RUN_MARKER).write_text("A report folder made by the retention kit; a later run may replace it.\n")
    published = False
    steps = Steps(staging, incremental.Reuse(out, enabled=reuse or render_only, force=render_only), render_only)
    pool: KernelPool | None = None

    try:
        artifacts = staging / "artifacts"
        artifacts.mkdir()
        (staging / "executed").mkdir()
        (staging / "logs").mkdir()
        shutil.copyfile(params_path, staging / "params.yaml")
        nb_list = notebooks(project_dir / NOTEBOOK_DIR)
        total = len(nb_list) + 3
        data_path = Path(params.data.path)
        # the dates the run is cut at, not how they were given: "AS_OF=1998-06-30" and a configured
        # observation end of 1998-06-30 are the same run
        cut_dates = [str(observation_end), str(as_of_calibration_end(params.period, as_of) if as_of
                                                  else params.period.calibration_end)]
        # A step's key takes only the configuration sections it reads (STEP_SECTIONS); the pages, always rebuilt,
        # and the up-to-date check of the whole run take all of it.
        common = {"dates": cut_dates, "packages": package_versions(), "pseudonym_key": pseudonyms.fingerprint}
        digests = section_digests(params)

        hashes = input_hashes(params)
        configs = {step: step_config(params, digests, hashes, step) for step in ["ingest", *(n.stem for n in nb_list)]}
        config_of = configs.__getitem__
        whole = {**common, "params": sha256_of(Path(params_path)), "inputs": hashes}
        engine = "Spark" if params.engine == "spark" else "DuckDB"
        cut = f" as of {as_of}" if as_of else ""
        code = ["data.ingest", "pipeline"] + (["spark_engine"] if params.engine == "spark" else [])
        if if_changed and out is not None and not render_only and reuse:
            earlier = (series.previous_run(reports_root, series.folder_date(out), str(data_path))
                       if series.folder_date(out) else None)
            why = not_up_to_date(out, common, code, nb_list, render_key(whole, earlier), config_of)
            if why is None:
                shutil.rmtree(staging, ignore_errors=True)
                console.echo(f"{out} is up to date: every step's inputs (data, configuration, notebooks, library, previous"
                     " report) are as when it was made. Nothing to do.")
                return out
            if (out / "manifest.json").exists():
                console.echo(f"      {out.name} is out of date: {why}")

        def ingest():
            if params.engine == "spark":
                from analysis import spark_engine

                session = spark_engine.spark_session(params.spark.master, params.spark.app_name, params.spark.conf)
                try:
                    quality = spark_engine.ingest_transactions(params.data, artifacts / "purchases.parquet",
                                                               spark=session, observation_end=observation_end)
                finally:  # the notebooks start their own sessions; don't keep an idle JVM for the whole run
                    session.stop()
            else:
                quality = ingest_transactions(params.data, artifacts / "purchases.parquet",
                                              observation_end=observation_end)
            dates = resolve_dates(params, quality.observation_end, quality.first_date, as_of=as_of)
            record = quality.to_dict()
            record["first_purchase_on_split_days"] = first_purchases_on(
                artifacts / "purchases.parquet", dates["calibration_end"], dates["observation_end"])
            (artifacts / "data_quality.json").write_text(json.dumps(record, indent=2) + "\n")
            (artifacts / "run.json").write_text(json.dumps(dates, indent=2) + "\n")

        if not render_only:  # the first notebooks' kernels start while the data are read (two if two may run at once),
            pool = _take_early_pool(project_dir)  # or earlier, while the kit was imported
            if pool is None:
                pool = KernelPool(staging, project_dir, notebooks=len(nb_list), warm=min(page_jobs(0), 2))
            else:
                pool.set_run_dir(staging)  # named in its kernels as they finish starting
        steps.run("ingest", ingest_key(common, code, config_of("ingest")), ingest,
                  f"[1/{total}] ingest: reading {data_path} with {engine}{cut}", config=config_of("ingest")["config"])
        quality = json.loads((artifacts / "data_quality.json").read_text())
        dates = json.loads((artifacts / "run.json").read_text())
        console.echo(f"      {quality['rows_read']:,} rows read, {quality['rows_used']:,} used, "
             f"{quality['customers']:,} customers, {quality['first_date']} to {dates['observation_end']}")
        # A broken contact list stops the run here, with one clear line, not inside page 05; one that cannot be
        # measured on these data (ids of another data set, a start after the end) is explained on the page.
        if params.campaigns:
            import pandas as pd
            import pyarrow.compute as pc
            import pyarrow.parquet as pq

            from analysis.business import campaigns as campaign_lists

            known = pq.read_table(artifacts / "purchases.parquet", columns=["customer_id"]).column(0)
            known = pd.Index(pc.unique(known).to_pylist())
            for campaign in params.campaigns:
                contacts = campaign_lists.read_contacts(campaign)
                late = (campaign_lists.unknown_ids(campaign, contacts, known)
                        or campaign_lists.check_dates(campaign, dt.date.fromisoformat(dates["observation_end"])))
                missing = campaign_lists.missing_ids(contacts.index, known)
                console.echo(f"      campaign {campaign.name}: {int((contacts['group'] == 'treatment').sum()):,} treated,"
                     f" {int((contacts['group'] == 'control').sum()):,} control"
                     + (f"; not measured: {late}" if late else
                        f"; {missing:,} listed customers have no purchase in these data (measured as not buying)"
                        if missing else ""))
        if out is None:
            out = reports_root / dates["observation_end"]
            check_output_folder(out, project_dir, input_files(params))
            lock = FolderLock(out).acquire()
            steps.reuse = incremental.Reuse(out, enabled=reuse)
        # Each page runs after the pages whose artifacts it reads, two at a time where one does not need the other
        # (analysis.runs.schedule); its key takes the artifacts of the ingest and of those pages.
        stems = [nb.stem for nb in nb_list]
        after = {stem: needs(stem, stems) for stem in stems}
        jobs = page_jobs(quality["rows_used"])
        # on big data page 01 waits for page 02 and runs beside 03 and 04 (the schedule's waits, not its key's)
        order, waits = schedule.waits(stems, after, quality["rows_used"], {p.stem: p.big_data_after for p in PAGES},
                                      jobs)
        steps.side_by_side = jobs > 1
        for line in schedule.plan_lines(jobs, quality["rows_used"], after, waits):
            console.echo(f"      {line}")
        # a page that has written its artifacts and draws its charts lets the pages that read them start
        released = schedule.Released(after)

        def page(stem: str) -> None:
            nb = nb_list[stems.index(stem)]
            key = notebook_key(common, nb, steps.artifacts_of(("ingest", *after[stem])), config_of(stem))

            def release():
                steps.release(stem)
                released(stem)

            def execute():
                run_notebook(nb, staging / "executed" / nb.name, staging / "params.yaml", staging, project_dir,
                             pool=pool, label=f"{stem}: " if jobs > 1 else "", on_release=release)
                check_sections_read(staging, stem)

            steps.run(stem, key, execute, f"[{stems.index(stem) + 2}/{total}] {stem}: executing with papermill",
                      config=config_of(stem)["config"])
            charts.page_done(stem)

        # the summary's charts are drawn while the pages run, each once the pages it is drawn from have finished
        charts = KeyChartsAhead(artifacts, params, stems, also=warm_up)  # and nbconvert is readied for the HTML
        # the manifest's list of installed packages (0.16 s) is read while the pages run, not after them
        from concurrent.futures import ThreadPoolExecutor

        background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="manifest")
        environment = background.submit(installed_distributions)
        background.shutdown(wait=False)  # it still reads them; environment.result() waits for that

        # for every kernel of the run: run_notebook sets it per notebook, and two may run at once
        previous_staging = os.environ.get(STAGING_ENV)
        os.environ[STAGING_ENV] = str(staging)
        try:
            schedule.run_in_order(order, waits, page, jobs, abort=pool.abort if pool is not None else None,
                                  released=released)
            summary_charts = charts.result()  # before anything else in this process formats numbers (fmt)
        finally:
            charts.close()
            steps.side_by_side = False
            if previous_staging is None:
                os.environ.pop(STAGING_ENV, None)
            else:
                os.environ[STAGING_ENV] = previous_staging

        # ---- since the last report: compare with the previous run of the series
        series_date = series.folder_date(out)
        comparison, previous, trend = None, None, None

        def compare():
            nonlocal comparison, previous, trend
            if series_date is None:
                console.echo(f"      {out.name} is not named by a date (YYYY-MM-DD): no comparison")
                return
            series.wait_for_earlier(reports_root, series_date, console.echo)
            previous = series.previous_run(reports_root, series_date, str(data_path))
            earlier = [r.dir for r in series.complete_runs(reports_root)
                       if r.date < series_date and series.same_series(r, str(data_path))]
            trend = history.kpi_trend(earlier + [staging])
            if previous is None:
                console.echo("      no earlier report of this data in the folder: this is the first of the series")
                return
            from analysis.reporting.nb import Run, model_unavailable

            if any(model_unavailable(Run(run)) for run in (staging, previous.dir)):
                console.echo(f"      not compared with {previous.dir.name}: the purchase model of one of the two reports"
                     " could not be fitted")
                previous = None
                return
            comparison = history.compare_runs(staging, previous.dir, params)
            console.echo(f"      compared with {previous.dir.name}")

        steps.run("compare", None, compare, f"[{total - 1}/{total}] compare: with the previous report")
        pseudonym = privacy.Pseudonymiser(pseudonyms)

        def section(stage: str) -> str:
            if series_date is None or stage not in history.STAGES:  # pages without a since-last section
                return ""
            return history.section_html(comparison, stage, params, pseudonym, trend)

        pages = [(nb.stem + ".html", page_title(nb.stem)) for nb in nb_list]

        def html():
            for nb, (href, title) in zip(nb_list, pages):
                render_html(staging / "executed" / nb.name, staging / href, title, section(nb.stem),
                            params.report.language)

        git = git_state(project_dir)
        label = params_label or str(params_path)
        manifest = {
            "kit_version": kit_version(),
            "params_file": label,
            "params_sha256": sha256_of(Path(params_path)),
            "params": params_to_dict(params),
            "as_of": as_of.isoformat() if as_of else None,
            "input": {"path": str(data_path),
                      **({"bytes": data_path.stat().st_size, "sha256": whole["inputs"].get(str(data_path))}
                         if data_path.is_file() else {"bytes": None, "sha256": None})},
            "dates": dates,
            "previous_run": ({"folder": previous.dir.name, "observation_end": previous.date.isoformat()}
                             if previous else None),
            "seed": params.models.seed,
            "privacy": {"pseudonyms": f"{privacy.PREFIX} + first {privacy.HEX_DIGITS} hex digits of HMAC-SHA256(key, id)",
                        "key_source": pseudonyms.source, "key_fingerprint": pseudonyms.fingerprint,
                        "crm_export_real_ids": params.privacy.crm_export_real_ids},
            "packages": common["packages"],
            "environment": environment.result(),
            "git": git,
            "python": {"version": sys.version.split()[0], "implementation": platform.python_implementation(),
                       "executable": sys.executable},
            "platform": platform.platform(),
            "machine": {"system": platform.system(), "release": platform.release(), "arch": platform.machine()},
            "env": {name: os.environ[name] for name in REPRODUCIBILITY_ENV if name in os.environ},
            "repeat": (f"git checkout {git['commit']} && " if git.get("commit") else "")
                      + f"make report PARAMS={label}" + (f" AS_OF={as_of}" if as_of else "") + f" OUT={out}",
            "artifacts": None,  # below, while Chromium takes its picture (the summary does not show them)
            "started_at": started_at,
            "steps": None,  # below, after the html step
            "pages_at_once": jobs,
            "render_key": render_key(whole, previous),
        }
        write_index(staging, params, pages, manifest, since_html=section("summary"), charts=summary_charts)
        # Chromium takes the summary's picture in a process of its own while this one renders the pages
        t0 = time.time()
        shot = Screenshot(staging / "index.html", staging / "summary.png")
        try:
            steps.run("html", None, html, f"[{total}/{total}] html: rendering reports")
            manifest["artifacts"] = {p.relative_to(staging).as_posix(): sha256_of(p)
                                     for p in sorted(artifacts.rglob("*")) if p.is_file()}
        except BaseException:
            shot.cancel()
            raise
        why_not = shot.result()
        manifest["screenshot"] = ({"file": "summary.png", "seconds": round(time.time() - t0, 3)} if why_not is None
                                  else {"file": None, "reason": why_not})
        if why_not and find_chromium():  # no Chromium is normal; a failing one is worth a line
            console.echo(f"      note: no summary.png ({why_not})")
        manifest["steps"] = steps.in_order(["ingest", *stems, "compare", "html"])
        manifest["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        manifest["duration_seconds"] = round(time.time() - started, 3)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        replace_dir(staging, out)
        published = True
    except (RunLocked, NotEnoughHistory, UnsafeOutput):
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except BaseException:
        if published:  # e.g. a signal held back during the swap arrives afterwards
            raise
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:  # a full disk: give the space back
            shutil.rmtree(staging, ignore_errors=True)
            raise
        failed = reports_root / ".failed"
        try:
            failed.mkdir(exist_ok=True)
            target = failed / staging.name
            (staging / "logs").mkdir(parents=True, exist_ok=True)
            (staging / "logs" / "pipeline.log").write_text(traceback.format_exc())
            os.replace(staging, target)
        except OSError:  # e.g. a read-only or full reports folder: keep nothing half-written
            shutil.rmtree(staging, ignore_errors=True)
            raise exc from None
        kept = prune_failed(failed)
        console.echo(f"      details of the failed run: {target}/logs/pipeline.log (the last {kept} failed runs are kept in"
             f" {failed})")
        raise
    finally:
        if pool is not None:
            pool.close()
        if lock is not None:
            lock.release()
    if series_date is not None:
        for note in series.publish_index(reports_root):
            console.echo(f"      note: {note}")
        if refresh_following:
            _refresh_next(reports_root, out, series_date, str(data_path), project_dir)
    return out


"""Failed runs kept in ``reports/.failed/`` for their logs; older ones are removed."""


def _refresh_next(reports_root: Path, published: Path, date: dt.date, data_path: str, project_dir: Path) -> None:
    """Redo the comparison of the next report in the series if it was made against another report
    than ``published`` (e.g. an earlier month was re-run or added later). Only HTML is rebuilt."""
    import tempfile

    from analysis.runs import series

    following = series.next_run(reports_root, date, data_path)
    if following is None:
        return
    since = following.artifact("since_last.json").get("previous") or {}
    current = {name: sha256_of(published / "artifacts" / name) for name in (since.get("artifacts_sha256") or {})
               if (published / "artifacts" / name).is_file()}
    if since.get("folder") == published.name and current and current == since.get("artifacts_sha256"):
        return
    console.echo(f"\nThe report of {following.date} was compared with "
         f"{since.get('folder') or 'no earlier report'}; updating its comparison with {published.name}")
    with tempfile.TemporaryDirectory(prefix="retention-kit-refresh-") as tmp:
        params_copy = Path(tmp) / "params.yaml"
        shutil.copyfile(following.dir / "params.yaml", params_copy)
        try:
            as_of = following.manifest.get("as_of")
            run(params_copy, following.dir, project_dir, as_of=dt.date.fromisoformat(as_of) if as_of else None,
                render_only=True,
                params_label=following.manifest.get("params_file"), refresh_following=False)
        except RunLocked:
            console.echo(f"      {following.dir.name} is being written by another run, which does its own comparison")
        except (KitError, StepFailed) as exc:
            console.echo(f"      note: could not update {following.dir.name}: {exc}")


def _os_problem(exc: OSError, folder: Path | None = None) -> str:
    """One line for an operating-system error: what, which path (``folder``, the run's report folder,
    when the error names none: DuckDB's and pyarrow's do not), what to do."""
    where = exc.filename or (f"the report folder {folder}" if folder else "the reports folder")
    fixes = {
        errno.ENOSPC: "the disk is full: free some space (the unfinished run was removed) and run again",
        errno.EACCES: "permission denied: run as a user who may write there, or choose another folder with OUT=...",
        errno.EPERM: "permission denied: run as a user who may write there, or choose another folder with OUT=...",
        errno.EROFS: "the file system is read-only: choose another folder with OUT=...",
        errno.EISDIR: "it is a folder where the kit needs a file: remove or rename that folder",
        errno.ENOTDIR: "a part of that path is a file where the kit needs a folder: choose another path",
        errno.EEXIST: "a part of that path is a file where the kit needs a folder: choose another path",
    }
    fix = fixes.get(exc.errno, "check the path, the free disk space and the permissions")
    return f"cannot use {where} ({exc.strerror or exc}): {fix}."


def main(argv: list[str] | None = None) -> int:
    # jsonschema (imported by nbformat, papermill and nbconvert) loads the optional IRI checker of
    # rfc3987-syntax when it is installed, which builds a parser at import: 1.7 s of every run on this
    # machine, for a format no notebook uses. This process does without it (jsonschema skips it).
    sys.modules.setdefault("rfc3987_syntax", None)
    parser = argparse.ArgumentParser(prog="python -m analysis.pipeline", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run the reports for one configuration")
    run_p.add_argument("--params", default="params/default.yaml", type=Path)
    run_p.add_argument("--out", default=None, type=Path, help="run folder (default reports/<observation end>)")
    run_p.add_argument("--as-of", default=None, help="observation end YYYY-MM-DD: later transactions are left out")
    run_p.add_argument("--no-reuse", action="store_true", help="execute every step, even if nothing changed")
    run_p.add_argument("--if-changed", action="store_true",
                       help="do nothing when the run folder is up to date (every step's inputs unchanged, by content)")
    run_p.add_argument("--skip-early", action="store_true",
                       help="an as-of date with not enough history is skipped with one line (exit 0), as in a backfill")
    index_p = sub.add_parser("index", help="rewrite reports/index.html and reports/latest from the published runs")
    index_p.add_argument("--reports", default=Path("reports"), type=Path)
    deps_p = sub.add_parser("deps", help="print the files a run depends on (for the Makefile)")
    deps_p.add_argument("--params", default="params/default.yaml", type=Path)
    args = parser.parse_args(argv)
    t0 = time.time()
    if args.command == "index":
        from analysis.runs import series

        for note in series.publish_index(args.reports.resolve()):
            console.echo(f"note: {note}")
        console.echo(f"Index of {len(series.complete_runs(args.reports.resolve()))} report(s): {args.reports / 'index.html'}")
        return 0
    if args.command == "deps":
        try:
            files = dependencies(load_params(args.params), Path.cwd())
        except (KitError, StepFailed) as exc:
            print(f"ERROR: {exc}", file=sys.stderr)
            return 2
        print(" ".join(str(f).replace(" ", "\\ ") for f in [args.params, *files]))
        return 0
    as_of = None
    if args.as_of:
        from analysis.periods import parse_date

        try:
            as_of = parse_date(args.as_of, "AS_OF")
        except ValueError as exc:
            console.echo(f"ERROR: {exc}")
            return 2

    def _on_sigterm(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one clean-up is enough
        raise Terminated()

    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        out = run(args.params, args.out, as_of=as_of, reuse=not args.no_reuse, if_changed=args.if_changed)
    except RunLocked as exc:
        console.echo(f"\nERROR: {exc}")
        return 3
    except NotEnoughHistory as exc:
        if args.skip_early:
            console.echo(f"{as_of or ''} skipped: {exc}".strip())
            return 0
        console.echo(f"ERROR: {exc}")
        return 2
    except (KitError, StepFailed) as exc:
        console.echo(f"\nERROR: {exc}\nThe last good report (if any) was left as it was.")
        return 2
    except KeyboardInterrupt:
        console.echo("\nInterrupted. The last good report (if any) was left as it was.")
        return 130
    except Terminated:
        console.echo("\nTerminated. The last good report (if any) was left as it was.")
        return 143
    except OSError as exc:  # the machine, not the data: a folder that cannot be written, a full disk, ...
        console.echo(f"\nERROR: {_os_problem(exc, args.out)}\nThe last good report (if any) was left as it was.")
        return 2
    except Exception as exc:  # noqa: BLE001 - unexpected: short message, details in the log
        console.echo(f"\nERROR: unexpected {type(exc).__name__}: {exc}\nThe last good report (if any) was left as it was.")
        return 1
    console.echo(f"\nReport ready in {time.time() - t0:.0f} s: {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    try:
        exit_code = main()
    finally:
        if _EARLY_POOL is not None:  # no run took it (the command stopped before): its kernels end with it
            _EARLY_POOL.close()
    if "pyspark" in sys.modules:  # let Spark's own exit handlers stop its JVM
        sys.exit(exit_code)
    # DuckDB and pyarrow together can abort at interpreter exit ("terminate called without an active
    # exception": a native thread pool torn down during shutdown; seen about once in 100 exits here),
    # after the run has finished and every file is written and closed. Leave without that teardown.
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)
