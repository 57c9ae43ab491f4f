"""The kernel of the next notebook starts while the current one runs (kernels.KernelPool): it must be an
ordinary kernel for the notebook (same environment, folder and outputs) and never outlive its notebook."""

from __future__ import annotations

import nbformat
import pytest

from analysis.runs import kernels
from analysis import pipeline
from analysis.reporting.nb import STAGING_ENV

ROOT = pipeline.Path(__file__).resolve().parents[1]


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
    pool = kernels.KernelPool(run_dir, ROOT)
    try:
        pool.next.join()
        (km,) = pool.ready  # started and warmed up ahead
        kernels.run_notebook(source, tmp_path / "out.ipynb", tmp_path / "params.yaml", run_dir, ROOT, pool=pool,
                              more=False)
        assert not km.is_alive()  # shut down after its one notebook
        assert pool.next is None and not pool.ready  # no kernel started for a notebook that does not follow
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
    pool.next.join()
    (km,) = pool.ready
    with pytest.raises(pipeline.StepFailed, match="broken on purpose"):
        kernels.run_notebook(source, tmp_path / "out.ipynb", tmp_path / "params.yaml", run_dir, ROOT, pool=pool)
    assert not km.is_alive()
    pool.next.join()
    (following,) = pool.ready  # started for the next notebook, which will not run now
    pool.close()
    assert not following.is_alive() and not pool.ready
