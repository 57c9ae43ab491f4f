"""Rebuild only what changed: step keys, step outputs and their reuse.

Every step of a run (ingest, each notebook) gets a *key*: a SHA-256 over everything
the step's result depends on, by content, not by file times:

* the run configuration file and the as-of date,
* the input files the configuration names (transactions, survey, cost to serve),
* the notebook, and the library modules it imports, followed transitively
  (``from analysis import kpis`` -> ``kpis.py`` -> what ``kpis.py`` imports ...),
* the artifacts the earlier steps wrote (so when a re-executed step writes the same
  bytes as before, the steps after it are still reused),
* the installed package versions and the pseudonym key's fingerprint.

The manifest of a run records each step's key and the files it wrote, with their
hashes. The next run of the same folder copies a step's files from the published run
instead of executing it when the key is the same and the files are intact. Each file
has exactly one writing step (the notebooks never rewrite an earlier stage's file),
which is what makes this sound.

HTML, the executive summary and the comparison with the previous report are cheap
and always rebuilt.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
from pathlib import Path
from typing import Iterable

PACKAGE = "analysis"
SRC = Path(__file__).resolve().parent


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def digest(value: object) -> str:
    """SHA-256 of a JSON-able value (keys sorted)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _imported_modules(source: str) -> set[str]:
    """Names of the ``analysis`` modules imported by Python ``source`` (any nesting level)."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE and len(parts) > 1:
                    found.add(parts[1])
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != PACKAGE:
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:  # from analysis import kpis, nb: names that are modules
                found.update(alias.name for alias in node.names)
    return found


def notebook_source(path: Path) -> str:
    """The code cells of a notebook, joined."""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    return "\n".join("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code")


def module_closure(modules: Iterable[str], src: Path = SRC) -> list[Path]:
    """The files of ``modules`` and of every ``analysis`` module they import, transitively."""
    seen: dict[str, Path] = {}
    todo = list(modules) + ["__init__"]
    while todo:
        name = todo.pop()
        path = src / f"{name}.py"
        if name in seen or not path.is_file():
            continue
        seen[name] = path
        todo.extend(_imported_modules(path.read_text(encoding="utf-8")))
    return sorted(seen.values())


def notebook_code(notebook: Path, src: Path = SRC) -> list[Path]:
    """The library files a notebook's result depends on."""
    return module_closure(_imported_modules(notebook_source(notebook)), src)


def files_digest(files: Iterable[Path], root: Path | None = None) -> dict[str, str]:
    """``{name: sha256}`` of files (names relative to ``root`` when given)."""
    out = {}
    for path in files:
        name = path.relative_to(root).as_posix() if root else str(path)
        out[name] = sha256_file(path)
    return dict(sorted(out.items()))


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """``{relative path: (size, mtime_ns)}`` of every file under ``folder``."""
    out = {}
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            out[path.relative_to(folder).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return out


def written_since(folder: Path, before: dict[str, tuple[int, int]]) -> dict[str, str]:
    """Files under ``folder`` created or changed since ``before``, with their hashes."""
    after = snapshot(folder)
    return {name: sha256_file(folder / name) for name in sorted(after) if before.get(name) != after[name]}


class Reuse:
    """The published run whose step outputs may be reused, or none."""

    def __init__(self, published: Path | None, enabled: bool = True, force: bool = False) -> None:
        self.dir = published if published and published.is_dir() else None
        self.force = force
        self.steps: dict[str, dict] = {}
        if enabled and self.dir and (self.dir / "manifest.json").is_file():
            try:
                manifest = json.loads((self.dir / "manifest.json").read_text(encoding="utf-8"))
                self.steps = {s["step"]: s for s in manifest.get("steps", []) if "key" in s and "outputs" in s}
            except (OSError, ValueError, KeyError, TypeError):
                self.steps = {}

    def take(self, name: str, key: str, staging: Path) -> dict[str, str] | None:
        """Copy step ``name``'s outputs into ``staging`` if its key matches (or reuse is forced)
        and they are intact; returns them, or None when the step must run."""
        step = self.steps.get(name)
        if self.dir is None or step is None or (step["key"] != key and not self.force):
            return None
        outputs: dict[str, str] = step["outputs"]
        for rel, sha in outputs.items():
            source = self.dir / rel
            if not source.is_file() or sha256_file(source) != sha:
                return None
        for rel in outputs:
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.dir / rel, target)  # a copy, never a hard link: the published run stays untouched
        return outputs
