"""The purchase models are classes in analysis.models, found by name in one registry.

These tests hold the design of the redesign issue: outside the models package no code decides by a model's
name, and everything that lists the models (configuration, labels, parameter names, the lifetimes fitters,
the CLV band) takes the list from the registry.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from analysis import config, models

from analysis.scoring import saved
from analysis.models import REGISTRY
from analysis.models.base import TransactionModel

SRC = Path(__file__).resolve().parents[1] / "src" / "analysis"

# Comparisons with a model name that remain outside analysis/models, each with its reason.
ALLOWED = {
    ("modelstage.py", "bgnbd"): "the page note about BG/NBD's own blind spot (one-time buyers never drop out)",
}


def _name_comparisons(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare):
            for part in [node.left, *node.comparators]:
                values = part.elts if isinstance(part, (ast.Tuple, ast.List, ast.Set)) else [part]
                for v in values:
                    if isinstance(v, ast.Constant) and v.value in REGISTRY:
                        found.append((node.lineno, v.value))
    return found


def test_no_code_outside_the_models_package_decides_by_a_model_name():
    offenders, seen = [], set()
    for path in sorted(SRC.rglob("*.py")):
        if "models" in path.relative_to(SRC).parts[:-1]:
            continue
        for line, name in _name_comparisons(path):
            seen.add((path.name, name))
            if (path.name, name) not in ALLOWED:
                offenders.append(f"{path.relative_to(SRC)}:{line} compares with {name!r}")
    assert not offenders, "ask the registry (models.get(name)) instead:\n" + "\n".join(offenders)
    assert set(ALLOWED) <= seen, f"allowed comparisons that are gone (remove them): {set(ALLOWED) - seen}"


def test_the_scan_finds_a_name_comparison(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('def f(name):\n    return 1 if name in ("bgnbd", "mbgnbd") else 2\n', encoding="utf-8")
    assert _name_comparisons(probe) == [(2, "bgnbd"), (2, "mbgnbd")]


def test_everything_that_lists_the_models_takes_the_registry():
    assert models.MODEL_NAMES == tuple(REGISTRY)
    assert models.PARAM_NAMES == {n: m.param_names for n, m in REGISTRY.items()}
    assert models.MODEL_LABELS == {n: m.label for n, m in REGISTRY.items()}
    assert set(saved.LIFETIMES_FITTERS) == set(REGISTRY)
    assert config.ModelParams().compare == [n for n, m in REGISTRY.items() if m.compared_by_default]
    for name in REGISTRY:
        assert config.ModelParams(model=name).model == name
    with pytest.raises(Exception, match="auto"):
        config.ModelParams(model="not-a-model")
    with pytest.raises(ValueError, match="Unknown model 'nope'"):
        models.get("nope")


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_model_implements_the_interface(name):
    model = REGISTRY[name]
    assert isinstance(model, TransactionModel) and model.name == name
    assert model.label and model.references
    assert set(model.time_params) <= set(model.param_names)
    for method in ("log_likelihood", "fit_log_params", "loglik_and_gradient", "p_alive", "alive_expectation",
                   "count_pmf", "future"):
        assert getattr(type(model), method) is not getattr(TransactionModel, method), f"{name} lacks {method}"


@pytest.mark.parametrize("name", list(REGISTRY))
def test_each_models_p_alive_table_equals_its_p_alive(name):
    # the CLV band's fast path (a table per distinct value) must give the numbers of the plain formula
    rng = np.random.default_rng(7)
    base = {"bgnbd": [0.24, 4.4, 0.79, 2.4], "mbgnbd": [0.52, 6.2, 0.89, 1.6], "pareto": [0.55, 10.6, 0.61, 11.7],
            "ggompertz": [0.8, 5.0, 0.05, 1.0, 2.0]}
    draws = tuple(np.array(v) * np.exp(rng.normal(0, 0.05, 5)) for v in base[name])
    x = rng.integers(0, 8, 40).astype(float)
    T = rng.uniform(1, 78, 40)
    tx = np.where(x > 0, T * rng.uniform(0, 1, 40), 0.0)
    model = REGISTRY[name]
    table = model.alive_table(draws, x, tx, T)
    plain = model.p_alive(tuple(d[None, :] for d in draws), x[:, None], tx[:, None], T[:, None])
    np.testing.assert_allclose(table(5, 30), plain[5:30], rtol=1e-12, atol=0)


def test_pareto_tails_in_slices_on_the_cores_are_those_of_one_call():
    """The CLV band's P(alive) tables compute the Pareto/NBD tails in slices of rows on the cores: each element is
    the one a single call gives, to the last bit; inline when already on the pool's threads; empty pairs stay
    empty."""
    import threading

    from analysis.models.pareto_nbd import _pareto_log_tail, _tails_side_by_side

    rng = np.random.default_rng(11)
    r, alpha, s, beta = (np.array(v) * np.exp(rng.normal(0, 0.1, 30))[None, :] for v in (0.55, 10.6, 0.61, 11.7))
    x1, t1 = rng.integers(0, 30, 1001).astype(float), rng.uniform(0, 78, 1001)
    x2, t2 = rng.integers(0, 30, 7).astype(float), rng.uniform(0, 78, 7)
    with np.errstate(all="ignore"):
        one = [_pareto_log_tail(r, alpha, s, beta, x[:, None], t[:, None]) for x, t in ((x1, t1), (x2, t2))]
    got = _tails_side_by_side(r, alpha, s, beta, [(x1, t1), (x2, t2)])
    assert [g.tobytes() for g in got] == [o.tobytes() for o in one]
    inline = []
    thread = threading.Thread(target=lambda: inline.extend(_tails_side_by_side(r, alpha, s, beta, [(x1, t1)])),
                              name="pareto-nbd_9")
    thread.start()
    thread.join()
    assert inline[0].tobytes() == one[0].tobytes()
    empty = _tails_side_by_side(r, alpha, s, beta, [(x1[:0], t1[:0]), (x2, t2)])
    assert empty[0].shape == (0, 30) and empty[1].tobytes() == one[1].tobytes()


def test_the_run_configuration_names_the_registrys_models_without_importing_them():
    """analysis.model_names lists the registry's models so that the run configuration can check its model names
    without SciPy: a run's start, before its pages, imports neither SciPy's statistics nor matplotlib (together
    0.6 s of every run), also when it checks a campaign's contact list. A registry that differs from the list stops
    its import with what to do."""
    import subprocess
    import sys

    from analysis import model_names
    from analysis.models import registry

    assert registry.MODEL_NAMES == model_names.MODEL_NAMES
    assert registry.COMPARED_BY_DEFAULT == model_names.COMPARED_BY_DEFAULT
    code = ("import sys, analysis.pipeline\n"
            "from analysis.runs import history, series\n"
            "from analysis.data.ingest import ingest_transactions\n"
            "from analysis.reporting.report import KeyChartsAhead, write_index\n"
            "from analysis.config import load_params\n"
            "import pandas as pd\n"
            "from analysis.business.campaigns import unknown_ids\n"  # a contact list whose ids are all known
            "assert unknown_ids(None, pd.DataFrame(index=pd.Index(['a'])), pd.Index(['a', 'b'])) is None\n"
            "print(sorted(m for m in ('scipy.stats', 'matplotlib', 'analysis.models') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    differ = ("import analysis.model_names as names\n"
              "names.MODEL_NAMES = names.MODEL_NAMES[:-1]\n"
              "import analysis.models\n")
    out = subprocess.run([sys.executable, "-c", differ], capture_output=True, text=True)
    assert out.returncode != 0 and "RuntimeError" in out.stderr
    assert "make model_names.py list the registry's models, in its order" in out.stderr
