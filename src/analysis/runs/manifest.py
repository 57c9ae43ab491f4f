"""What a run records about where it ran: package versions, the environment, the git state.
"""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path



PACKAGES = ["analysis", "duckdb", "pyspark", "pandas", "numpy", "scipy", "lifetimes", "matplotlib", "seaborn",
            "papermill", "nbconvert", "nbformat", "ipykernel", "pyarrow", "pydantic", "PyYAML", "Jinja2"]


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


def kit_version() -> str:
    from analysis import __version__

    return __version__
