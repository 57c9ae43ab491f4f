"""Run the whole report pipeline: ingest, notebooks (papermill), HTML (nbconvert).

Usage::

    python -m analysis.pipeline run --params params/default.yaml [--out reports/NAME]

The run is built in a staging folder next to the destination and moved into
place only when every step succeeded, so a failed run never replaces the last
good report. Progress goes to the console; details go to ``logs/`` in the run
folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

from analysis.config import RunParams, load_params, params_to_dict
from analysis.errors import KitError

PROJECT_KERNEL = "retention-kit"
NOTEBOOK_DIR = Path("notebooks")
PACKAGES = ["analysis", "duckdb", "pandas", "numpy", "scipy", "lifetimes", "matplotlib", "seaborn",
            "papermill", "nbconvert", "nbformat", "ipykernel", "pyarrow", "pydantic", "PyYAML", "Jinja2"]


class StepFailed(Exception):
    """A pipeline step failed; the message is meant for the console."""


def _say(message: str) -> None:
    print(message, flush=True)


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_state(cwd: Path) -> dict[str, object]:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                    capture_output=True, text=True, check=True).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def kernel_name() -> str:
    """The project's registered kernel if present, else the interpreter running the pipeline."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        if PROJECT_KERNEL in KernelSpecManager().find_kernel_specs():
            return PROJECT_KERNEL
    except Exception:  # noqa: BLE001 - any problem: fall back to the running interpreter
        pass
    return "python3"


def notebooks(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The report notebooks, ``NN_name.ipynb``, in order."""
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise StepFailed(f"No notebooks NN_*.ipynb found in {folder.resolve()}")
    return found


def resolve_dates(params: RunParams, quality_observation_end: str, first_date: str) -> dict:
    """Observation and calibration end of the run, checked against the data."""
    obs_end = dt.date.fromisoformat(quality_observation_end)
    cal_end = params.period.calibration_end or (obs_end - dt.timedelta(days=params.period.holdout_days))
    first = dt.date.fromisoformat(first_date)
    if cal_end >= obs_end:
        raise KitError(f"The calibration end ({cal_end}) must be before the observation end ({obs_end}).")
    if cal_end <= first:
        raise KitError(
            f"The calibration end ({cal_end}) is on or before the first transaction ({first}): there is nothing"
            " to fit the models on. Set period.calibration_end later or period.holdout_days smaller."
        )
    return {"observation_end": obs_end.isoformat(), "calibration_end": cal_end.isoformat(),
            "time_unit": params.period.time_unit}


def run_notebook(source: Path, target: Path, params_path: Path, run_dir: Path, cwd: Path) -> None:
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    try:
        pm.execute_notebook(
            str(source), str(target),
            parameters={"params_path": str(params_path), "run_dir": str(run_dir)},
            kernel_name=kernel_name(), cwd=str(cwd), progress_bar=False, log_output=False,
            request_save_on_cell_execute=False,
            # The kernel's own console log (e.g. its notice about unencrypted local TCP) is
            # not for report readers; errors in cells still reach the executed notebook.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
    except PapermillExecutionError as exc:
        raise StepFailed(f"{exc.ename}: {exc.evalue}") from exc


def render_html(executed: Path, target: Path, title: str) -> None:
    """Executed notebook -> stand-alone HTML without code, prompts or stderr."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    nb.metadata["title"] = title
    templates = Path(__file__).parent / "templates" / "nbconvert"
    exporter = HTMLExporter(extra_template_basedirs=[str(templates)], template_name="kit")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.exclude_anchor_links = True
    body, _ = exporter.from_notebook_node(nb)
    target.write_text(body, encoding="utf-8")


def _replace_dir(staging: Path, out: Path) -> None:
    """Move the finished staging folder to ``out``, keeping the old one until the move is done."""
    old = None
    if out.exists():
        old = out.with_name(f".old-{out.name}-{os.getpid()}")
        os.replace(out, old)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run(params_path: Path, out: Path | None = None, project_dir: Path | None = None) -> Path:
    """Execute the pipeline; returns the run folder. Raises KitError or StepFailed."""
    from analysis.ingest import ingest_transactions
    from analysis.report import write_index

    project_dir = (project_dir or Path.cwd()).resolve()
    started = time.time()
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    params = load_params(params_path)
    reports_root = (out.parent if out else project_dir / "reports").resolve()
    reports_root.mkdir(parents=True, exist_ok=True)
    staging = reports_root / f".staging-{os.getpid()}-{int(started)}"
    staging.mkdir()
    steps: list[dict] = []

    def step(name: str):
        class _Timer:
            def __enter__(self_inner):
                self_inner.t0 = time.time()
                self_inner.start = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
                return self_inner

            def __exit__(self_inner, *exc):
                seconds = time.time() - self_inner.t0
                steps.append({"step": name, "started_at": self_inner.start, "seconds": round(seconds, 3),
                              "ok": exc[0] is None})
                if exc[0] is None:
                    _say(f"      done in {seconds:.1f} s")
                return False

        return _Timer()

    try:
        artifacts = staging / "artifacts"
        artifacts.mkdir()
        (staging / "executed").mkdir()
        (staging / "logs").mkdir()
        shutil.copyfile(params_path, staging / "params.yaml")
        nb_list = notebooks(project_dir / NOTEBOOK_DIR)
        total = len(nb_list) + 2
        data_path = Path(params.data.path)
        _say(f"[1/{total}] ingest: reading {data_path} with DuckDB")
        with step("ingest"):
            quality = ingest_transactions(params.data, artifacts / "purchases.parquet",
                                          observation_end=params.period.observation_end)
            dates = resolve_dates(params, quality.observation_end, quality.first_date)
            (artifacts / "data_quality.json").write_text(json.dumps(quality.to_dict(), indent=2) + "\n")
            (artifacts / "run.json").write_text(json.dumps(dates, indent=2) + "\n")
            _say(f"      {quality.rows_read:,} rows read, {quality.rows_used:,} used, "
                 f"{quality.customers:,} customers, {quality.first_date} to {quality.observation_end}")
        out = out.resolve() if out else reports_root / dates["observation_end"]
        for i, nb in enumerate(nb_list, start=2):
            _say(f"[{i}/{total}] {nb.stem}: executing with papermill")
            with step(nb.stem):
                run_notebook(nb, staging / "executed" / nb.name, staging / "params.yaml", staging, project_dir)
        _say(f"[{total}/{total}] html: rendering reports")
        with step("html"):
            pages = []
            for nb in nb_list:
                title = nb.stem[3:].replace("_", " ").capitalize()
                render_html(staging / "executed" / nb.name, staging / f"{nb.stem}.html", title)
                pages.append((nb.stem + ".html", title))
        manifest = {
            "kit_version": _kit_version(),
            "params_file": str(params_path),
            "params": params_to_dict(params),
            "input": {"path": str(data_path), "bytes": data_path.stat().st_size, "sha256": sha256_of(data_path)},
            "dates": dates,
            "packages": package_versions(),
            "git": git_state(project_dir),
            "platform": platform.platform(),
            "started_at": started_at,
            "steps": steps,
        }
        manifest["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        manifest["duration_seconds"] = round(time.time() - started, 3)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        write_index(staging, params, pages, manifest)
        _replace_dir(staging, out)
        return out
    except BaseException:
        failed = reports_root / ".failed"
        failed.mkdir(exist_ok=True)
        target = failed / staging.name
        (staging / "logs").mkdir(parents=True, exist_ok=True)
        (staging / "logs" / "pipeline.log").write_text(traceback.format_exc())
        os.replace(staging, target)
        _say(f"      details of the failed run: {target}/logs/pipeline.log")
        raise


def _kit_version() -> str:
    from analysis import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.pipeline", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run the reports for one configuration")
    run_p.add_argument("--params", default="params/default.yaml", type=Path)
    run_p.add_argument("--out", default=None, type=Path, help="run folder (default reports/<observation end>)")
    args = parser.parse_args(argv)
    t0 = time.time()
    try:
        out = run(args.params, args.out)
    except (KitError, StepFailed) as exc:
        _say(f"\nERROR: {exc}\nThe last good report (if any) was left as it was.")
        return 2
    except KeyboardInterrupt:
        _say("\nInterrupted. The last good report (if any) was left as it was.")
        return 130
    except Exception as exc:  # noqa: BLE001 - unexpected: short message, details in the log
        _say(f"\nERROR: unexpected {type(exc).__name__}: {exc}\nThe last good report (if any) was left as it was.")
        return 1
    _say(f"\nReport ready in {time.time() - t0:.0f} s: {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
