"""Rebuild only what changed: step keys, step outputs and their reuse.

Every step of a run (ingest, each notebook) gets a *key*: a SHA-256 over everything
the step's result depends on, by content, not by file times:

* the run configuration file and the as-of date,
* the input files the configuration names (transactions, survey, cost to serve),
* the notebook, and the library modules it imports, followed transitively
  (``from analysis.business import kpis`` -> ``business/kpis.py`` -> what it imports ...), through
  sub-packages and relative imports; an import of the package that is not a file stops the
  run (:class:`UnresolvedImport`) rather than leave code out of a key,
* the artifacts of the steps it runs after: the ingest and the pages it reads
  (:func:`analysis.reporting.pages.needs`; so when a re-executed step writes the same
  bytes as before, the steps after it are still reused, and a page is not re-run for a
  page it does not read),
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
import functools
import hashlib
import json
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import Iterable

PACKAGE = "analysis"
SRC = Path(__file__).resolve().parents[1]


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def digest(value: object) -> str:
    """SHA-256 of a JSON-able value (keys sorted)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


class UnresolvedImport(ImportError):
    """A module of the package is imported that the step keys cannot find as a file. A key that skipped it
    would not change when that code changes, and a stale result would be reused: so this stops the run."""


def _module_file(dotted: str, src: Path) -> Path | None:
    """The file of module ``dotted`` (relative to the package, ``"models.bgnbd"``; ``""`` is the package
    itself): ``<src>/models/bgnbd.py`` or ``<src>/models/bgnbd/__init__.py``; None when there is neither."""
    parts = [part for part in dotted.split(".") if part]
    if not parts:
        return src / "__init__.py"
    for candidate in (src.joinpath(*parts[:-1], parts[-1] + ".py"), src.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _defined_names(path: Path) -> frozenset[str]:
    """The names module ``path`` defines at its top level (assignments, functions, classes, imports)."""
    return _top_level_names(path.read_text(encoding="utf-8"))


_PARSING = threading.Lock()


def _parse(source: str) -> ast.Module:
    """``ast.parse``, one thread at a time: two report pages may compute their step keys at once
    (analysis.runs.schedule), and CPython 3.11's parser is not safe to run in two threads ("AST constructor
    recursion depth mismatch")."""
    with _PARSING:
        return ast.parse(source)


CACHE_ENV = "RETENTION_KIT_CACHE"
"""The folder where the kit keeps what it worked out from its own source files (the imports of each module, by the
hash of its text); without it ``$XDG_CACHE_HOME/retention-kit``, else ``~/.cache/retention-kit``. Removing the
folder is always safe."""

_PARSED: dict | None = None  # the cache file's entries, read once per process
_PARSED_NEW: set[str] = set()
_PARSED_LOCK = threading.Lock()


def parse_cache_file() -> Path:
    """The file of :data:`CACHE_ENV` that holds the parsed imports and names of the kit's modules (one per Python
    version: the syntax trees are Python's)."""
    folder = os.environ.get(CACHE_ENV) or os.path.join(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"),
                                                        "retention-kit")
    return Path(folder) / f"parsed-py{sys.version_info[0]}{sys.version_info[1]}.json"


def _parsed(kind: str, source: str, compute):
    """``compute(source)`` through the cache file: the step keys of a run need the import statements of about 60
    modules and notebooks, and parsing them took 0.3 s before the data could be read, at every run. The entry is
    found by the SHA-256 of the text, so a changed file is parsed again; a missing, unreadable or damaged cache
    file only means parsing."""
    global _PARSED
    key = kind + hashlib.sha256(source.encode("utf-8")).hexdigest()
    with _PARSED_LOCK:
        if _PARSED is None:
            try:
                loaded = json.loads(parse_cache_file().read_text(encoding="utf-8"))
                _PARSED = loaded if isinstance(loaded, dict) else {}
            except (OSError, ValueError):
                _PARSED = {}
        if key in _PARSED:
            return _PARSED[key]
    value = compute(source)
    with _PARSED_LOCK:
        _PARSED[key] = value
        _PARSED_NEW.add(key)
    return value


def save_parse_cache() -> None:
    """Write the entries parsed since the cache file was read (:func:`_parsed`), next to those of other runs, by
    replacing the file whole; nothing when there are none, or when the folder cannot be written."""
    with _PARSED_LOCK:
        if not _PARSED_NEW or _PARSED is None:
            return
        path = parse_cache_file()
        try:
            try:
                on_disk = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                on_disk = {}
            merged = {**(on_disk if isinstance(on_disk, dict) else {}), **{k: _PARSED[k] for k in _PARSED_NEW}}
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            tmp.write_text(json.dumps(merged, sort_keys=True), encoding="utf-8")
            os.replace(tmp, path)
            _PARSED_NEW.clear()
        except OSError:
            pass


@functools.lru_cache(maxsize=256)
def _top_level_names(source: str) -> frozenset[str]:
    return frozenset(_parsed("names:", source, lambda text: sorted(_parse_top_level_names(text))))


def _parse_top_level_names(source: str) -> frozenset[str]:
    names: set[str] = set()
    for node in _parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return frozenset(names)


@functools.lru_cache(maxsize=1024)
def _import_statements(source: str) -> tuple[tuple[int, str | None, tuple[str, ...], int], ...] | None:
    """The import statements of Python ``source`` at any nesting level, as ``(level, module, names, line)``
    (``module`` None for ``import a.b``, "" for ``from . import x``); None when it does not parse. Cached by
    the text, in this process and in the cache file (:func:`_parsed`): a run computes the keys of every step
    from the same files, and walking the syntax trees was most of that time."""
    found = _parsed("imports:", source, lambda text: _parse_import_statements(text))
    return None if found is None else tuple((level, module, tuple(names), line) for level, module, names, line in found)


def _parse_import_statements(source: str) -> list | None:
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        tree = _parse("\n".join(lines))
    except SyntaxError:
        return None
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.append((0, None, tuple(alias.name for alias in node.names), node.lineno))
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or "", tuple(alias.name for alias in node.names), node.lineno))
    return [[level, module, list(names), line] for level, module, names, line in found]


def _imported_modules(source: str, src: Path, module: str = "", is_package: bool = False, where: str = "") -> set[str]:
    """The modules of the package that Python ``source`` imports (any nesting level), dotted relative to the
    package (``"kpis"``, ``"models.bgnbd"``), with the packages they sit in. ``module``: the dotted name of
    the module the source is (for relative imports); ``is_package``: it is a package's ``__init__``.

    Every import of the package must resolve to a file under ``src`` (the package folder), else
    :class:`UnresolvedImport` names it and ``where`` it was written; ``from pkg import name`` takes ``name``
    as a module when it is a file, else as a name defined in ``pkg``."""
    imports = _import_statements(source)
    if imports is None:
        return set()
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()

    def add(dotted: str, lineno: int) -> None:
        if _module_file(dotted, src) is None:
            raise UnresolvedImport(f"{where or 'source'}, line {lineno}: {PACKAGE}.{dotted} is imported but"
                                   f" is neither {dotted.replace('.', '/')}.py nor a package under {src}; the"
                                   " step keys cannot follow it (a typo, or a module that was moved?)")
        parts = dotted.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))

    for level, from_module, names, lineno in imports:
        if from_module is None:  # import a.b.c
            for name in names:
                parts = name.split(".")
                if parts[0] == PACKAGE and len(parts) > 1:
                    add(".".join(parts[1:]), lineno)
            continue
        if level:  # relative: from . import x, from .x import y, from ..x import y
            base = package.split(".") if package else []
            if level - 1 > len(base):
                continue
            base = base[:len(base) - (level - 1)]
            dotted = ".".join(base + (from_module.split(".") if from_module else []))
        elif from_module and from_module.split(".")[0] == PACKAGE:
            dotted = ".".join(from_module.split(".")[1:])
        else:
            continue
        if dotted:
            add(dotted, lineno)
        for alias in names:  # a submodule, when it is a file; else a name the package defines
            name = f"{dotted}.{alias}" if dotted else alias
            if alias == "*":
                continue
            if _module_file(name, src) is not None:
                add(name, lineno)
            elif _module_file(dotted, src).name == "__init__.py" and alias not in _defined_names(
                    _module_file(dotted, src)):
                raise UnresolvedImport(f"{where or 'source'}, line {lineno}: {PACKAGE}.{name} is imported"
                                       f" but is neither a module under {src} nor a name its package defines;"
                                       " the step keys cannot follow it")
    return found


def notebook_source(path: Path) -> str:
    """The code cells of a notebook, joined."""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    return "\n".join("".join(c.get("source", "")) for c in cells if c.get("cell_type") == "code")


def module_closure(modules: Iterable[str], src: Path = SRC) -> list[Path]:
    """The files of ``modules`` (dotted names relative to the package) and of every module of the package they
    import, transitively, through sub-packages and relative imports. Raises :class:`UnresolvedImport` for an
    import of the package that is not a file under ``src``."""
    seen: dict[str, Path] = {}
    todo = [(name, "a step") for name in modules] + [("", "the package")]
    while todo:
        name, needed_by = todo.pop()
        if name in seen:
            continue
        path = _module_file(name, src)
        if path is None:
            raise UnresolvedImport(f"{needed_by} needs {PACKAGE}.{name}, which is not a file under {src}")
        seen[name] = path
        found = _imported_modules(path.read_text(encoding="utf-8"), src, name, path.name == "__init__.py",
                                  where=str(path))
        todo.extend((child, str(path)) for child in found)
    save_parse_cache()
    return sorted(seen.values())


def notebook_code(notebook: Path, src: Path = SRC) -> list[Path]:
    """The library files a notebook's result depends on."""
    return module_closure(_imported_modules(notebook_source(notebook), src, where=str(notebook)), src)


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
