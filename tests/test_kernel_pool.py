"""The kernel of the next notebook starts while the current one runs (kernels.KernelPool): it must be an
ordinary kernel for the notebook (same environment, folder and outputs) and never outlive its notebook."""

from __future__ import annotations

import nbformat
import pytest

from analysis.runs import kernels
from analysis import pipeline
from analysis.reporting.nb import STAGING_ENV

ROOT = pipeline.Path(__file__).resolve().parents[1]


def _alive(km) -> bool:
    import asyncio

    return km.has_kernel and asyncio.run(km.is_alive())


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": kernels.kernel_name(), "display_name": "Python", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_a_kernel_started_ahead_runs_the_notebook_like_its_own_and_is_shut_down(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    source = _notebook(
        tmp_path / "probe.ipynb",
        "import os, sys\n"
        f"print(os.environ[{STAGING_ENV!r}], os.getcwd(), 'pandas' in sys.modules, sep='|')",
    )
    pool = kernels.KernelPool(run_dir, ROOT, notebooks=1)
    try:
        (started,) = pool.started
        started.join()
        km = pool.ready.queue[0]  # started and warmed up ahead
        kernels.run_notebook(source, tmp_path / "out.ipynb", tmp_path / "params.yaml", run_dir, ROOT, pool=pool)
        _settled(pool)
        assert not _alive(km)  # shut down after its one notebook (in the background)
        assert pool.started == [started] and pool.ready.empty() and not pool.live  # none for a notebook to come
    finally:
        pool.close()
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in out.cells for o in c.get("outputs", []))
    staging, cwd, warmed = printed.strip().split("|")
    assert (staging, cwd, warmed) == (str(run_dir), str(ROOT), "True")


def test_a_failing_notebook_shuts_its_kernel_down_and_close_stops_the_one_started_ahead(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    source = _notebook(tmp_path / "fails.ipynb", "raise ValueError('broken on purpose')")
    pool = kernels.KernelPool(run_dir, ROOT)
    pool.started[0].join()
    km = pool.ready.queue[0]
    with pytest.raises(pipeline.StepFailed, match="broken on purpose"):
        kernels.run_notebook(source, tmp_path / "out.ipynb", tmp_path / "params.yaml", run_dir, ROOT, pool=pool)
    _settled(pool)
    assert not _alive(km)
    pool.started[1].join()
    following = pool.ready.queue[0]  # started for the next notebook, which will not run now
    pool.close()
    assert not _alive(following) and pool.ready.empty()


def test_two_kernels_started_ahead_serve_two_notebooks_at_once_and_an_abort_stops_them(tmp_path):
    """Two pages run side by side (analysis.runs.schedule): each takes a kernel of its own; abort() (the run was
    interrupted) shuts down the kernels of the notebooks still running, which then fail at once."""
    import threading
    import time

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    quick = _notebook(tmp_path / "quick.ipynb", "print('quick')")
    slow = _notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(120)")
    pool = kernels.KernelPool(run_dir, ROOT, notebooks=2, warm=2)
    failed = []

    def run_slow():
        try:
            kernels.run_notebook(slow, tmp_path / "slow_out.ipynb", tmp_path / "params.yaml", run_dir, ROOT, pool=pool)
        except Exception as exc:  # noqa: BLE001
            failed.append(exc)

    try:
        thread = threading.Thread(target=run_slow)
        thread.start()
        kernels.run_notebook(quick, tmp_path / "quick_out.ipynb", tmp_path / "params.yaml", run_dir, ROOT, pool=pool)
        assert len(pool.started) == 2  # no third kernel: two notebooks in all
        deadline = time.time() + 60
        while not pool.live and time.time() < deadline:
            time.sleep(0.1)
        (running,) = pool.live
        started = time.time()
        pool.abort()
        thread.join(timeout=60)
        assert not thread.is_alive() and time.time() - started < 30
        _settled(pool)
        assert failed and not _alive(running)
    finally:
        pool.close()


def test_a_kernel_serves_the_next_notebook_as_a_fresh_kernel_would_and_a_failed_one_is_replaced(tmp_path):
    """Kernels are reused (their imports are paid once): the next notebook runs in the same process, but finds
    nothing of the notebook before it (names, figures, the log handler, the cell counter, rc settings); a kernel
    whose notebook failed is shut down and a fresh one serves the notebook after it."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    first = _notebook(
        tmp_path / "first.ipynb",
        "import os, logging, matplotlib, matplotlib.pyplot as plt\n"
        "secret = 42\n"
        "fig = plt.figure()\n"
        "matplotlib.rcParams['lines.linewidth'] = 9\n"
        f"logging.getLogger().addHandler(logging.FileHandler({str(tmp_path / 'first.log')!r}))\n"
        "print(os.getpid())",
    )
    probe = ("import os, logging, matplotlib, matplotlib.pyplot as plt\n"
             "print(os.getpid(), 'secret' in globals(), len(plt.get_fignums()), len(logging.getLogger().handlers),"
             " matplotlib.rcParams['lines.linewidth'], sep='|')")
    second = _notebook(tmp_path / "second.ipynb", probe)
    fails = _notebook(tmp_path / "fails.ipynb", "import os\nprint(os.getpid())\nraise ValueError('broken on purpose')")
    third = _notebook(tmp_path / "third.ipynb", probe)

    def run(source):
        out = tmp_path / f"{source.stem}_out.ipynb"
        kernels.run_notebook(source, out, tmp_path / "params.yaml", run_dir, ROOT, pool=pool)
        cells = nbformat.read(out, as_version=4).cells
        return [c.execution_count for c in cells], "".join(o.get("text", "") for o in cells[-1].get("outputs", []))

    pool = kernels.KernelPool(run_dir, ROOT, notebooks=4, warm=1)
    try:
        counts, pid = run(first)
        counts2, printed = run(second)
        with pytest.raises(pipeline.StepFailed, match="broken on purpose"):
            run(fails)
        counts3, printed3 = run(third)
        assert len(pool.started) == 4  # one kernel started, reset twice, one started after the failure
    finally:
        pool.close()
    assert counts == counts2 == counts3 == [1, 2]  # papermill's parameters cell, then the notebook's
    fresh = _notebook(tmp_path / "fresh.ipynb", probe)
    kernels.run_notebook(fresh, tmp_path / "fresh_out.ipynb", tmp_path / "params.yaml", run_dir, ROOT)
    expected = "".join(o.get("text", "") for c in nbformat.read(tmp_path / "fresh_out.ipynb", as_version=4).cells
                       for o in c.get("outputs", [])).strip().split("|")[1:]
    pid2, *state = printed.strip().split("|")
    assert pid2 == pid.strip()  # the same process ...
    assert state == expected == ["False", "0", "0", "1.5"]  # ... which looks like a fresh kernel
    pid3, *state3 = printed3.strip().split("|")
    assert pid3 != pid.strip() and state3 == expected


def _kernel_children() -> list[int]:
    """Kernel processes started by this test process."""
    import os
    from pathlib import Path

    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == os.getpid() and b"ipykernel" in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _settled(pool) -> None:
    """Wait for the kernels the pool is shutting down in the background."""
    for thread in list(pool.stopping):
        thread.join(timeout=60)


def _folder_probe(tmp_path: Path) -> Path:
    """A notebook that prints the run folder its kernel names (STAGING_ENV)."""
    return _notebook(tmp_path / "probe.ipynb", "import os\nprint(os.environ.get(%r))" % STAGING_ENV)


def _printed(executed: Path) -> str:
    """What an executed notebook printed."""
    out = nbformat.read(executed, as_version=4)
    return "".join(o.get("text", "") for c in out.cells for o in c.get("outputs", [])).strip()


def test_kernels_started_before_the_run_folder_has_a_name_get_it_and_an_unused_pool_closes_at_once(tmp_path):
    """`python -m analysis.pipeline run` starts two kernels before the kit is imported (kernels.early_pool), before
    the run folder is named: a notebook's kernel gets the folder when it is taken. A pool no run needed (every page
    reused, or the command stopped) is closed without waiting for its kernels to finish starting, and leaves no
    kernel process behind."""
    import time

    assert kernels.early_pool(["index", "--reports", "reports"], cwd=ROOT) is None
    assert kernels.early_pool(["run", "--help"], cwd=ROOT) is None
    assert kernels.early_pool(["run"], cwd=tmp_path) is None  # no notebooks there

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    probe = _folder_probe(tmp_path)
    pool = kernels.early_pool(["run", "--params", "params/default.yaml"], cwd=ROOT)
    try:
        assert STAGING_ENV not in pool.env and len(pool.started) == 2
        kernels.run_notebook(probe, tmp_path / "out.ipynb", tmp_path / "params.yaml", run_dir, ROOT, pool=pool)
    finally:
        pool.close()
    assert _printed(tmp_path / "out.ipynb") == str(run_dir)
    assert not _kernel_children()

    unused = kernels.early_pool(["run"], cwd=ROOT)
    time.sleep(0.5)  # the kernel processes are starting
    started = time.time()
    unused.close()
    assert time.time() - started < 1.5 and unused.ready.empty()  # a warm start takes 2 s or more
    assert not _kernel_children()


def test_the_kernels_started_before_the_kit_is_imported_get_the_kernel_environment_and_keep_the_users(
        tmp_path, monkeypatch):
    """The early pool's kernels (started before the run sets anything) and a notebook's own kernel (no pool) get a
    fixed string hashing, OpenBLAS threads that sleep after their work and no huge pages for numpy's arrays
    (kernels.KERNEL_ENV); a value the user set is kept."""
    for name in kernels.KERNEL_ENV:  # set first, so that the test's end restores each as it was (unset or not)
        monkeypatch.setenv(name, "x")
        monkeypatch.delenv(name)
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "8")  # the user's
    probe = _notebook(tmp_path / "env.ipynb",
                      "import os, sys\nprint(*(os.environ.get(name) for name in"
                      " ('PYTHONHASHSEED', 'OPENBLAS_THREAD_TIMEOUT', 'NUMPY_MADVISE_HUGEPAGE')), 'pandas' in sys.modules)")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    pool = kernels.early_pool(["run", "--params", "params/default.yaml"], cwd=ROOT)
    try:
        kernels.run_notebook(probe, tmp_path / "pooled.ipynb", tmp_path / "params.yaml", run_dir, ROOT, pool=pool)
    finally:
        pool.close()
    assert _printed(tmp_path / "pooled.ipynb") == "0 8 0 True"  # a kernel of the pool (warmed up: pandas)

    for name in kernels.KERNEL_ENV:
        monkeypatch.delenv(name)
    kernels.kernel_environment()  # what the pipeline's run does before its first notebook
    kernels.run_notebook(probe, tmp_path / "own.ipynb", tmp_path / "params.yaml", run_dir, ROOT)
    assert _printed(tmp_path / "own.ipynb") == "0 4 0 False"  # papermill's own kernel


def test_a_run_folder_named_while_the_kernels_start_is_set_with_their_imports_and_kept_across_notebooks(tmp_path):
    """The pipeline names the run folder in the early pool as soon as it exists (#13): kernels still starting set it
    right after their imports, so taking one runs no code in it; a reused kernel keeps it; a kernel taken for another
    folder gets that one. Each probe prints the folder its kernel has."""
    import time

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    probe = _folder_probe(tmp_path)
    pool = kernels.early_pool(["run", "--params", "params/default.yaml"], cwd=ROOT)
    try:
        pool.set_run_dir(first)
        deadline = time.time() + 60
        while pool.ready.qsize() < 2 and time.time() < deadline:
            time.sleep(0.1)
        assert pool.ready.qsize() == 2 and sorted(pool.dir_in.values()) == [str(first)] * 2
        printed = []
        for n, folder in enumerate([first, second, second, first]):
            kernels.run_notebook(probe, tmp_path / f"out{n}.ipynb", tmp_path / "params.yaml", folder, ROOT, pool=pool)
            printed.append(_printed(tmp_path / f"out{n}.ipynb"))
    finally:
        pool.close()
    assert printed == [str(first), str(second), str(second), str(first)]
    assert not _kernel_children()


def test_a_kernel_that_died_while_waiting_is_not_given_to_a_notebook(tmp_path):
    """A kernel ready for the next notebook may be gone by the time it is taken (killed, or out of memory): the
    notebook then starts its own kernel instead of failing on a dead one."""
    import os
    import signal
    import time

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    probe = _folder_probe(tmp_path)
    pool = kernels.KernelPool(run_dir, ROOT, notebooks=1, warm=1)
    try:
        deadline = time.time() + 60
        while pool.ready.empty() and time.time() < deadline:
            time.sleep(0.1)
        os.kill(pool.ready.queue[0].provisioner.pid, signal.SIGKILL)
        time.sleep(0.5)
        kernels.run_notebook(probe, tmp_path / "out.ipynb", tmp_path / "params.yaml", run_dir, ROOT, pool=pool)
    finally:
        pool.close()
    assert _printed(tmp_path / "out.ipynb") == str(run_dir)
    assert not _kernel_children()


def test_a_pool_kernels_own_stderr_does_not_reach_the_console(tmp_path):
    """What a pool kernel's process writes to its own stderr (a kernel that fails to start writes a traceback there,
    seen once in CI: a port taken between its choice and its use) does not reach the user's console; what a cell
    prints still reaches its notebook."""
    import subprocess
    import sys

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    probe = _notebook(tmp_path / "probe.ipynb", "import os\nos.write(2, b'KERNEL-LEVEL NOISE\\n')\nprint('cell output')")
    script = (f"from pathlib import Path\nfrom analysis.runs import kernels\n"
              f"pool = kernels.KernelPool(Path({str(run_dir)!r}), Path({str(ROOT)!r}), notebooks=1)\n"
              f"kernels.run_notebook(Path({str(probe)!r}), Path({str(tmp_path / 'out.ipynb')!r}), Path('p.yaml'),"
              f" Path({str(run_dir)!r}), Path({str(ROOT)!r}), pool=pool)\npool.close()\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "KERNEL-LEVEL NOISE" not in result.stderr + result.stdout
    assert _printed(tmp_path / "out.ipynb") == "cell output"
