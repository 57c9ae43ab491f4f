"""Run the whole report pipeline: ingest, notebooks (papermill), HTML (nbconvert).

Usage::

    python -m analysis.pipeline run --params params/default.yaml [--out reports/NAME]

The run is built in a staging folder next to the destination and moved into
place only when every step succeeded, so a failed or killed run never replaces
the last good report. Only one run at a time may write a given folder: a lock
file next to it (``.<folder>.lock``, an ``fcntl`` lock that the operating system
releases when the process dies) makes a second run stop with a clear message.
Progress goes to the console; details go to ``logs/`` in the run folder.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as dt
import errno
import fcntl
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from analysis.config import SECTIONS, RunParams, load_params, params_to_dict, section_digests
from analysis.errors import KitError, NotEnoughHistory, RunLocked, StepFailed, UnsafeOutput  # noqa: F401 (re-exported)
from analysis.runs import incremental
from analysis import privacy

PROJECT_KERNEL = "retention-kit"
NOTEBOOK_DIR = Path("notebooks")
PACKAGES = ["analysis", "duckdb", "pyspark", "pandas", "numpy", "scipy", "lifetimes", "matplotlib", "seaborn",
            "papermill", "nbconvert", "nbformat", "ipykernel", "pyarrow", "pydantic", "PyYAML", "Jinja2"]


class Terminated(BaseException):
    """The pipeline received SIGTERM (raised by the handler :func:`main` installs)."""


#: Put before every console line; the as-of date in runs of a backfill, whose output
#: ``make -j2`` interleaves.
_prefix = ""


def _say(message: str) -> None:
    lines = message.split("\n")
    print("\n".join(f"{_prefix}{line}" if line.strip() else line for line in lines), flush=True)


sha256_of = incremental.sha256_file


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


REPRODUCIBILITY_ENV = ["PYTHONHASHSEED", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                       "TZ", "LANG", "LC_ALL", "SOURCE_DATE_EPOCH"]


def installed_distributions() -> dict[str, str]:
    """Every installed Python distribution and its version, sorted by name (``pip freeze``)."""
    from importlib.metadata import distributions

    found = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name:
            found[name] = dist.version
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


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


def as_of_calibration_end(period, as_of: dt.date) -> dt.date | None:
    """The calibration end of a run as of ``as_of`` (``make report AS_OF=...``).

    The holdout keeps its length so the runs of a series are alike: with both
    ``observation_end`` and ``calibration_end`` configured, the calibration end moves with
    the as-of date; otherwise it is ``holdout_days`` before it (None: decided later).
    """
    if period.calibration_end and period.observation_end:
        return as_of - (period.observation_end - period.calibration_end)
    return None


def series_root(params_path: Path, project_dir: Path) -> Path:
    """Where the runs of a configuration go by default: ``reports/`` for ``params/default.yaml`` (the
    bundled sample), ``reports/<name>/`` for any other ``<name>.yaml``. Each configuration is a series
    of its own, with its own index, trend and ``latest`` (as the Makefile's ``REPORTS``)."""
    reports = project_dir / "reports"
    default = project_dir / "params" / "default.yaml"
    if default.exists() and params_path.resolve() == default.resolve():
        return reports
    return reports / params_path.stem


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


_PROGRESS = re.compile(r"^\S+ \S+ INFO (analysis\.[\w.]+): (.*)$")


@contextlib.contextmanager
def _progress_from(log: Path, interval: float = 0.5):
    """Echo the progress lines (INFO of the ``analysis.*`` loggers) that a notebook writes to its log
    file while it runs, so a long step shows on the console what it is doing."""
    import threading

    stop = threading.Event()

    def follow() -> None:
        position, pending = 0, b""
        while True:
            done = stop.wait(interval)
            try:
                with open(log, "rb") as handle:
                    handle.seek(position)
                    chunk = handle.read()
                position += len(chunk)
            except OSError:
                chunk = b""
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines + ([pending] if done else []):
                match = _PROGRESS.match(line.decode("utf-8", "replace"))
                if match:
                    _say(f"      {match.group(2)}")
            if done:
                return

    thread = threading.Thread(target=follow, name="progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


#: The kernel's own console log (e.g. its notice about unencrypted local TCP) is not for report readers;
#: errors in cells still reach the executed notebook.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]

#: What a kernel started ahead imports while the notebook before it runs: the libraries every notebook
#: imports (about 2 s on this machine). Importing is all it does: the notebook's own cells set everything else.
WARM_IMPORTS = ("import numpy, pandas, scipy.stats, matplotlib.pyplot, duckdb, pyarrow.parquet\n"
                "import analysis.reporting.nb, analysis.reporting.plotting, analysis.models")


class KernelPool:
    """Starts the kernel of the next notebook while the current one runs (on the other core), with the
    common libraries already imported, so that a notebook does not wait for its kernel. Each kernel runs one
    notebook and is shut down after it, as papermill would; a kernel that fails to start is not used (the
    notebook then starts its own)."""

    def __init__(self, run_dir: Path, cwd: Path) -> None:
        from analysis.reporting.nb import STAGING_ENV

        self.env = {**os.environ, STAGING_ENV: str(run_dir)}
        self.cwd = str(cwd)
        self.next: threading.Thread | None = None
        self.ready: list = []
        self.prepare()

    def _start(self) -> None:
        from jupyter_client.manager import KernelManager

        km = KernelManager(kernel_name=kernel_name())
        try:
            km.start_kernel(extra_arguments=KERNEL_ARGUMENTS, env=self.env, cwd=self.cwd)
            kc = km.client()
            kc.start_channels()
            try:
                kc.wait_for_ready(timeout=60)
                reply = kc.execute_interactive(WARM_IMPORTS, silent=True, store_history=False, timeout=120)
                if reply["content"]["status"] != "ok":
                    raise RuntimeError(reply["content"].get("evalue", "import failed"))
            finally:
                kc.stop_channels()
            self.ready.append(km)
        except Exception:  # noqa: BLE001 - not worth failing a report for: the notebook starts its own kernel
            if km.has_kernel:
                km.shutdown_kernel(now=True)

    def prepare(self) -> None:
        """Start a kernel for the next notebook, in the background."""
        self.next = threading.Thread(target=self._start, name="next-kernel", daemon=True)
        self.next.start()

    def take(self, more: bool = True):
        """The kernel started ahead (or None); with ``more``, start the one after it."""
        if self.next is not None:
            self.next.join()
            self.next = None
        km = self.ready.pop() if self.ready else None
        if more:
            self.prepare()
        return km

    def close(self) -> None:
        """Shut down the kernel started for a notebook that did not need it."""
        if self.next is not None:
            self.next.join()
            self.next = None
        while self.ready:
            self.ready.pop().shutdown_kernel(now=True)


def run_notebook(source: Path, target: Path, params_path: Path, run_dir: Path, cwd: Path,
                 pool: KernelPool | None = None, more: bool = True) -> None:
    """Execute one notebook with papermill into ``target``; with ``pool``, in the kernel it started ahead (and,
    when ``more`` notebooks follow, start the next one)."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from analysis.reporting.nb import STAGING_ENV

    previous = os.environ.get(STAGING_ENV)
    os.environ[STAGING_ENV] = str(run_dir)  # the kernel inherits it: the notebook writes into run_dir itself
    km = pool.take(more) if pool is not None else None
    try:
        with _progress_from(run_dir / "logs" / f"{source.stem}.log"):
            pm.execute_notebook(
                str(source), str(target),
                parameters={"params_path": str(params_path), "run_dir": str(run_dir)},
                kernel_name=kernel_name(), cwd=str(cwd), progress_bar=False, log_output=False,
                request_save_on_cell_execute=False, extra_arguments=KERNEL_ARGUMENTS,
                **({"km": km} if km is not None else {}),
            )
    except PapermillExecutionError as exc:
        if exc.ename == "PageEnds":  # the notebook ended its page early, on purpose (analysis.reporting.nb.end_page)
            _say(f"      the page ends early: {exc.evalue}")
            return
        raise StepFailed(f"{exc.ename}: {exc.evalue}") from exc
    finally:
        if km is not None and km.has_kernel:
            km.shutdown_kernel(now=True)
        if previous is None:
            os.environ.pop(STAGING_ENV, None)
        else:
            os.environ[STAGING_ENV] = previous


#: The title of each detail page, as its link on the summary reads (translated by analysis.reporting.i18n).
PAGE_TITLES = {"01_data_and_kpis": "Data and KPIs", "02_clv_models": "Customer value models",
               "03_segments": "Segments", "04_retention_roi": "Retention campaigns and ROI",
               "05_campaigns": "Measured campaigns"}


def page_title(stem: str) -> str:
    """The title of the page of notebook ``stem`` (a notebook added later gets one from its name)."""
    return PAGE_TITLES.get(stem, stem[3:].replace("_", " ").capitalize())


def render_html(executed: Path, target: Path, title: str, section: str = "", lang: str = "en") -> None:
    """Executed notebook -> stand-alone HTML without code, prompts or stderr.

    ``section`` (HTML, e.g. "since the last report") goes right after the title cell; ``lang`` is the
    report language of the page's own words (the link back to the summary).
    """
    from analysis.reporting.i18n import translate

    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(executed, as_version=4)
    if section:
        first_md = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
        cell = nbformat.v4.new_raw_cell(section, metadata={"kit_html": True})
        cell["id"] = "since-last-report"
        nb.cells.insert(first_md + 1, cell)
    # a page that ended early (analysis.reporting.nb.end_page): papermill's "An Exception was encountered" cells go
    nb.cells = [c for c in nb.cells if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])]
    ended = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(
        o.get("output_type") == "error" and o.get("ename") == "PageEnds" for o in c.get("outputs", []))), None)
    if ended is not None:  # nothing after the note: the headings that follow would have no content
        nb.cells = nb.cells[:ended + 1]
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected-parameters"  # papermill gives it a random id; keep the HTML reproducible
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
                            and not (o.get("output_type") == "error" and o.get("ename") == "PageEnds")]
    from analysis.reporting.narrative import localized

    for cell in nb.cells:  # the page's own text in the report language (analysis.reporting.narrative)
        if cell.cell_type == "markdown" and cell.get("id"):
            cell.source = localized(executed.stem, cell["id"], cell.source, lang)
    nb.metadata["title"] = translate(title, lang)
    nb.metadata["kit_back"] = translate("Back to the summary", lang)
    nb.metadata["kit_lang"] = lang
    templates = Path(__file__).parent / "reporting" / "templates" / "nbconvert"
    exporter = HTMLExporter(extra_template_basedirs=[str(templates)], template_name="kit")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.exclude_anchor_links = True
    exporter.language_code = lang  # <html lang=...>
    body, _ = exporter.from_notebook_node(nb)
    target.write_text(body, encoding="utf-8")


# ---------------------------------------------------------------- one writer per folder, atomic publish

RUN_MARKER = ".retention-kit-run"
"""File in every run folder the kit publishes. A run replaces only a folder that holds it (or, from
kit versions before the marker, a ``manifest.json`` with a ``kit_version``), or an empty one."""


def _made_by_kit(folder: Path) -> bool:
    if (folder / RUN_MARKER).is_file():
        return True
    try:
        return "kit_version" in json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def check_output_folder(out: Path, project_dir: Path, inputs: list[Path]) -> None:
    """Refuse an output folder whose replacement could destroy files the kit did not make.

    A run builds its report elsewhere and then replaces ``out`` as a whole, so ``out`` must be
    a new folder, an empty one, or a run folder a previous run of the kit published. Never the
    project folder or a folder containing it, the current folder or one containing it, a folder
    containing an input file, or an existing file.
    """
    out = out.resolve()
    fix = "Choose a new folder for the report, e.g. OUT=reports/my-run (--out)."
    if out.exists() and not out.is_dir():
        raise UnsafeOutput(f"The report folder {out} is an existing file, not a folder; the kit will not replace it. {fix}")
    guarded = [(project_dir.resolve(), "the project folder"), (Path.cwd().resolve(), "the current folder")]
    guarded += [(p.expanduser().resolve().parent, f"the folder of the input file {p}") for p in inputs]
    for place, what in guarded:
        if out == place or out in place.parents:
            where = "is" if out == place else "contains"
            raise UnsafeOutput(f"The report folder {out} {where} {what}; a run replaces its folder as a whole,"
                               f" so it would delete it. {fix}")
    if out.is_dir() and any(out.iterdir()) and not _made_by_kit(out):
        raise UnsafeOutput(f"The report folder {out} already exists and was not made by the kit (it has no"
                           f" {RUN_MARKER}); a run replaces its folder as a whole, so its files would be deleted. {fix}")

_STAGING = re.compile(r"^\.staging-(\d+)-\d+$")
_OLD = re.compile(r"^\.old-(.+)-(\d+)$")


def _pid_alive(pid: int) -> bool:
    """True if a process with this id exists (on this machine)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:  # a killed process nobody has reaped yet (a zombie) is dead too
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def lock_path(out: Path) -> Path:
    """The lock file of the report folder ``out``: ``.<name>.lock`` next to it."""
    return out.parent / f".{out.name}.lock"


class FolderLock:
    """Exclusive ``fcntl.flock`` lock on ``lock_path(out)``, released when the process ends.

    The lock file holds the pid and start time of the run holding it, for the message a
    second run shows. The file itself is never deleted (deleting a lock file while
    another process waits on it would let two runs in).
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = lock_path(out)
        self._fd: int | None = None

    def acquire(self) -> "FolderLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = ""
            with contextlib.suppress(OSError):
                holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            pid, since = (holder.split(" ", 1) + [""])[:2] if holder else ("unknown", "")
            raise RunLocked(
                f"another run is writing {self.out} (pid {pid}{', started ' + since if since else ''}). "
                f"Wait for it to finish, or choose another folder with OUT=... (--out). "
                f"Lock file: {self.path}"
            ) from None
        os.ftruncate(fd, 0)
        stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        os.pwrite(fd, f"{os.getpid()} {stamp}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def clean_stale(reports_root: Path) -> list[str]:
    """Tidy up after runs that were killed (their process no longer exists).

    * ``.staging-<pid>-<time>`` of a dead run: half-built report, removed.
    * ``.old-<name>-<pid>`` of a dead run: the previous report, set aside during the
      final swap. If ``<name>`` is missing (the run died between the two renames), it is
      put back; otherwise it is removed. Done under ``<name>``'s lock, so a live run
      writing that folder is never disturbed.

    Returns a line per action taken, for the console.
    """
    done: list[str] = []
    if not reports_root.is_dir():
        return done
    for entry in sorted(reports_root.iterdir()):
        if not entry.is_dir():
            continue
        staging = _STAGING.match(entry.name)
        if staging and not _pid_alive(int(staging.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            done.append(f"removed the unfinished folder of an interrupted run: {entry.name}")
            continue
        old = _OLD.match(entry.name)
        if old and not _pid_alive(int(old.group(2))):
            target = reports_root / old.group(1)
            try:
                with FolderLock(target):
                    if target.exists():
                        shutil.rmtree(entry, ignore_errors=True)
                        done.append(f"removed the replaced report left by an interrupted run: {entry.name}")
                    else:
                        os.replace(entry, target)
                        done.append(f"restored {target.name} (a run was interrupted while replacing it)")
            except RunLocked:
                continue
    return done


def _renameat2_exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return False
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if func(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
        return False  # e.g. a file system without exchange support: fall back
    raise OSError(err, os.strerror(err), str(a))


@contextlib.contextmanager
def _signals_deferred():
    """Hold back SIGINT/SIGTERM/SIGHUP for the few system calls that must not be split."""
    blocked = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _replace_dir(staging: Path, out: Path) -> None:
    """Publish the finished ``staging`` folder as ``out``; the old ``out`` is removed afterwards.

    With an existing ``out`` the two folders are swapped in one atomic step
    (``renameat2(RENAME_EXCHANGE)``): readers see the old or the new report, never a
    missing or half-written one. Where that is not available, the old folder is renamed
    aside, the new one renamed in, and :func:`clean_stale` puts the old one back if the
    process is killed in between. SIGINT/SIGTERM are held back during the renames.
    """
    old = out.with_name(f".old-{out.name}-{os.getpid()}")
    with _signals_deferred():
        if not out.exists():
            os.replace(staging, out)
            return
        if _renameat2_exchange(staging, out):
            os.replace(staging, old)  # staging now holds the previous report
        else:
            os.replace(out, old)
            os.replace(staging, out)
    shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------- screenshot of the summary

CHROMIUM_ENV = "RETENTION_KIT_CHROMIUM"
#: Flags for a headless Chromium that opens one local, script-free page: no sandbox (it
#: refuses to start as root without it), no GPU, and nothing that reaches the network.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                  "--disable-extensions", "--disable-default-apps", "--mute-audio"]


def find_chromium() -> str | None:
    """Chromium to use: ``$RETENTION_KIT_CHROMIUM`` (empty or ``none``: none), else ``chromium`` on PATH."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured is not None:
        return None if configured.strip().lower() in ("", "none", "off") else configured
    for name in ("chromium", "chromium-browser", "/usr/bin/chromium"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(html: Path, png: Path, width: int = 1280, height: int = 2400, timeout: float = 90) -> str | None:
    """Save a picture of ``html`` as ``png`` with headless Chromium; returns why not, or None on success."""
    import tempfile

    chromium = find_chromium()
    if chromium is None:
        return "Chromium not found (make setup-browser installs it)"
    with tempfile.TemporaryDirectory(prefix="retention-kit-chromium-") as profile:
        try:
            result = subprocess.run(
                [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                 f"--screenshot={png}", html.resolve().as_uri()],
                capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"Chromium failed: {exc}"
    if result.returncode != 0 or not png.is_file() or png.stat().st_size == 0:
        return f"Chromium exited with {result.returncode}: {result.stderr.strip()[-300:]}"
    return None


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
#: every section.
STEP_SECTIONS: dict[str, tuple[str, ...]] = {
    "ingest": ("engine", "spark", "data", "period"),
    "01_data_and_kpis": ("engine", "spark", "period", "kpis", "report"),
    "02_clv_models": ("engine", "spark", "kpis", "models", "clv", "segments", "report"),
    "03_segments": ("clv", "models", "segments", "privacy", "report"),
    "04_retention_roi": ("clv", "models", "segments", "roi", "campaigns", "privacy", "report"),
    "05_campaigns": ("clv", "segments", "roi", "campaigns", "report"),
}


def step_sections(step: str) -> tuple[str, ...]:
    """The configuration sections step ``step`` depends on (:data:`STEP_SECTIONS`; all of them if unlisted)."""
    return STEP_SECTIONS.get(step, SECTIONS)


def _step_config(params: RunParams, digests: dict[str, str], hashes: dict[str, str | None], step: str) -> dict:
    """What a step's key takes from the configuration: the digest of each section it reads and the files those
    sections name (``hashes``: the run's input files, hashed once, :func:`_input_hashes`)."""
    sections = step_sections(step)
    return {"config": {name: digests[name] for name in sections},
            "inputs": {str(p): hashes[str(p)] for p in input_files(params, sections)}}


def _input_hashes(params: RunParams) -> dict[str, str | None]:
    """``{path: sha256}`` of every input file of the run (None for a missing one): each file read once a run."""
    return {str(p): (sha256_of(p) if p.is_file() else None) for p in input_files(params)}


def _check_sections_read(staging: Path, step: str) -> None:
    """Stop when notebook ``step`` read a configuration section its step key does not cover."""
    record = staging / "logs" / f"{step}.sections.json"
    if not record.is_file():
        return
    extra = sorted(set(json.loads(record.read_text(encoding="utf-8"))) - set(step_sections(step)))
    if extra:
        raise KitError(f"Notebook {step} read the configuration section(s) {extra}, which"
                       f" analysis.pipeline.STEP_SECTIONS does not list for it. Add them there (so that a change to"
                       " them re-runs this page), or read them in another step.")


def dependencies(params: RunParams, project_dir: Path) -> list[Path]:
    """Every file a run's result depends on, for the Makefile: configuration inputs, notebooks, library."""
    src = Path(__file__).resolve().parent
    files = [p for p in input_files(params) if p.is_file()]
    files += notebooks(project_dir / NOTEBOOK_DIR)
    files += sorted(src.rglob("*.py")) + sorted(p for p in (src / "reporting" / "templates").rglob("*") if p.is_file())
    lock = project_dir / "requirements.lock"
    return files + ([lock] if lock.is_file() else [])


class _Steps:
    """Runs the steps of one run: times them, records their key and outputs, reuses what it can."""

    def __init__(self, staging: Path, reuse: incremental.Reuse, render_only: bool) -> None:
        self.staging, self.reuse, self.render_only = staging, reuse, render_only
        self.records: list[dict] = []

    def artifacts_so_far(self) -> dict[str, str]:
        """``{path: sha256}`` of the artifacts the steps so far wrote (each file has one writer),
        from their records: hashed once, when written or reused."""
        return {rel: sha for record in self.records for rel, sha in record.get("outputs", {}).items()
                if rel.startswith("artifacts/")}

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
        _say(header + self._why(name, config) if reused is None
             else header.split(":")[0] + ": unchanged, reused from the last run of this folder")
        ok = False
        try:
            if reused is not None:
                if self.render_only:  # keep the key the reused outputs were made with
                    key = self.reuse.steps[name]["key"]
                record.update(outputs=reused, reused=True)
            else:
                before = incremental.snapshot(self.staging)
                action()
                if key is not None:
                    record.update(outputs=incremental.written_since(self.staging, before), reused=False)
            ok = True
        finally:
            seconds = time.time() - t0
            if key is not None:
                record["key"] = key
            record.update(ended_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                          seconds=round(seconds, 3), ok=ok)
            self.records.append(record)
        if reused is None:
            _say(f"      done in {seconds:.1f} s")
        return reused is None

    def _why(self, name: str, config: dict[str, str] | None) -> str:
        """' (changed: roi, campaigns)' when the configuration sections step ``name`` reads differ from those of
        the last run of this folder, else ''."""
        before = (self.reuse.steps.get(name) or {}).get("config") if self.reuse.dir is not None else None
        if not config or not isinstance(before, dict):
            return ""
        changed = [section for section in config if before.get(section) != config[section]]
        return f" (changed in the configuration: {', '.join(changed)})" if changed else ""


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
    global _prefix
    previous_prefix, _prefix = _prefix, (f"{as_of} " if as_of else "")
    try:
        return _run(params_path, out, project_dir, as_of=as_of, reuse=reuse, render_only=render_only,
                    params_label=params_label, refresh_following=refresh_following, if_changed=if_changed)
    finally:
        _prefix = previous_prefix


def _ingest_key(common: dict, code: list[str], config: dict) -> str:
    """The step key of the ingest step (see :mod:`analysis.runs.incremental`); ``config``: :func:`_step_config`."""
    return incremental.digest({**common, **config,
                               "code": incremental.files_digest(incremental.module_closure(code))})


def _notebook_key(common: dict, notebook: Path, artifacts: dict[str, str], config: dict) -> str:
    """The step key of a notebook step, given the artifacts the steps before it wrote and the part of the
    configuration it reads (:func:`_step_config`)."""
    # the notebook's imports, and what puts its text cells in the report language before it runs
    code = sorted(set(incremental.notebook_code(notebook)) | set(incremental.module_closure(["reporting.narrative"])))
    return incremental.digest({**common, **config, "notebook": sha256_of(notebook),
                               "code": incremental.files_digest(code),
                               "artifacts": dict(sorted(artifacts.items()))})


def _render_key(common: dict, previous) -> str:
    """What the pages (comparison, HTML, summary) depend on beyond the steps: the code that renders
    them, its templates, and the previous report they are compared with."""
    src = Path(__file__).resolve().parent
    templates = sorted(p for p in (src / "reporting" / "templates").rglob("*") if p.is_file())
    return incremental.digest({**common,
                               "code": incremental.files_digest(incremental.module_closure(
                                   ["pipeline", "runs.history", "reporting.report", "runs.series"])),
                               "templates": incremental.files_digest(templates, src),
                               "previous": ({"folder": previous.dir.name,
                                             "artifacts": previous.manifest.get("artifacts")} if previous else None)})


def _not_up_to_date(out: Path, common: dict, code: list[str], nb_list: list[Path], render_key: str,
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
    artifacts: dict[str, str] = {}
    for name, key in [("ingest", lambda: _ingest_key(common, code, config_of("ingest")))] + [
            (nb.stem, lambda nb=nb: _notebook_key(common, nb, artifacts, config_of(nb.stem))) for nb in nb_list]:
        record = records.get(name) or {}
        if record.get("key") != key():
            return f"step {name} has new inputs"
        outputs = record.get("outputs") or {}
        for rel, sha in outputs.items():
            if not (out / rel).is_file() or sha256_of(out / rel) != sha:
                return f"{rel} was changed or removed"
        artifacts.update({rel: sha for rel, sha in outputs.items() if rel.startswith("artifacts/")})
    if manifest.get("render_key") != render_key:
        return "the pages have new inputs (the rendering code, or the previous report)"
    missing = [p for p in ["index.html", *(f"{nb.stem}.html" for nb in nb_list)] if not (out / p).is_file()]
    return f"{missing[0]} is missing" if missing else None


def _run(params_path: Path, out: Path | None, project_dir: Path | None, *, as_of: dt.date | None, reuse: bool,
         render_only: bool, params_label: str | None, refresh_following: bool, if_changed: bool = False) -> Path:
    """One run; see :func:`run`."""
    from analysis.runs import history, series
    from analysis.data.ingest import ingest_transactions
    from analysis.reporting.report import write_index

    project_dir = (project_dir or Path.cwd()).resolve()
    started = time.time()
    started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    params = load_params(params_path)
    pseudonyms = privacy.load_key(params.privacy.key_file, create=True, project_dir=project_dir)
    if pseudonyms.created:
        _say(f"note: created a random pseudonymisation key in {privacy.default_key_file()}.\n"
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
        _say(f"      {line}")
    # Python's string hashing is randomised per process; fix it for the notebook kernels
    # (they inherit the environment) so nothing can depend on set or dict-of-set order.
    os.environ.setdefault("PYTHONHASHSEED", "0")
    lock = FolderLock(out).acquire() if out else None
    staging = reports_root / f".staging-{os.getpid()}-{int(started)}"
    staging.mkdir()
    (staging / RUN_MARKER).write_text("A report folder made by the retention kit; a later run may replace it.\n")
    published = False
    steps = _Steps(staging, incremental.Reuse(out, enabled=reuse or render_only, force=render_only), render_only)
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

        hashes = _input_hashes(params)
        configs = {step: _step_config(params, digests, hashes, step) for step in ["ingest", *(n.stem for n in nb_list)]}
        config_of = configs.__getitem__
        whole = {**common, "params": sha256_of(Path(params_path)), "inputs": hashes}
        engine = "Spark" if params.engine == "spark" else "DuckDB"
        cut = f" as of {as_of}" if as_of else ""
        code = ["data.ingest", "pipeline"] + (["spark_engine"] if params.engine == "spark" else [])
        if if_changed and out is not None and not render_only and reuse:
            earlier = (series.previous_run(reports_root, series.folder_date(out), str(data_path))
                       if series.folder_date(out) else None)
            why = _not_up_to_date(out, common, code, nb_list, _render_key(whole, earlier), config_of)
            if why is None:
                shutil.rmtree(staging, ignore_errors=True)
                _say(f"{out} is up to date: every step's inputs (data, configuration, notebooks, library, previous"
                     " report) are as when it was made. Nothing to do.")
                return out
            if (out / "manifest.json").exists():
                _say(f"      {out.name} is out of date: {why}")

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

        if not render_only:  # the first notebook's kernel starts while the data are read
            pool = KernelPool(staging, project_dir)
        steps.run("ingest", _ingest_key(common, code, config_of("ingest")), ingest,
                  f"[1/{total}] ingest: reading {data_path} with {engine}{cut}", config=config_of("ingest")["config"])
        quality = json.loads((artifacts / "data_quality.json").read_text())
        dates = json.loads((artifacts / "run.json").read_text())
        _say(f"      {quality['rows_read']:,} rows read, {quality['rows_used']:,} used, "
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
                _say(f"      campaign {campaign.name}: {int((contacts['group'] == 'treatment').sum()):,} treated,"
                     f" {int((contacts['group'] == 'control').sum()):,} control"
                     + (f"; not measured: {late}" if late else
                        f"; {missing:,} listed customers have no purchase in these data (measured as not buying)"
                        if missing else ""))
        if out is None:
            out = reports_root / dates["observation_end"]
            check_output_folder(out, project_dir, input_files(params))
            lock = FolderLock(out).acquire()
            steps.reuse = incremental.Reuse(out, enabled=reuse)
        for i, nb in enumerate(nb_list, start=2):
            key = _notebook_key(common, nb, steps.artifacts_so_far(), config_of(nb.stem))

            def execute(nb=nb, last=i == len(nb_list) + 1):
                run_notebook(nb, staging / "executed" / nb.name, staging / "params.yaml", staging, project_dir,
                             pool=pool, more=not last)
                _check_sections_read(staging, nb.stem)

            steps.run(nb.stem, key, execute, f"[{i}/{total}] {nb.stem}: executing with papermill",
                      config=config_of(nb.stem)["config"])

        # ---- since the last report: compare with the previous run of the series
        series_date = series.folder_date(out)
        comparison, previous, trend = None, None, None

        def compare():
            nonlocal comparison, previous, trend
            if series_date is None:
                _say(f"      {out.name} is not named by a date (YYYY-MM-DD): no comparison")
                return
            series.wait_for_earlier(reports_root, series_date, _say)
            previous = series.previous_run(reports_root, series_date, str(data_path))
            earlier = [r.dir for r in series.complete_runs(reports_root)
                       if r.date < series_date and series.same_series(r, str(data_path))]
            trend = history.kpi_trend(earlier + [staging])
            if previous is None:
                _say("      no earlier report of this data in the folder: this is the first of the series")
                return
            from analysis.reporting.nb import Run, model_unavailable

            if any(model_unavailable(Run(run)) for run in (staging, previous.dir)):
                _say(f"      not compared with {previous.dir.name}: the purchase model of one of the two reports"
                     " could not be fitted")
                previous = None
                return
            comparison = history.compare_runs(staging, previous.dir, params)
            _say(f"      compared with {previous.dir.name}")

        steps.run("compare", None, compare, f"[{total - 1}/{total}] compare: with the previous report")
        pseudonym = privacy.Pseudonymiser(pseudonyms)

        def section(stage: str) -> str:
            if series_date is None or stage not in history.STAGES:  # pages without a since-last section
                return ""
            return history.section_html(comparison, stage, params, pseudonym, trend)

        pages = []

        def html():
            for nb in nb_list:
                title = page_title(nb.stem)
                render_html(staging / "executed" / nb.name, staging / f"{nb.stem}.html", title, section(nb.stem),
                            params.report.language)
                pages.append((nb.stem + ".html", title))

        steps.run("html", None, html, f"[{total}/{total}] html: rendering reports")
        git = git_state(project_dir)
        label = params_label or str(params_path)
        manifest = {
            "kit_version": _kit_version(),
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
            "environment": installed_distributions(),
            "git": git,
            "python": {"version": sys.version.split()[0], "implementation": platform.python_implementation(),
                       "executable": sys.executable},
            "platform": platform.platform(),
            "machine": {"system": platform.system(), "release": platform.release(), "arch": platform.machine()},
            "env": {name: os.environ[name] for name in REPRODUCIBILITY_ENV if name in os.environ},
            "repeat": (f"git checkout {git['commit']} && " if git.get("commit") else "")
                      + f"make report PARAMS={label}" + (f" AS_OF={as_of}" if as_of else "") + f" OUT={out}",
            "artifacts": {p.relative_to(staging).as_posix(): sha256_of(p)
                          for p in sorted(artifacts.rglob("*")) if p.is_file()},
            "started_at": started_at,
            "steps": steps.records,
            "render_key": _render_key(whole, previous),
        }
        manifest["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        manifest["duration_seconds"] = round(time.time() - started, 3)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        write_index(staging, params, pages, manifest, since_html=section("summary"))
        t0 = time.time()
        why_not = screenshot(staging / "index.html", staging / "summary.png")
        manifest["screenshot"] = ({"file": "summary.png", "seconds": round(time.time() - t0, 3)} if why_not is None
                                  else {"file": None, "reason": why_not})
        if why_not and find_chromium():  # no Chromium is normal; a failing one is worth a line
            _say(f"      note: no summary.png ({why_not})")
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        _replace_dir(staging, out)
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
        kept = _prune_failed(failed)
        _say(f"      details of the failed run: {target}/logs/pipeline.log (the last {kept} failed runs are kept in"
             f" {failed})")
        raise
    finally:
        if pool is not None:
            pool.close()
        if lock is not None:
            lock.release()
    if series_date is not None:
        for note in series.publish_index(reports_root):
            _say(f"      note: {note}")
        if refresh_following:
            _refresh_next(reports_root, out, series_date, str(data_path), project_dir)
    return out


KEEP_FAILED = 5
"""Failed runs kept in ``reports/.failed/`` for their logs; older ones are removed."""


def _prune_failed(failed: Path) -> int:
    """Remove all but the newest ``KEEP_FAILED`` failed-run folders; returns how many are kept."""
    entries = sorted((p for p in failed.iterdir() if p.is_dir() and _STAGING.match(p.name)),
                     key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in entries[KEEP_FAILED:]:
        shutil.rmtree(old, ignore_errors=True)
    return min(len(entries), KEEP_FAILED)


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
    _say(f"\nThe report of {following.date} was compared with "
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
            _say(f"      {following.dir.name} is being written by another run, which does its own comparison")
        except (KitError, StepFailed) as exc:
            _say(f"      note: could not update {following.dir.name}: {exc}")


def _kit_version() -> str:
    from analysis import __version__

    return __version__


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
            _say(f"note: {note}")
        _say(f"Index of {len(series.complete_runs(args.reports.resolve()))} report(s): {args.reports / 'index.html'}")
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
            _say(f"ERROR: {exc}")
            return 2

    def _on_sigterm(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one clean-up is enough
        raise Terminated()

    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        out = run(args.params, args.out, as_of=as_of, reuse=not args.no_reuse, if_changed=args.if_changed)
    except RunLocked as exc:
        _say(f"\nERROR: {exc}")
        return 3
    except NotEnoughHistory as exc:
        if args.skip_early:
            _say(f"{as_of or ''} skipped: {exc}".strip())
            return 0
        _say(f"ERROR: {exc}")
        return 2
    except (KitError, StepFailed) as exc:
        _say(f"\nERROR: {exc}\nThe last good report (if any) was left as it was.")
        return 2
    except KeyboardInterrupt:
        _say("\nInterrupted. The last good report (if any) was left as it was.")
        return 130
    except Terminated:
        _say("\nTerminated. The last good report (if any) was left as it was.")
        return 143
    except OSError as exc:  # the machine, not the data: a folder that cannot be written, a full disk, ...
        _say(f"\nERROR: {_os_problem(exc, args.out)}\nThe last good report (if any) was left as it was.")
        return 2
    except Exception as exc:  # noqa: BLE001 - unexpected: short message, details in the log
        _say(f"\nERROR: unexpected {type(exc).__name__}: {exc}\nThe last good report (if any) was left as it was.")
        return 1
    _say(f"\nReport ready in {time.time() - t0:.0f} s: {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    exit_code = main()
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
