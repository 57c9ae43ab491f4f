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
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from analysis.config import RunParams, load_params, params_to_dict
from analysis.errors import KitError
from analysis import privacy

PROJECT_KERNEL = "retention-kit"
NOTEBOOK_DIR = Path("notebooks")
PACKAGES = ["analysis", "duckdb", "pyspark", "pandas", "numpy", "scipy", "lifetimes", "matplotlib", "seaborn",
            "papermill", "nbconvert", "nbformat", "ipykernel", "pyarrow", "pydantic", "PyYAML", "Jinja2"]


class StepFailed(Exception):
    """A pipeline step failed; the message is meant for the console."""


class RunLocked(KitError):
    """Another run is writing the same report folder."""


class Terminated(BaseException):
    """The pipeline received SIGTERM (raised by the handler :func:`main` installs)."""


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
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected-parameters"  # papermill gives it a random id; keep the HTML reproducible
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


# ---------------------------------------------------------------- one writer per folder, atomic publish

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


def run(params_path: Path, out: Path | None = None, project_dir: Path | None = None) -> Path:
    """Execute the pipeline; returns the run folder. Raises KitError or StepFailed."""
    from analysis.ingest import ingest_transactions
    from analysis.report import write_index

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
    out = out.resolve() if out else None
    reports_root = (out.parent if out else project_dir / "reports").resolve()
    reports_root.mkdir(parents=True, exist_ok=True)
    for line in clean_stale(reports_root):
        _say(f"      {line}")
    # Python's string hashing is randomised per process; fix it for the notebook kernels
    # (they inherit the environment) so nothing can depend on set or dict-of-set order.
    os.environ.setdefault("PYTHONHASHSEED", "0")
    lock = FolderLock(out).acquire() if out else None
    staging = reports_root / f".staging-{os.getpid()}-{int(started)}"
    staging.mkdir()
    steps: list[dict] = []
    published = False

    def step(name: str):
        class _Timer:
            def __enter__(self_inner):
                self_inner.t0 = time.time()
                self_inner.start = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
                return self_inner

            def __exit__(self_inner, *exc):
                seconds = time.time() - self_inner.t0
                steps.append({"step": name, "started_at": self_inner.start,
                              "ended_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                              "seconds": round(seconds, 3), "ok": exc[0] is None})
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
        engine = "Spark" if params.engine == "spark" else "DuckDB"
        _say(f"[1/{total}] ingest: reading {data_path} with {engine}")
        with step("ingest"):
            if params.engine == "spark":
                from analysis import spark_engine

                session = spark_engine.spark_session(params.spark.master, params.spark.app_name, params.spark.conf)
                quality = spark_engine.ingest_transactions(params.data, artifacts / "purchases.parquet", spark=session,
                                                           observation_end=params.period.observation_end)
            else:
                quality = ingest_transactions(params.data, artifacts / "purchases.parquet",
                                              observation_end=params.period.observation_end)
            dates = resolve_dates(params, quality.observation_end, quality.first_date)
            (artifacts / "data_quality.json").write_text(json.dumps(quality.to_dict(), indent=2) + "\n")
            (artifacts / "run.json").write_text(json.dumps(dates, indent=2) + "\n")
            _say(f"      {quality.rows_read:,} rows read, {quality.rows_used:,} used, "
                 f"{quality.customers:,} customers, {quality.first_date} to {quality.observation_end}")
        if out is None:
            out = reports_root / dates["observation_end"]
            lock = FolderLock(out).acquire()
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
        git = git_state(project_dir)
        manifest = {
            "kit_version": _kit_version(),
            "params_file": str(params_path),
            "params_sha256": sha256_of(Path(params_path)),
            "params": params_to_dict(params),
            "input": {"path": str(data_path),
                      **({"bytes": data_path.stat().st_size, "sha256": sha256_of(data_path)} if data_path.is_file()
                         else {"bytes": None, "sha256": None})},
            "dates": dates,
            "seed": params.models.seed,
            "privacy": {"pseudonyms": f"{privacy.PREFIX} + first {privacy.HEX_DIGITS} hex digits of HMAC-SHA256(key, id)",
                        "key_source": pseudonyms.source, "key_fingerprint": pseudonyms.fingerprint,
                        "crm_export_real_ids": params.privacy.crm_export_real_ids},
            "packages": package_versions(),
            "environment": installed_distributions(),
            "git": git,
            "python": {"version": sys.version.split()[0], "implementation": platform.python_implementation(),
                       "executable": sys.executable},
            "platform": platform.platform(),
            "machine": {"system": platform.system(), "release": platform.release(), "arch": platform.machine()},
            "env": {name: os.environ[name] for name in REPRODUCIBILITY_ENV if name in os.environ},
            "repeat": (f"git checkout {git['commit']} && " if git.get("commit") else "")
                      + f"make report PARAMS={params_path} OUT={out}",
            "artifacts": {p.relative_to(staging).as_posix(): sha256_of(p)
                          for p in sorted(artifacts.rglob("*")) if p.is_file()},
            "started_at": started_at,
            "steps": steps,
        }
        manifest["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        manifest["duration_seconds"] = round(time.time() - started, 3)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        write_index(staging, params, pages, manifest)
        t0 = time.time()
        why_not = screenshot(staging / "index.html", staging / "summary.png")
        manifest["screenshot"] = ({"file": "summary.png", "seconds": round(time.time() - t0, 3)} if why_not is None
                                  else {"file": None, "reason": why_not})
        if why_not and find_chromium():  # no Chromium is normal; a failing one is worth a line
            _say(f"      note: no summary.png ({why_not})")
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        _replace_dir(staging, out)
        published = True
        return out
    except RunLocked:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except BaseException:
        if published:  # e.g. a signal held back during the swap arrives afterwards
            raise
        failed = reports_root / ".failed"
        failed.mkdir(exist_ok=True)
        target = failed / staging.name
        (staging / "logs").mkdir(parents=True, exist_ok=True)
        (staging / "logs" / "pipeline.log").write_text(traceback.format_exc())
        os.replace(staging, target)
        _say(f"      details of the failed run: {target}/logs/pipeline.log")
        raise
    finally:
        if lock is not None:
            lock.release()


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

    def _on_sigterm(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one clean-up is enough
        raise Terminated()

    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        out = run(args.params, args.out)
    except RunLocked as exc:
        _say(f"\nERROR: {exc}")
        return 3
    except (KitError, StepFailed) as exc:
        _say(f"\nERROR: {exc}\nThe last good report (if any) was left as it was.")
        return 2
    except KeyboardInterrupt:
        _say("\nInterrupted. The last good report (if any) was left as it was.")
        return 130
    except Terminated:
        _say("\nTerminated. The last good report (if any) was left as it was.")
        return 143
    except Exception as exc:  # noqa: BLE001 - unexpected: short message, details in the log
        _say(f"\nERROR: unexpected {type(exc).__name__}: {exc}\nThe last good report (if any) was left as it was.")
        return 1
    _say(f"\nReport ready in {time.time() - t0:.0f} s: {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
