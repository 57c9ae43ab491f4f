"""The pip lock file and the conda environment pin the same versions."""

from __future__ import annotations

import re

import yaml

from conftest import ROOT

CONDA_TO_PIP = {"python-duckdb": "duckdb"}


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def _conda() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        if not isinstance(dep, str) or dep.startswith(("python=", "python ")):
            continue
        match = re.match(r"^([A-Za-z0-9_.-]+)\s*==?\s*([^\s]+)$", dep)
        if match:
            name = CONDA_TO_PIP.get(match.group(1), match.group(1))
            pins[name.lower().replace("_", "-")] = match.group(2)
    return pins


def test_conda_pins_match_the_lock_file():
    lock, conda = _lock(), _conda()
    assert conda, "environment.yml pins nothing"
    drift = {name: (version, lock.get(name)) for name, version in conda.items() if lock.get(name) != version}
    assert not drift, f"environment.yml and requirements.lock disagree (conda, pip): {drift}"


def test_core_packages_are_pinned_in_both():
    core = {"jupyterlab", "papermill", "pandas", "lifetimes", "seaborn", "nbconvert", "ipykernel", "duckdb", "babel",
            "statsmodels"}
    assert core <= set(_lock()), core - set(_lock())
    assert core <= set(_conda()), core - set(_conda())


def test_installed_versions_are_the_locked_ones():
    from importlib.metadata import version

    lock = _lock()
    for name in ["pandas", "duckdb", "lifetimes", "scipy", "papermill", "nbconvert"]:
        assert version(name) == lock[name], name
