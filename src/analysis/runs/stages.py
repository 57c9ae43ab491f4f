"""What each report page computes and writes to its run folder; the notebooks show it.

One function per page (:data:`analysis.reporting.pages.PAGES`). Each reads the artifacts of the steps before
it, computes the page's tables with the library, writes the page's artifacts (the run-folder catalogue,
:mod:`analysis.runs.runfolder`, names them) and returns what the page displays. The notebooks keep the
narrative, the tables and the charts.

A page that has nothing to show (no model could be fitted, no campaign configured) gets ``None`` (or a
result with ``unavailable`` set), after the fallback artifacts the later pages read are written (02: the
unscored customers and a ``model.json`` that says why; 03: the customers without segments), and ends itself
with :func:`analysis.reporting.nb.end_page`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from analysis.config import RunParams
    from analysis.reporting.nb import Run
    from analysis.scoring.discrete import DiscreteStage
    from analysis.scoring.modelstage import ModelStage


@dataclass
class DataAndKpis:
    """Page 01: the customer summary, the KPI series by period, the headline KPIs and the cohorts."""

    customers: pd.DataFrame
    series: pd.DataFrame
    headline: dict
    cohorts: pd.DataFrame


def data_and_kpis(params: "RunParams", run: "Run", dates: dict) -> DataAndKpis:
    """Writes ``customers_01_rfm.parquet``, ``kpi_series.csv`` and ``kpis.json``."""
    from analysis.business import kpis
    from analysis.scoring.modelstage import customer_summary

    purchases = run.artifacts / "purchases.parquet"
    period = params.kpis.period
    customers = customer_summary(purchases, dates["observation_end"], params, one_row_per_day=True)
    run.write_customers(customers, "customers_01_rfm.parquet")
    # the purchases as one row per customer and day (as the ingest wrote them), read once for the three KPI tables
    days = kpis.PurchaseDays(purchases, dates["observation_end"], one_row_per_day=True)
    series = kpis.period_series(days, dates["observation_end"], period)
    series.to_csv(run.artifacts / "kpi_series.csv", index=False)
    headline = kpis.headline_kpis(days, dates["observation_end"], period, params.kpis.active_window_days,
                                  series=series)
    run.write_json("kpis.json", headline)
    cohorts = kpis.cohort_retention(days, dates["observation_end"])
    return DataAndKpis(customers=customers, series=series, headline=headline, cohorts=cohorts)


@dataclass
class ClvModels:
    """Page 02: the model stage and the scored customers; ``unavailable``: why no model could be fitted."""

    stage: "ModelStage | None"
    customers: pd.DataFrame
    unavailable: str | None = None
    discrete: "DiscreteStage | None" = None
    """BG/BB on whole periods, when ``models.discrete`` is set."""


def clv_models(params: "RunParams", run: "Run", dates: dict) -> ClvModels:
    """Writes ``customers_02_scores.parquet``, ``model.json`` and ``tracking.csv`` (without a model: the
    customers unscored and a ``model.json`` that says why); with ``models.discrete`` also BG/BB's
    ``customers_02_bgbb.parquet`` and its entry ``discrete`` in ``model.json``. Then it says so
    (:meth:`~analysis.reporting.nb.Run.artifacts_written`): the page only shows them from here on."""
    from analysis.scoring import modelstage

    # The same whole-period summary page 01 writes (customers_01_rfm.parquet), made here too so that this page
    # need not wait for page 01: the two run side by side (analysis.reporting.pages.PAGES). The calibration
    # summary is made alongside it.
    customers, calibration = modelstage.summaries(run.artifacts / "purchases.parquet", dates, params,
                                                  one_row_per_day=True)
    try:
        stage = modelstage.run_model_stage(run.artifacts / "purchases.parquet", customers, dates, params,
                                           one_row_per_day=True, calibration=calibration)
    except modelstage.ModelFitError as exc:  # the other pages are still published; this one says why
        run.write_customers(customers, "customers_02_scores.parquet")
        # BG/BB (models.discrete) needs neither the purchase nor the spend model: the page still shows it
        bgbb = _write_model(params, run, dates, modelstage.unavailable_json(dates, exc))
        run.artifacts_written()
        with_bgbb = bgbb is not None and bgbb.fit is not None
        return ClvModels(stage=None, customers=customers, unavailable=modelstage.unavailable_text(exc, with_bgbb),
                         discrete=bgbb)
    scores = stage.clv.customers
    customers = customers.drop(columns=[c for c in scores.columns if c in customers]).join(scores)
    run.write_customers(customers, "customers_02_scores.parquet")
    bgbb = _write_model(params, run, dates, stage.to_json(dates))
    stage.tracking.to_csv(run.artifacts / "tracking.csv", index=False)
    run.artifacts_written()  # page 03 may start while this page draws its charts
    return ClvModels(stage=stage, customers=customers, discrete=bgbb)


def _write_model(params: "RunParams", run: "Run", dates: dict, model_json: dict) -> "DiscreteStage | None":
    """Write ``model.json``; with ``models.discrete`` first BG/BB on its whole periods
    (:mod:`analysis.scoring.discrete`), under ``model_json["discrete"]`` and in ``customers_02_bgbb.parquet``.
    Without it (None) ``model.json`` is ``model_json`` as it is."""
    spec = params.models.discrete
    if spec is None:
        run.write_json("model.json", model_json)
        return None
    from analysis.scoring import discrete

    purchases = pd.read_parquet(run.artifacts / "purchases.parquet", columns=["customer_id", "date"])
    horizon = discrete.horizon_periods(spec.period, spec.horizon_periods, params.clv.horizon_months)
    bgbb = discrete.run_discrete_stage(purchases.astype({"customer_id": str}),
                                       dt.date.fromisoformat(dates["calibration_end"]),
                                       dt.date.fromisoformat(dates["observation_end"]), spec.period, horizon)
    if bgbb.customers is not None:
        run.write_customers(bgbb.customers, "customers_02_bgbb.parquet")
    run.write_json("model.json", {**model_json, "discrete": bgbb.to_json()})
    return bgbb


@dataclass
class Segments:
    """Page 03: the segmented customers, their profiles and the high-value customers at risk."""

    customers: pd.DataFrame
    profiles: pd.DataFrame
    at_risk: pd.DataFrame
    pseudonyms: object


def segments(params: "RunParams", run: "Run", dates: dict) -> Segments | None:
    """Writes ``customers.parquet``, ``segments.csv`` and ``at_risk_high_value.csv``; None (after writing the
    unscored customers) when the model page could not fit a model."""
    from analysis import privacy
    from analysis.business import segments as seg_lib
    from analysis.reporting import nb

    seg = params.segments
    if nb.model_unavailable(run):
        run.write_customers(run.read_customers("customers_02_scores.parquet"))
        return None
    customers = seg_lib.assign_segments(run.read_customers("customers_02_scores.parquet"), seg,
                                        dates["observation_end"])
    run.write_customers(customers)
    profiles = seg_lib.segment_profiles(customers, cost_to_serve=seg.cost_to_serve,
                                        horizon_months=params.clv.horizon_months)
    run.write_csv(profiles, "segments.csv", index=False)
    at_risk = seg_lib.at_risk_high_value(customers, seg)
    # Customer ids leave the machine only as keyed pseudonyms, unless the CRM export is configured with real ids.
    pseudo = privacy.Pseudonymiser.from_params(params.privacy)
    crm_list = at_risk if params.privacy.crm_export_real_ids else pseudo.frame(at_risk)
    run.write_csv(crm_list, "at_risk_high_value.csv")
    return Segments(customers=customers, profiles=profiles, at_risk=at_risk, pseudonyms=pseudo)


@dataclass
class RetentionRoi:
    """Page 04: the scenarios evaluated (``table``), with the parameters used (uplifts resolved from measured
    campaigns) and where each uplift came from."""

    customers: pd.DataFrame
    table: pd.DataFrame
    roi_params: object
    uplift_sources: dict[str, str]


def retention_roi(params: "RunParams", run: "Run") -> RetentionRoi | None:
    """Writes ``roi.csv`` and ``targets_<scenario>.csv``; None when the model page could not fit a model."""
    from analysis import privacy
    from analysis.business import campaigns, roi
    from analysis.reporting import nb

    if nb.model_unavailable(run):
        return None
    customers = run.read_customers()
    # A scenario may take its uplift from a past campaign (uplift: {measured: <campaign>}, page 05).
    roi_params, uplift_sources = params.roi, {s.name: "a guess in the run configuration" for s in params.roi.scenarios}
    if any(hasattr(s.uplift, "measured") for s in params.roi.scenarios):
        purchases = pd.read_parquet(run.artifacts / "purchases.parquet").astype({"customer_id": str})
        before_start = campaigns.scorer(params, run.artifacts / "purchases.parquet", run.read_json("model.json"))
        roi_params, uplift_sources, _ = campaigns.resolve_uplifts(
            params, purchases, dt.date.fromisoformat(run.read_json("run.json")["observation_end"]), before_start)
    # each scenario's customers ranked once, for its figures and its contact list
    targets = {s.name: roi.select_targets(customers, s) for s in roi_params.scenarios}
    table = roi.evaluate_scenarios(customers, roi_params, targets)
    run.write_csv(table, "roi.csv")
    # The contact lists carry keyed pseudonyms, not customer ids (see analysis.privacy).
    pseudo = privacy.Pseudonymiser.from_params(params.privacy)
    for scenario in roi_params.scenarios:
        run.write_csv(pseudo.frame(roi.scenario_targets(customers, scenario, targets[scenario.name])),
                      f"targets_{scenario.name}.csv")
    return RetentionRoi(customers=customers, table=table, roi_params=roi_params, uplift_sources=uplift_sources)


@dataclass
class Campaigns:
    """Page 05: the measured campaigns (``table``), the ones left out and why (``skipped``), the balance checks,
    and per campaign the outcome by segment and by decile of expected gain with the targeting check (when the
    model scored the customers before the campaign started: ``before_start``, the scorer, else None)."""

    table: pd.DataFrame
    balances: dict
    skipped: object
    segments: pd.DataFrame
    targeting: pd.DataFrame
    checks: dict
    purchases: pd.DataFrame
    observation_end: dt.date
    before_start: object


def campaigns(params: "RunParams", run: "Run", dates: dict) -> Campaigns | None:
    """Writes ``campaigns.csv``, ``campaign_segments.csv`` and ``campaign_targeting.csv``; None when no campaign
    is configured."""
    from analysis.business import campaigns as camp
    from analysis.reporting import nb
    from analysis.runs import runfolder

    if not params.campaigns:
        return None
    observation_end = dt.date.fromisoformat(dates["observation_end"])
    purchases = pd.read_parquet(run.artifacts / "purchases.parquet").astype({"customer_id": str})
    # Scores as each customer stood the day before a campaign's start: nothing done during it enters them.
    before_start = None if nb.model_unavailable(run) else camp.scorer(
        params, run.artifacts / "purchases.parquet", run.read_json("model.json"))
    table, balances, skipped = camp.measure_all(params.campaigns, purchases, observation_end,
                                                params.clv.gross_margin, before_start)
    segment_rows, decile_rows, checks = [], [], {}
    for name in balances:
        c = next(c for c in params.campaigns if c.name == name)
        frame = camp.outcomes(camp.read_contacts(c), purchases, c.start, min(c.end, observation_end))
        scores = before_start(c.start) if before_start is not None else None
        if scores is not None:
            margin = c.gross_margin or params.clv.gross_margin
            segment_rows.append(camp.by_segment(frame, scores["value_risk_segment"]).assign(campaign=name))
            deciles = camp.targeting_deciles(frame, scores, c.incentive_cost, margin)
            decile_rows.append(deciles.assign(campaign=name, label=c.title))
            checks[name] = camp.targeting_check(frame, scores, c.incentive_cost, margin)
    for key in ("difference", "difference_low", "difference_high", "verdict"):
        table[f"targeting_{key}"] = [checks.get(n, {}).get(key) for n in table["campaign"]] if len(table) else []
    run.write_csv(table, "campaigns.csv", index=False)
    # no campaign scored: empty tables with the columns of the filled ones (the run-folder catalogue)
    segments_table = pd.concat(segment_rows, ignore_index=True) if segment_rows else pd.DataFrame(
        columns=list(runfolder.lookup("campaign_segments.csv").columns))
    run.write_csv(segments_table, "campaign_segments.csv", index=False)
    targeting_table = pd.concat(decile_rows, ignore_index=True) if decile_rows else pd.DataFrame(
        columns=[*runfolder.lookup("campaign_targeting.csv").columns, "label"])
    run.write_csv(targeting_table.drop(columns="label"), "campaign_targeting.csv", index=False)
    return Campaigns(table=table, balances=balances, skipped=skipped, segments=segments_table,
                     targeting=targeting_table, checks=checks, purchases=purchases, observation_end=observation_end,
                     before_start=before_start)
