"""The transaction models by name: the one place that lists them.

Adding a model is one new file in this package (a :class:`~analysis.models.base.TransactionModel` subclass),
one line in ``REGISTRY`` and its name in :mod:`analysis.model_names` (which the run configuration reads without
importing the models; a different list stops every import of the models, with what to do); the configuration,
the fit, the predictions, the CLV band, ``model.json`` and the pages take it from here.
"""

from __future__ import annotations

from analysis import model_names
from analysis.models.base import TransactionModel
from analysis.models.bgnbd import BGNBD
from analysis.models.ggompertz_nbd import GGompertzNBD
from analysis.models.mbgnbd import MBGNBD
from analysis.models.pareto_nbd import ParetoNBD

REGISTRY: dict[str, TransactionModel] = {m.name: m for m in (BGNBD(), ParetoNBD(), MBGNBD(), GGompertzNBD())}
"""Model name -> model, in the order in which they are compared (and ties are broken)."""

MODEL_NAMES: tuple[str, ...] = tuple(REGISTRY)
"""Transaction models the kit fits: BG/NBD, Pareto/NBD, MBG/NBD and GGompertz/NBD."""

COMPARED_BY_DEFAULT: tuple[str, ...] = tuple(name for name, m in REGISTRY.items() if m.compared_by_default)
"""The models ``models.compare`` lists when the configuration does not say (and :func:`fit_models` fits)."""

if (MODEL_NAMES, COMPARED_BY_DEFAULT) != (model_names.MODEL_NAMES, model_names.COMPARED_BY_DEFAULT):
    raise RuntimeError(
        f"The models of analysis/models/registry.py are {MODEL_NAMES} (compared by default: {COMPARED_BY_DEFAULT}),"
        f" analysis/model_names.py lists {model_names.MODEL_NAMES} ({model_names.COMPARED_BY_DEFAULT}): make"
        " model_names.py list the registry's models, in its order.")

PARAM_NAMES: dict[str, tuple[str, ...]] = {name: m.param_names for name, m in REGISTRY.items()}
MODEL_LABELS: dict[str, str] = {name: m.label for name, m in REGISTRY.items()}

SILENCE_AWARE: tuple[str, ...] = tuple(name for name, m in REGISTRY.items() if m.silence_aware)
"""Models in which every customer's P(alive) falls while they stay silent. Under BG/NBD a
customer can only drop out right after a repeat purchase, so a one-time buyer keeps
P(alive) = 1 however long ago they bought: ``auto`` chooses among these models first."""


def get(name: str) -> TransactionModel:
    """The model registered as ``name``."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown model {name!r}; expected one of {MODEL_NAMES}") from None
