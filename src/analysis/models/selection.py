"""Choosing the transaction model used downstream among the fitted ones."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from analysis.models.fitted import FittedModel
from analysis.models.registry import MODEL_NAMES, SILENCE_AWARE

SELECTION_METRIC = "mean absolute error per customer of the holdout repeat transactions (MAE)"
"""What ``select_model(..., choice="auto")`` minimises."""



def select_model(
    results: Mapping[str, FittedModel], holdout_errors: Mapping[str, float], choice: str = "auto"
) -> FittedModel:
    """Choose the transaction model used downstream.

    Parameters
    ----------
    results
        Model name -> fitted model (from :func:`fit_models`).
    holdout_errors
        Model name -> per-customer mean absolute error of the holdout repeat transactions
        (``holdout.holdout_errors(...)["mae"]``). Only used when ``choice="auto"``.
    choice
        ``"bgnbd"``, ``"pareto"``, ``"mbgnbd"`` or ``"auto"``. ``"auto"`` picks, among the
        fitted models of ``SILENCE_AWARE`` (Pareto/NBD, MBG/NBD), the one with the lowest MAE
        (see ``SELECTION_METRIC``), and BG/NBD only when neither could be fitted; ties go to
        the earlier model in ``("bgnbd", "pareto", "mbgnbd")``.

    Returns
    -------
    FittedModel
    """
    valid = (*MODEL_NAMES, "auto")
    if choice not in valid:
        raise ValueError(f"model choice must be one of {valid}, not {choice!r}")
    if choice != "auto":
        if choice not in results:
            raise ValueError(f"Model {choice!r} was requested but not fitted (fitted: {list(results)})")
        return results[choice]
    candidates = ([m for m in MODEL_NAMES if m in results and m in SILENCE_AWARE]
                  or [m for m in MODEL_NAMES if m in results])
    missing = [m for m in candidates if m not in holdout_errors or not np.isfinite(holdout_errors[m])]
    if missing:
        raise ValueError(f"No finite holdout error for fitted model(s) {missing}; cannot choose automatically")
    if not candidates:
        raise ValueError("No fitted models to choose from")
    best = min(candidates, key=lambda m: (holdout_errors[m], MODEL_NAMES.index(m)))
    return results[best]
