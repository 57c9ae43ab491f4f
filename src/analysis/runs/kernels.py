"""Executing the report notebooks: papermill, a pool of warm kernels, and progress from their logs.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from pathlib import Path

from analysis.errors import StepFailed
from analysis.runs import console


PROJECT_KERNEL = "retention-kit"


NOTEBOOK_DIR = Path("notebooks")


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
                    console.echo(f"      {match.group(2)}")
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
            console.echo(f"      the page ends early: {exc.evalue}")
            return
        raise StepFailed(f"{exc.ename}: {exc.evalue}") from exc
    finally:
        if km is not None and km.has_kernel:
            km.shutdown_kernel(now=True)
        if previous is None:
            os.environ.pop(STAGING_ENV, None)
        else:
            os.environ[STAGING_ENV] = previous
