"""Notebooks are committed without outputs; published output comes only from a pipeline run."""

from __future__ import annotations

import nbformat

from conftest import ROOT


def test_notebooks_have_no_outputs_and_a_parameters_cell():
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert paths
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), path.name
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
        assert "params_path" in tagged[0].source and "run_dir" in tagged[0].source
