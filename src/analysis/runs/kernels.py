"""Executing the report notebooks: papermill, a pool of warm kernels, and progress from their logs.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from analysis.errors import StepFailed
from analysis.runs import console
from analysis.runs.runfolder import STAGING_ENV


PROJECT_KERNEL = "retention-kit"


#: Set for the notebooks' kernels unless the user set them (:func:`kernel_environment`).
#:
#: - ``PYTHONHASHSEED``: Python's string hashing is randomised per process; fixed, nothing can depend on the order
#:   of a set or a dict of sets.
#: - ``OPENBLAS_THREAD_TIMEOUT``: OpenBLAS's worker threads keep a core busy (a spin loop of about 2^28 cycles)
#:   after every threaded call, such as a dot product of 10,000 values or more, waiting for the next one. The
#:   model stage makes thousands of such calls while its fits and scores already keep both cores busy, so the
#:   spinning takes CPU from them: at 1M customers 6 s of CPU and 2 s of the stage's 15 s. At 4 (2^4 cycles, the
#:   least) they go to sleep at once. The work is split over the threads as before, so every number is the same.
#: - ``NUMPY_MADVISE_HUGEPAGE``: numpy asks the system for huge memory pages (2 MB) for its large arrays. Where the
#:   system then compacts memory to find them (transparent huge pages with ``defrag`` on ``madvise``, as here), the
#:   model stage's many short-lived arrays of a few MB cost more system time than the pages save: at 1M customers
#:   3.0 s of system time instead of 1.9 s, and 0.45 s of the stage's 13 s.
KERNEL_ENV = {"PYTHONHASHSEED": "0", "OPENBLAS_THREAD_TIMEOUT": "4", "NUMPY_MADVISE_HUGEPAGE": "0"}


def kernel_environment() -> None:
    """Put :data:`KERNEL_ENV` into this process's environment where the user has not set those variables: the
    kernels inherit it. Called before the first kernel starts (OpenBLAS reads it once, when it is loaded)."""
    for name, value in KERNEL_ENV.items():
        os.environ.setdefault(name, value)


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
def _progress_from(log: Path, label: str = "", interval: float = 0.2, on_release: Callable[[], None] | None = None):
    """Echo the progress lines (INFO of the ``analysis.*`` loggers) that a notebook writes to its log
    file while it runs, so a long step shows on the console what it is doing. On the line that says the page's
    artifacts are written (:data:`~analysis.runs.runfolder.ARTIFACTS_WRITTEN`), call ``on_release()`` (once, in
    the thread that follows the log)."""
    import threading

    from analysis.runs.runfolder import ARTIFACTS_WRITTEN

    stop = threading.Event()

    def follow() -> None:
        nonlocal on_release
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
                    console.echo(f"      {label}{match.group(2)}")
                    if match.group(2) == ARTIFACTS_WRITTEN and on_release is not None:
                        release, on_release = on_release, None
                        try:
                            release()
                        except Exception as exc:  # noqa: BLE001 - the later pages then wait for the page's end
                            console.echo(f"      {label}note: the later pages wait for the page's end ({exc})")
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
WARM_IMPORTS = ("import numpy, pandas, scipy.stats, matplotlib.pyplot, seaborn, duckdb, pyarrow.parquet\n"
                "import analysis.reporting.nb, analysis.reporting.plotting, analysis.models")


#: What a kernel runs between two notebooks (:meth:`KernelPool.done`): the next notebook finds it as a fresh kernel
#: with :data:`WARM_IMPORTS` done would be, apart from the modules already imported. Its figures are closed and its
#: log file handlers closed; IPython's reset empties the namespace and the output history and starts a new history
#: session with the cell counter at 1 (so the executed notebook is the one a fresh kernel gives); the freed memory
#: goes back to the system (glibc's ``malloc_trim``; a no-op elsewhere). Every notebook's ``nb.start`` sets the language, the number
#: notation, the plot style and the log file again.
RESET = ("import logging as __logging, matplotlib as __mpl, matplotlib.pyplot as __plt\n"
         "__plt.close('all')\n"
         "for __h in __logging.getLogger().handlers[:]:\n"
         "    __logging.getLogger().removeHandler(__h); __h.close()\n"
         "__mpl.rc_file_defaults()\n"
         "get_ipython().reset(new_session=True)\n"
         "__import__('gc').collect()\n"
         "try:\n"
         "    __import__('ctypes').CDLL('libc.so.6').malloc_trim(0)\n"
         "except (OSError, AttributeError):\n"
         "    pass\n")


class KernelPool:
    """Kernels for the run's notebooks, started ahead with the common libraries imported, so that a notebook does
    not wait for its kernel. ``warm`` kernels start at once (one per page that may run at once) and no more than
    ``notebooks`` are started in all (None: no limit). A kernel whose notebook ran to its end is reset
    (:data:`RESET`) and serves a notebook to come: the imports (about 2 s of CPU per kernel) are paid once per kernel,
    not once per notebook. A kernel whose notebook failed is shut down, and one is started in its place while
    notebooks remain. A kernel that fails to start or to reset is not used (the notebook then starts its own)."""

    def __init__(self, run_dir: Path | None, cwd: Path, notebooks: int | None = None, warm: int = 1) -> None:
        self.env = {**os.environ, **({STAGING_ENV: str(run_dir)} if run_dir is not None else {})}
        self.run_dir = None if run_dir is None else str(run_dir)  # its name, when known (set_run_dir)
        self.dir_in: dict[int, str | None] = {}  # id of a kernel -> the run folder its STAGING_ENV names
        self.cwd = str(cwd)
        self.left = notebooks  # notebooks not yet given a kernel (None: no limit)
        self.starts = notebooks  # kernels that may still be started (None: no limit)
        self.lock = threading.Lock()
        self.started: list[threading.Thread] = []
        self.stopping: list[threading.Thread] = []  # kernels being shut down (no notebook to come for them)
        self.ready: queue.Queue = queue.Queue()  # a started kernel, or None for one that failed to start
        self.waiting = 0  # kernels started, starting or being reset, and not yet taken
        self.live: set = set()  # kernels taken, running a notebook
        self.starting: set = set()  # (event loop, task) of each kernel being started, for close() to cancel
        for _ in range(warm):
            self.prepare()

    def _start(self) -> None:
        import asyncio

        async def start():
            me = (asyncio.get_running_loop(), asyncio.current_task())
            with self.lock:
                self.starting.add(me)
            try:
                return await self._warm_kernel()
            finally:
                with self.lock:
                    self.starting.discard(me)

        self.ready.put(asyncio.run(start()))

    async def _warm_kernel(self):
        """A started kernel with :data:`WARM_IMPORTS` done, or None. An asynchronous kernel manager, as papermill's
        own: papermill then notices within a second when the kernel dies (killed by :meth:`abort`, or by the
        system for want of memory), where with a blocking one it would wait for output for ever."""
        from jupyter_client.manager import AsyncKernelManager

        # papermill's client for the kernel comes from the manager: one that is ready without 0.2 s of IOPub silence
        km = AsyncKernelManager(kernel_name=kernel_name(), client_class="analysis.runs.readyclient.ReadyClient")
        return await self._run_or_none(km, WARM_IMPORTS, start=True)

    def _folder_code(self, km, run_dir: str | None) -> str | None:
        """The code that names ``run_dir`` in the kernel's :data:`STAGING_ENV`, or None when it names it already."""
        if run_dir is None or self.dir_in.get(id(km)) == run_dir:
            return None
        return f"__import__('os').environ[{STAGING_ENV!r}] = {run_dir!r}"

    async def _run_or_none(self, km, code: str, start: bool = False, run_dir: str | None = None):
        """Run ``code`` in the kernel of ``km`` (started first with ``start``) without output or history, then name
        ``run_dir`` in its :data:`STAGING_ENV` (after a start: the run folder if it has a name by then), and return
        ``km``; if that fails (a kernel that is gone included) or is cancelled (:meth:`close`), shut the kernel
        down and return None: the notebook then starts its own kernel.

        A started kernel is waited for as papermill does (``wait_for_ready``). A running one is sent the code at
        once and its reply read on the shell channel alone: ``wait_for_ready`` spends 0.2 s on a new client's
        IOPub socket, and a reset or a run folder named in a kernel that a page waits for is on the run's path."""
        import asyncio

        try:
            if start:
                # the kernel's own stdout and stderr are not for the console: a kernel that fails to start (say, a
                # port taken between its choice and its use) is replaced by the notebook's own, and a cell's
                # output reaches the notebook through the kernel's messages
                await km.start_kernel(extra_arguments=KERNEL_ARGUMENTS, env=self.env, cwd=self.cwd,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                self.dir_in[id(km)] = self.env.get(STAGING_ENV)
            kc = km.client()
            kc.start_channels(iopub=start, stdin=False, hb=False)
            try:
                if start:
                    await kc.wait_for_ready(timeout=60)  # raises within a second for a kernel that died
                await _execute(kc, km, code, timeout=120)
                folder = run_dir if not start else self.run_dir
                extra = self._folder_code(km, folder)
                if extra:
                    await _execute(kc, km, extra, timeout=60)
                    self.dir_in[id(km)] = folder
            finally:
                kc.stop_channels()
            return km
        except (Exception, asyncio.CancelledError):  # noqa: BLE001 - not worth failing a report for
            self.dir_in.pop(id(km), None)
            if km.has_kernel:
                await km.shutdown_kernel(now=True)
            return None

    def _reset(self, km) -> None:
        import asyncio

        self.ready.put(asyncio.run(self._run_or_none(km, RESET, run_dir=self.run_dir)))

    def set_run_dir(self, run_dir: Path) -> None:
        """The run folder, once it has a name (a pool from :func:`early_pool` starts before): a kernel still
        starting names it in its :data:`STAGING_ENV` right after its imports, so :meth:`take` need not."""
        with self.lock:
            self.run_dir = str(run_dir)

    def _background(self, target, *args) -> None:
        """Run ``target`` for a kernel to be taken later (one more waiting); the caller holds the lock."""
        self.waiting += 1
        thread = threading.Thread(target=target, args=args, name="next-kernel", daemon=True)
        self.started.append(thread)
        thread.start()

    def _more_wanted(self) -> bool:
        """Whether a notebook to come may find no kernel waiting for it (the caller holds the lock)."""
        return self.left is None or self.left > self.waiting

    def prepare(self) -> None:
        """Start a kernel for a notebook to come, in the background (none when ``notebooks`` are all served)."""
        with self.lock:
            if self.starts is not None:
                if self.starts <= 0 or not self._more_wanted():
                    return
                self.starts -= 1
            self._background(self._start)

    def take(self, run_dir: Path | None = None):
        """The first kernel to be ready (or None: none waiting, or it failed to start or to reset), with
        :data:`STAGING_ENV` set to ``run_dir`` in it when given (a pool may start before the run folder has a
        name: :func:`early_pool`)."""
        import asyncio

        with self.lock:
            started = self.waiting > 0
            self.waiting -= started
            if self.left is not None:
                self.left = max(self.left - 1, 0)
        km = self.ready.get() if started else None
        if km is not None and self._folder_code(km, None if run_dir is None else str(run_dir)):
            km = asyncio.run(self._run_or_none(km, "pass", run_dir=str(run_dir)))
        elif km is not None and not asyncio.run(km.is_alive()):  # gone since it was made ready (e.g. out of memory)
            self._drop(km)
            km = None
        if km is not None:
            self.live.add(km)
        return km

    def done(self, km, reuse: bool = True) -> None:
        """The notebook of ``km`` has finished. With ``reuse`` (it ran to its end) the kernel is reset for a
        notebook to come, if one may need it; otherwise it is shut down, and one started in its place if needed."""
        self.live.discard(km)
        with self.lock:
            keep = reuse and self._more_wanted()
            if keep:
                self._background(self._reset, km)
        if not keep:
            self._drop(km)
            self.prepare()

    def _drop(self, km) -> None:
        """Shut a kernel down in the background (close() waits for it): the page's step, and the page after it,
        need not wait for the kernel to end."""
        self.dir_in.pop(id(km), None)
        thread = threading.Thread(target=_shutdown, args=(km,), name="kernel-shutdown", daemon=True)
        with self.lock:
            self.stopping.append(thread)
        thread.start()

    def abort(self) -> None:
        """Stop the kernels running notebooks now (the run was interrupted): their notebooks fail at once."""
        for km in list(self.live):
            # the process is killed from here, not shut down through its manager, which the notebook's thread is
            # using: papermill then sees a dead kernel within a second, and that thread shuts the manager down
            pid = getattr(km.provisioner, "pid", None) if km.has_kernel else None
            if pid:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        """Shut down the kernels started or reset for notebooks that did not need them; those still starting are
        cancelled (a run that reused every page, or stopped early, does not wait for them)."""
        with self.lock:
            for loop, task in self.starting:
                loop.call_soon_threadsafe(task.cancel)
        for thread in [*self.started, *self.stopping]:
            thread.join()
        while not self.ready.empty():
            km = self.ready.get()
            if km is not None:
                _shutdown(km)


def early_pool(argv: list[str], cwd: Path | None = None) -> KernelPool | None:
    """For ``python -m analysis.pipeline run ...`` (``argv`` without the program): a pool whose two kernels start at
    once, while the pipeline itself is still importing the kit (about 1 s), before the run folder has a name.
    None for the other commands, which execute no notebook."""
    if not argv or argv[0] != "run" or "-h" in argv or "--help" in argv:
        return None
    cwd = cwd or Path.cwd()
    kernel_environment()
    try:
        count = len(notebooks(cwd / NOTEBOOK_DIR))
    except StepFailed:  # no notebooks here: the run says so itself
        return None
    return KernelPool(None, cwd, notebooks=count, warm=min(count, 2))


async def _execute(kc, km, code: str, timeout: float) -> None:
    """Run ``code`` in the kernel through its client ``kc`` (shell channel) and wait for the reply; raise if it
    fails, if the kernel dies (checked every second) or after ``timeout`` seconds."""
    import time

    msg_id = kc.execute(code, silent=True, store_history=False, allow_stdin=False)
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = await kc.get_shell_msg(timeout=1)
        except queue.Empty:
            if not await km.is_alive():
                raise RuntimeError("the kernel died") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"no reply in {timeout:g} s") from None
            continue
        if reply.get("parent_header", {}).get("msg_id") == msg_id:
            if reply["content"]["status"] != "ok":
                raise RuntimeError(reply["content"].get("evalue", "failed"))
            return


def _shutdown(km) -> None:
    """Shut down a kernel of :class:`KernelPool` (an asynchronous manager) from any thread."""
    import asyncio

    if km.has_kernel:
        asyncio.run(km.shutdown_kernel(now=True))


def run_notebook(source: Path, target: Path, params_path: Path, run_dir: Path, cwd: Path,
                 pool: KernelPool | None = None, label: str = "", on_release: Callable[[], None] | None = None) -> None:
    """Execute one notebook with papermill into ``target``; with ``pool``, in a kernel of the pool, which gets it
    back afterwards (reset for the next notebook if this one ran to its end). ``label`` goes before its progress lines on the console
    (the page's name, when two pages run at once). ``on_release``: called when the page says its artifacts are
    written (:func:`_progress_from`)."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    previous = os.environ.get(STAGING_ENV)
    os.environ[STAGING_ENV] = str(run_dir)  # the kernel inherits it: the notebook writes into run_dir itself
    km = pool.take(run_dir) if pool is not None else None
    finished = False  # ran to its end (or ended its page on purpose): its kernel may serve the next notebook
    try:
        with _progress_from(run_dir / "logs" / f"{source.stem}.log", label, on_release=on_release):
            pm.execute_notebook(
                str(source), str(target),
                parameters={"params_path": str(params_path), "run_dir": str(run_dir)},
                kernel_name=kernel_name(), cwd=str(cwd), progress_bar=False, log_output=False,
                request_save_on_cell_execute=False, extra_arguments=KERNEL_ARGUMENTS,
                **({"km": km} if km is not None else {}),
            )
        finished = True
    except PapermillExecutionError as exc:
        if exc.ename == "PageEnds":  # the notebook ended its page early, on purpose (analysis.reporting.nb.end_page)
            console.echo(f"      the page ends early: {exc.evalue}")
            finished = True
            return
        raise StepFailed(f"{exc.ename}: {exc.evalue}") from exc
    finally:
        if km is not None:
            pool.done(km, reuse=finished)
        if previous is None:
            os.environ.pop(STAGING_ENV, None)
        else:
            os.environ[STAGING_ENV] = previous
