"""A run's fitted models, loaded back from ``artifacts/model.json``: score new customers without refitting.

A report fits its purchase model and the Gamma-Gamma spend model on the data up to its observation end and
writes the estimates to ``model.json`` (its ``final`` entry). :func:`load` turns that entry back into the
kit's model objects, so an analyst can score another transaction file (next month's customers, a shop's
second branch) with the parameters the report used, or hand them to lifetimes' plots::

    from analysis.scoring.saved import load

    fit = load("reports/latest")                          # a run folder, or the path of a model.json
    scores = fit.score("new_transactions.parquet", "2024-06-30")   # P(alive), expected purchases, CLV
    bgf, ggf = fit.to_lifetimes(scores)                    # the same fit as lifetimes fitters

Only point estimates are saved, so the scores have no uncertainty band (``clv_low``/``clv_high`` are NaN):
the band needs the covariance of the estimates, which a refit gives.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import RunArtifactError
from analysis.models import GAMMA_GAMMA_PARAMS, PARAM_NAMES, REGISTRY, FittedModel, GammaGammaFit, p_alive_path

#: The lifetimes fitter that implements each kit model (same likelihood, same parameter names and order).
LIFETIMES_FITTERS = {name: model.lifetimes_fitter for name, model in REGISTRY.items()}
SCORE_COLUMNS = ["frequency", "recency", "T", "monetary_value"]


@dataclass(frozen=True)
class SavedFit:
    """The purchase and spend models of one run, and the CLV settings it used."""

    model: FittedModel
    gamma_gamma: GammaGammaFit
    time_unit: str
    horizon_months: int
    annual_discount_rate: float
    gross_margin: float
    observation_end: str | None = None

    def score(self, purchases: str | Path | pd.DataFrame, as_of: dt.date | str) -> pd.DataFrame:
        """Each customer's history up to ``as_of`` (inclusive) and their scores under the saved fit.

        ``purchases``: a transaction file already read by the kit (a Parquet path such as a run's
        ``artifacts/purchases.parquet``) or a frame with ``customer_id, date, amount``. Returns one row per
        customer, indexed by ``customer_id``: the summary (``frequency, recency, T, monetary_value`` in the
        saved time unit) and ``p_alive, expected_purchases, expected_avg_value, clv`` over the saved horizon.
        """
        from analysis.scoring.clv import customer_lifetime_value
        from analysis.data.summary import rfm_summary

        summary = rfm_summary(purchases, as_of, self.time_unit)
        if summary.empty:
            return summary
        result = customer_lifetime_value(summary[SCORE_COLUMNS], self.model, self.gamma_gamma,
                                         horizon_months=self.horizon_months,
                                         annual_discount_rate=self.annual_discount_rate,
                                         gross_margin=self.gross_margin, n_draws=0)
        return summary[SCORE_COLUMNS].join(result.customers)

    def story(self, purchases: str | Path | pd.DataFrame, customer_id: str, until: dt.date | str | None = None
              ) -> pd.DataFrame:
        """One customer's P(alive) on every day from their first purchase to ``until`` (default: the report's
        observation end), under the saved model (:func:`analysis.models.p_alive_path`); draw it with
        :func:`analysis.reporting.plotting.plot_p_alive_path`. ``purchases``: as for :meth:`score`."""
        if isinstance(purchases, (str, Path)):  # read this customer's rows only, not the whole log
            dates = pd.read_parquet(purchases, columns=["date"], filters=[("customer_id", "==", str(customer_id))])["date"]
        else:
            dates = purchases.loc[purchases["customer_id"].astype(str) == str(customer_id), "date"]
        if dates.empty:
            raise KeyError(f"customer {customer_id!r} has no purchases in these data")
        return p_alive_path(self.model.name, self.model.params, dates, until or self.observation_end, self.time_unit)

    def to_lifetimes(self, summary: pd.DataFrame | None = None):
        """The fit as lifetimes objects: ``(purchase fitter, GammaGammaFitter)`` with ``params_`` set.

        With ``summary`` (columns ``frequency, recency, T`` and, for the spend model, ``monetary_value``, in
        the saved time unit) the fitters also carry it as their ``data``, which lifetimes' plots read
        (``plot_period_transactions`` needs a refit, which lifetimes does on its own data).
        """
        import lifetimes

        if not LIFETIMES_FITTERS[self.model.name]:
            raise ValueError(f"lifetimes has no fitter for {REGISTRY[self.model.name].label}; use the kit's"
                             " predictions (score, story) instead")
        fitter = getattr(lifetimes, LIFETIMES_FITTERS[self.model.name])()
        fitter.params_ = pd.Series({k: self.model.params[k] for k in PARAM_NAMES[self.model.name]})
        spend = lifetimes.GammaGammaFitter()
        spend.params_ = pd.Series({k: self.gamma_gamma.params[k] for k in GAMMA_GAMMA_PARAMS})
        if summary is not None:
            fitter.data = summary[["frequency", "recency", "T"]].copy()
            if "monetary_value" in summary:
                spend.data = summary[["frequency", "monetary_value"]].copy()
        return fitter, spend


def from_json(model: dict, where: str = "model.json") -> SavedFit:
    """A :class:`SavedFit` from the parsed ``model.json`` of a run (``where`` names it in errors)."""
    if model.get("unavailable"):
        raise RunArtifactError(f"{where}: this run has no fitted purchase model ({model['unavailable']}), so there"
                               " is nothing to score with. Use a run whose model page shows a fitted model.")
    final, clv = model.get("final") or {}, model.get("clv") or {}
    name = final.get("model")
    if name not in PARAM_NAMES or not final.get("params") or not final.get("gamma_gamma") or not model.get(
            "time_unit"):
        raise RunArtifactError(f"{where} has no 'final' entry with a model ({', '.join(PARAM_NAMES)}), its"
                               " 'params' and 'gamma_gamma', or no 'time_unit': it was not written by this kit's"
                               " model stage.")
    missing = [k for k in ("horizon_months", "annual_discount_rate", "gross_margin") if clv.get(k) is None]
    if missing:
        raise RunArtifactError(f"{where}: the 'clv' entry lacks {', '.join(missing)}.")
    purchase, spend = estimates(final, model["time_unit"])
    return SavedFit(purchase, spend, model["time_unit"], int(clv["horizon_months"]),
                    float(clv["annual_discount_rate"]), float(clv["gross_margin"]), model.get("observation_end"))


def estimates(final: dict, time_unit: str) -> tuple[FittedModel, GammaGammaFit]:
    """The purchase and spend models of ``model.json``'s ``final`` entry, point estimates only (no
    covariance: a CLV computed with them needs ``n_draws=0``)."""
    nan, name = math.nan, final["model"]
    purchase = FittedModel(name=name, params={k: float(final["params"][k]) for k in PARAM_NAMES[name]},
                           loglik=float(final.get("loglik") or nan), aic=nan, bic=nan,
                           n_customers=int(final.get("n_customers") or 0), ci={}, cov_log=np.zeros((0, 0)),
                           time_unit=time_unit, penalizer=float(final.get("penalizer") or 0.0))
    spend = GammaGammaFit(params={k: float(final["gamma_gamma"][k]) for k in GAMMA_GAMMA_PARAMS}, loglik=nan,
                          aic=nan, bic=nan, n_customers=0, ci={}, cov_log=np.zeros((0, 0)), correlation={})
    return purchase, spend


def load(path: str | Path) -> SavedFit:
    """The fit a run saved: ``path`` is a run folder (``reports/2024-06-30``, ``reports/latest``) or a
    ``model.json``. Raises :class:`analysis.errors.RunArtifactError` (with what to do) when it holds none."""
    path = Path(path)
    file = path / "artifacts" / "model.json" if path.is_dir() else path
    if not file.is_file():
        raise RunArtifactError(f"{file} not found: give a run folder made by the kit (it holds"
                               " artifacts/model.json) or the path of a model.json.")
    try:
        model = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunArtifactError(f"{file} is not the JSON the kit writes ({exc}).") from None
    return from_json(model, str(file))


__all__ = ["SavedFit", "load", "from_json", "estimates", "LIFETIMES_FITTERS"]
