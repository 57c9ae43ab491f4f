"""The run-folder contract: every file a run writes, who writes it, who reads it, and its columns.

A run of the pipeline (``python -m analysis.pipeline run``, :mod:`analysis.pipeline`) publishes one folder,
``reports/<observation end>/`` by default (or ``--out``)::

    <run>/
      .retention-kit-run       marker: "made by the kit", so a later run may replace the folder
      params.yaml              copy of the run configuration; the notebooks read this copy
      manifest.json            what ran, with which inputs, code and packages; each step's key and outputs
      index.html               the summary page (analysis.reporting.report.write_index)
      NN_name.html             one page per notebook notebooks/NN_name.ipynb (analysis.reporting.html.render_html)
      summary.png              picture of index.html, only when a working Chromium is found
      executed/NN_name.ipynb   each notebook as papermill executed it (the pages are rendered from these)
      logs/NN_name.log         each notebook's log (warnings, progress lines)
      logs/NN_name.sections.json  the configuration sections the notebook read (checked by the pipeline)
      artifacts/               the data a run hands from step to step and to people: the catalogue below

The steps run in this order, each writing its own files and never rewriting another step's
(:meth:`analysis.reporting.nb.Run.write_customers`):

``ingest`` (in :mod:`analysis.pipeline`, with :mod:`analysis.data.ingest` or :mod:`analysis.spark_engine`), the
notebooks ``01_data_and_kpis`` ... ``05_campaigns`` (papermill), ``compare`` (:func:`analysis.runs.history.compare_runs`,
only for a folder named by a date with an earlier report of the same data), ``html`` (the pages). What the
pipeline writes outside those steps (the marker, ``params.yaml``, ``manifest.json``, ``summary.png``) has the
writer :data:`PIPELINE`. ``index.html`` is written by :func:`analysis.reporting.report.write_index` right after the
``html`` step (outside its record in the manifest); the catalogue counts it to ``html``.

Not in a published run folder, and so not catalogued: ``logs/pipeline.log`` (only in a failed run, moved to
``reports/.failed/``); the series files next to the run folders (``reports/index.html``, the ``latest`` link,
the ``.<name>.lock`` files, written by :mod:`analysis.runs.series` and :class:`analysis.runs.publish.FolderLock`); the
``.dev/<name>/`` working copy a notebook run by hand makes (:func:`analysis.reporting.nb.working_folder`).

Catalogue
---------
:data:`ARTIFACTS` lists the files in ``artifacts/`` (names relative to that folder), :data:`RUN_FILES` the
other files of the run folder (names relative to the run folder); :data:`CATALOGUE` is both. A file written once
per item has one entry whose name holds a placeholder in angle brackets: ``targets_<scenario>.csv`` (one per
``roi.scenarios`` entry; ``<scenario>`` is a scenario name, :data:`PLACEHOLDERS`). The per-notebook run files
are listed once per notebook of :data:`NOTEBOOKS`.

``writer``: the step that writes the file (or :data:`PIPELINE`). ``readers``: the steps that read it during a
run, and the library modules that read it otherwise (``series``: the reports index; ``saved``: scoring with a
saved model; ``pipeline``: the run's own book-keeping; ``nb``, ``incremental``). A file with no reader is for
people (a CRM import, a spreadsheet). ``columns``: for a CSV or Parquet table, its column names in file order
(a CSV's index column included) as the bundled configuration writes them; ``column_variants``: the other
column lists the code writes under some condition (each explained where it is defined). ``optional``: when
the file is not always written, in plain words.

:func:`lookup` finds a file's entry; :func:`check_run` compares a run folder with the catalogue; :func:`read_json`
reads a JSON artifact, with one policy for a missing or damaged file.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

from analysis.reporting.pages import PAGES

STAGING_ENV = "RETENTION_KIT_STAGING"
"""Set by the pipeline for the notebooks it executes: the run folder it is building (here, in a module that
imports nothing heavy, so that the kernels can be started before the rest of the kit is imported)."""

ARTIFACTS_WRITTEN = "artifacts written: the pages that read them may start"
"""The progress line with which a page says, while it still runs (it goes on with its charts), that it has written
all its artifacts (:meth:`analysis.reporting.nb.Run.artifacts_written`); the pipeline, following the page's log,
then starts the pages that read them (:class:`analysis.runs.schedule.Released`)."""

__all__ = ["Artifact", "ARTIFACTS", "RUN_FILES", "CATALOGUE", "NOTEBOOKS", "STEPS", "PIPELINE", "PLACEHOLDERS",
           "lookup", "check_run", "read_json", "table_columns"]

#: The report notebooks, ``notebooks/<name>.ipynb``, in the order the pipeline runs them.
NOTEBOOKS: tuple[str, ...] = tuple(page.stem for page in PAGES)

#: The steps of a run, in order (the names of the step records in ``manifest.json``).
STEPS: tuple[str, ...] = ("ingest", *NOTEBOOKS, "compare", "html")

#: Writer of the files :mod:`analysis.pipeline` writes outside any step (no step record in the manifest).
PIPELINE = "pipeline"

#: What a placeholder in a catalogue name stands for (a regular expression).
PLACEHOLDERS: dict[str, str] = {
    # a roi.scenarios name: analysis.business.roi._SLUG (lower-case letters, digits, "_" and "-")
    "scenario": r"[a-z0-9]+(?:[_-][a-z0-9]+)*",
}

_PLACEHOLDER = re.compile(r"<(\w+)>")


@dataclass(frozen=True)
class Artifact:
    """One file of a run folder (see the module docstring)."""

    name: str
    writer: str
    readers: tuple[str, ...]
    description: str
    columns: tuple[str, ...] | None = None
    optional: str | None = None
    #: Other exact column lists the code writes in some cases (``columns`` is the usual one).
    column_variants: tuple[tuple[str, ...], ...] = ()

    @property
    def is_pattern(self) -> bool:
        """True when the name holds a placeholder (``targets_<scenario>.csv``): one file per item."""
        return bool(_PLACEHOLDER.search(self.name))

    def matches(self, name: str) -> bool:
        """Whether the file ``name`` (relative like :attr:`name`) is this entry's file."""
        if not self.is_pattern:
            return name == self.name
        parts = _PLACEHOLDER.split(self.name)  # text, placeholder, text, ...
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?:{PLACEHOLDERS[p]})" for i, p in enumerate(parts))
        return re.fullmatch(regex, name) is not None

    def columns_ok(self, found: tuple[str, ...]) -> bool:
        """Whether a table with the columns ``found`` (in file order) is what the code writes."""
        return self.columns is None or tuple(found) in (self.columns, *self.column_variants)


# ---------------------------------------------------------------- column lists

#: customers_01_rfm.parquet: analysis.scoring.modelstage.customer_summary, ``customer_id`` as a plain column.
RFM_COLUMNS: tuple[str, ...] = ("customer_id", "frequency", "recency", "T", "monetary_value", "first_purchase",
                                "last_purchase", "n_purchases", "revenue", "days_since_last")
#: customers_02_scores.parquet: the above plus the model scores (analysis.scoring.clv).
SCORE_COLUMNS: tuple[str, ...] = RFM_COLUMNS + ("p_alive", "expected_purchases", "expected_avg_value", "clv",
                                                "clv_low", "clv_high")
#: customers.parquet: the above plus the segments (analysis.business.segments.assign_segments).
CUSTOMER_COLUMNS: tuple[str, ...] = SCORE_COLUMNS + ("rfm_r", "rfm_f", "rfm_m", "rfm_segment", "abc_class",
                                                     "clv_tier", "p_alive_band", "value_risk_segment",
                                                     "value_risk_action")
_SEGMENT_PROFILE_COLUMNS = ("segmentation", "segment", "customers", "customer_share", "revenue", "revenue_share",
                            "expected_value", "expected_value_share", "avg_clv", "avg_p_alive",
                            "avg_expected_purchases", "avg_order_value", "avg_days_since_last")
_CAMPAIGN_COLUMNS = (
    "campaign", "label", "simulated", "start", "end", "window_days", "window_complete", "treated", "control",
    *(f"{m}{s}" for m in ("bought_share_treated", "bought_share_control", "uplift",
                          "revenue_per_customer_treated", "revenue_per_customer_control",
                          "margin_per_customer_treated", "margin_per_customer_control")
      for s in ("", "_low", "_high")),
    *(f"{m}{s}" for m in ("revenue_difference_per_customer", "incremental_customers_retained", "incremental_margin")
      for s in ("", "_low", "_high")),
    "redemptions", "total_cost", "gross_margin", "roi", "roi_low", "roi_high",
    "cost_per_incremental_customer", "cost_per_incremental_customer_low", "cost_per_incremental_customer_high",
    "control_group_needed", "verdict", "why", "interval_level",
    "listed_without_purchases", "listed_without_purchases_treated", "listed_without_purchases_control",
    "balance_flagged")
_TARGETING_COLUMNS = ("targeting_difference", "targeting_difference_low", "targeting_difference_high",
                      "targeting_verdict")

_MODEL_FITTED = "only when the purchase model could be fitted (model.json has no 'unavailable')"
_COMPARED = ("only when there is an earlier report of the series: a run folder named by a date, an earlier"
             " published run of the same data file, and both purchase models fitted")

# ---------------------------------------------------------------- artifacts/

#: kpis.json, model.json and customers.parquet (analysis.runs.history.HASHED_ARTIFACTS) are also hashed: by compare
#: (the previous run's, into since_last.json) and by pipeline._refresh_next (a published run's).
_HASHED = (" Its sha256 goes into the next report's since_last.json; pipeline._refresh_next compares it to decide"
           " whether that report must be compared again.")

ARTIFACTS: tuple[Artifact, ...] = (
    # -- ingest (analysis.pipeline._run.ingest)
    Artifact("purchases.parquet", "ingest",
             ("ingest", "pipeline", "01_data_and_kpis", "02_clv_models", "04_retention_roi", "05_campaigns",
              "compare"),
             "The cleaned transaction log, one row per customer and purchase day (analysis.data.ingest / "
             "analysis.spark_engine .ingest_transactions). Read back by the ingest step itself "
             "(analysis.runs.steps.first_purchases_on) and by the pipeline's contact-list check before the notebooks; 04 "
             "reads it only when a scenario takes a measured uplift; compare reads the current run's.",
             columns=("customer_id", "date", "amount", "lines")),
    Artifact("data_quality.json", "ingest", ("pipeline", "01_data_and_kpis", "html"),
             "Rows read, used and left out, and why; the data's first and last date; the customers who first bought "
             "on the calibration or observation end."),
    Artifact("run.json", "ingest",
             ("pipeline", "nb", "01_data_and_kpis", "02_clv_models", "03_segments", "04_retention_roi",
              "05_campaigns", "compare"),
             "The run's dates: observation_end, calibration_end, time_unit. analysis.reporting.nb.working_folder takes a "
             "folder with this file for a run folder; 04 reads it only for a measured uplift; compare reads the "
             "current, the previous and every earlier run's (analysis.runs.history)."),
    # -- 01_data_and_kpis
    Artifact("customers_01_rfm.parquet", "01_data_and_kpis", (),
             "One row per customer: frequency, recency, T, spend and days since the last purchase. For analysts: 02 "
             "makes the same summary itself, so that it runs alongside 01.",
             columns=RFM_COLUMNS),
    Artifact("kpi_series.csv", "01_data_and_kpis", ("html",),
             "Active, new and retained customers, orders, revenue, retention and churn per KPI period "
             "(chart on index.html).",
             columns=("period_start", "active_customers", "new_customers", "retained_customers", "orders", "revenue",
                      "retention_rate", "churn_rate", "complete")),
    Artifact("kpis.json", "01_data_and_kpis", ("compare", "html", "series", "pipeline"),
             "The headline KPIs (analysis.business.kpis.headline_kpis): tiles of index.html, the since-last-report "
             "comparison and trend, a row of the reports index; offered as a download on index.html." + _HASHED),
    # -- 02_clv_models
    Artifact("customers_02_scores.parquet", "02_clv_models", ("03_segments",),
             "customers_01_rfm plus each customer's P(alive), expected purchases, expected order value and CLV "
             "with its band.",
             columns=SCORE_COLUMNS,
             # the purchase model could not be fitted: 02 writes customers_01_rfm unchanged under this name
             column_variants=(RFM_COLUMNS,)),
    Artifact("model.json", "02_clv_models",
             ("03_segments", "04_retention_roi", "05_campaigns", "compare", "html", "series", "saved", "pipeline"),
             "The fitted models, the holdout check and the selected model (analysis.scoring.modelstage ... to_json), or "
             "{'unavailable': why} with the dates when the purchase model could not be fitted "
             "(modelstage.unavailable_json). 03/04/05 and compare first ask analysis.reporting.nb.model_unavailable; "
             "analysis.scoring.saved.load scores new customers with its 'final' entry." + _HASHED),
    Artifact("tracking.csv", "02_clv_models", ("html",),
             "Repeat purchases per period, actual against the model's expectation, calibration and holdout "
             "(chart on index.html).",
             columns=("period_start", "period_end", "phase", "actual", "expected", "cumulative_actual",
                      "cumulative_expected"),
             optional=_MODEL_FITTED),
    Artifact("customers_02_bgbb.parquet", "02_clv_models", (),
             "BG/BB on whole periods (models.discrete; analysis.scoring.discrete): each customer's periods with a "
             "repeat purchase (frequency), the last of them (recency) and the periods since the first (n), all "
             "counted from the period of the first purchase; P(alive) at the next period and the expected "
             "transactions in the next models.discrete.horizon_periods. For analysts; nothing in the kit reads it.",
             columns=("customer_id", "frequency", "recency", "n", "p_alive", "expected_transactions"),
             optional="only when models.discrete is set and BG/BB could be fitted (with or without the purchase"
                      " model)"),
    # -- 03_segments
    Artifact("customers.parquet", "03_segments", ("04_retention_roi", "compare", "html", "pipeline"),
             "The final customer table: scores plus RFM, ABC, CLV tier and value x risk segments. Real customer "
             "ids (the pseudonyms elsewhere can be looked up here)." + _HASHED,
             columns=CUSTOMER_COLUMNS,
             # the purchase model could not be fitted: 03 copies customers_02_scores, which then has the RFM columns
             column_variants=(RFM_COLUMNS,)),
    Artifact("segments.csv", "03_segments", ("html",),
             "Profile of each segment of each segmentation (analysis.business.segments.segment_profiles). index.html only "
             "links it (download), nothing reads its content.",
             columns=_SEGMENT_PROFILE_COLUMNS,
             # with segments.cost_to_serve configured
             column_variants=(_SEGMENT_PROFILE_COLUMNS + ("serving_cost", "expected_profit"),),
             optional=_MODEL_FITTED),
    Artifact("at_risk_high_value.csv", "03_segments", ("html",),
             "The CRM export: high-value customers at risk, by CLV (pseudonyms unless "
             "privacy.crm_export_real_ids). Tiles and findings of index.html; offered as a download there.",
             columns=("customer_id", "clv", "p_alive", "last_purchase", "expected_purchases"),
             optional=_MODEL_FITTED),
    # -- 04_retention_roi
    Artifact("roi.csv", "04_retention_roi", ("compare", "html"),
             "Expected cost, gain and ROI of each roi.scenarios entry (analysis.business.roi.evaluate_scenarios). compare "
             "lists the scenarios in both reports (skipped when either run has none).",
             columns=("scenario", "label", "target", "customers_targeted", "uplift", "cost_per_contact",
                      "incentive_cost", "gross_margin", "horizon_months", "expected_customers_retained",
                      "incremental_margin", "contact_cost", "incentive_cost_total", "total_cost", "net_gain", "roi",
                      "breakeven_uplift", "cost_per_retained_customer"),
             optional=_MODEL_FITTED),
    Artifact("targets_<scenario>.csv", "04_retention_roi", (),
             "The ranked contact list of one scenario, with pseudonyms (analysis.business.roi.scenario_targets). For the "
             "CRM; nothing in the kit reads it.",
             columns=("customer_id", "rank", "value_risk_segment", "clv_tier", "rfm_segment", "abc_class", "p_alive",
                      "clv", "value_if_retained", "expected_retained", "expected_incremental_profit"),
             optional="one per campaign scenario (roi.scenarios), " + _MODEL_FITTED),
    # -- 05_campaigns (written only when the configuration has a campaigns: section; the page ends before)
    Artifact("campaigns.csv", "05_campaigns", ("html",),
             "Each measured past campaign against its control group (analysis.business.campaigns.measure_all) and the "
             "targeting check. index.html only links it (download).",
             columns=_CAMPAIGN_COLUMNS + _TARGETING_COLUMNS,
             # no campaign could be measured (every one skipped): an empty table with only the targeting columns
             column_variants=(_TARGETING_COLUMNS,),
             optional="only when the configuration has campaigns:"),
    Artifact("campaign_segments.csv", "05_campaigns", (),
             "Uplift of each measured campaign per value x risk segment (analysis.business.campaigns.by_segment).",
             columns=("segment", "treated", "control", "bought_share_treated", "bought_share_control", "uplift",
                      "uplift_low", "uplift_high", "campaign"),
             # no campaign scored: 05 writes an empty table with these same columns (it takes them from here)
             optional="only when the configuration has campaigns:"),
    Artifact("campaign_targeting.csv", "05_campaigns", (),
             "Uplift by decile of the expected gain of contacting, with the Qini curve "
             "(analysis.business.campaigns.targeting_deciles).",
             columns=("decile", "treated", "control", "bought_share_treated", "bought_share_control", "uplift",
                      "uplift_low", "uplift_high", "share_targeted", "qini", "qini_random", "campaign"),
             # no campaign scored: 05 writes an empty table with these same columns (it takes them from here)
             optional="only when the configuration has campaigns:"),
    # -- compare (analysis.runs.history.compare_runs); the html step uses the comparison in memory, not these files
    Artifact("since_last.json", "compare", ("series", "pipeline"),
             "The comparison with the previous report: KPIs then and now, segment migration, newly at risk, the "
             "previous forecast against what happened, scenarios then and now, and the sha256 of the previous "
             "run's kpis.json, model.json and customers.parquet. Read by the reports index (analysis.runs.series) and by "
             "the pipeline to decide whether the next report must be re-compared (pipeline._refresh_next).",
             optional=_COMPARED),
    Artifact("migration.csv", "compare", (),
             "Customers and their CLV then and now, per value x risk segment last time and now (every pair).",
             columns=("from_segment", "to_segment", "customers", "value_previous", "value_current"),
             optional=_COMPARED),
    Artifact("newly_at_risk.csv", "compare", (),
             "High-value customers whose P(alive) fell below the at-risk threshold since the last report. Real "
             "customer ids.",
             columns=("customer_id", "previous_p_alive", "p_alive", "clv", "value_risk_segment"),
             optional=_COMPARED),
    Artifact("forecast_vs_actual.csv", "compare", (),
             "The previous run's forecast of repeat purchases for the days since, against what happened, per "
             "segment at the last report.",
             columns=("previous_segment", "customers", "forecast", "actual"),
             optional=_COMPARED),
)
# Not catalogued: new_transactions.parquet. No code writes or reads it; it only appears as an example file name in
# the docstring of analysis.scoring.saved (a user's own file to score with a saved model).


# ---------------------------------------------------------------- the rest of the run folder

def _notebook_files(stem: str) -> tuple[Artifact, ...]:
    return (
        Artifact(f"executed/{stem}.ipynb", stem, ("html",),
                 f"notebooks/{stem}.ipynb as papermill executed it; the html step renders {stem}.html from it."),
        Artifact(f"logs/{stem}.log", stem, ("pipeline",),
                 "The notebook's log (analysis.reporting.nb.start): warnings, and progress lines the pipeline echoes to the "
                 "console while the step runs."),
        Artifact(f"logs/{stem}.sections.json", stem, ("pipeline",),
                 "The configuration sections the notebook read (analysis.config.recording); the pipeline stops when "
                 "one is not in the page's sections (analysis.reporting.pages.PAGES)."),
        Artifact(f"{stem}.html", "html", ("pipeline",),
                 f"The page of notebook {stem}, without code (analysis.reporting.html.render_html). The pipeline's "
                 "up-to-date check (--if-changed) needs it."),
    )


RUN_FILES: tuple[Artifact, ...] = (
    Artifact(".retention-kit-run", PIPELINE, ("pipeline",),
             "Marker: a folder the kit made, which a later run may replace (analysis.runs.publish.check_output_folder)."),
    Artifact("params.yaml", PIPELINE, (*NOTEBOOKS, "pipeline"),
             "Copy of the run configuration. Every notebook is run with this copy (papermill parameter "
             "params_path); pipeline._refresh_next re-runs a later report from it."),
    Artifact("manifest.json", PIPELINE, ("pipeline", "incremental", "series"),
             "What ran: configuration, inputs and their sha256, dates, packages, git state, each step's key and "
             "outputs, the sha256 of every artifact, the previous run, and when the run started and finished (after the "
             "html step and the screenshot). Written once, last. Read to reuse unchanged steps (analysis.runs.incremental.Reuse), for the up-to-date "
             "check, to list the runs of a series (analysis.runs.series.complete_runs)."),
    Artifact("index.html", "html", ("pipeline", "series"),
             "The summary page (analysis.reporting.report.write_index, called right before the html step, so that "
             "Chromium takes its picture while the pages are rendered). A run folder counts as published only with it "
             "(analysis.runs.series.complete_runs)."),
    Artifact("summary.png", PIPELINE, (),
             "Picture of index.html taken with headless Chromium (analysis.reporting.html.Screenshot, alongside the html step); manifest.json's "
             "'screenshot' says why not when missing.",
             optional="only when a working Chromium is found ($RETENTION_KIT_CHROMIUM, or chromium on PATH)"),
    *(f for stem in NOTEBOOKS for f in _notebook_files(stem)),
)

CATALOGUE: tuple[Artifact, ...] = ARTIFACTS + RUN_FILES


def _find(entries: tuple[Artifact, ...], name: str) -> Artifact | None:
    exact = next((a for a in entries if not a.is_pattern and a.name == name), None)
    return exact or next((a for a in entries if a.is_pattern and a.matches(name)), None)


def lookup(filename: str | Path) -> Artifact:
    """The catalogue entry of a file: a name in ``artifacts/`` (``"roi.csv"``, ``"targets_email_best_5000.csv"``,
    or ``"artifacts/roi.csv"``) or a path relative to the run folder (``"manifest.json"``,
    ``"logs/03_segments.log"``). Raises KeyError for a file the catalogue does not know."""
    name = Path(filename).as_posix()
    if name.startswith("artifacts/"):
        found = _find(ARTIFACTS, name.removeprefix("artifacts/"))
    else:
        found = _find(ARTIFACTS, name) or _find(RUN_FILES, name)
    if found is None:
        raise KeyError(f"{name} is not in the run-folder catalogue (analysis.runs.runfolder)")
    return found


def read_json(run_dir: str | Path, name: str, *, required: bool = True) -> dict:
    """The JSON artifact ``artifacts/<name>`` of the run folder ``run_dir``: the one policy of every reader.

    A file that exists but cannot be read as a JSON object (damaged, cut off) is always an error. A missing
    file is an error when ``required`` (an earlier step of the run writes it), and ``{}`` otherwise (an
    optional artifact, or a run of an older kit). The errors are :class:`~analysis.errors.RunArtifactError`
    and name the file, the step that writes it (the catalogue) and what to do.
    """
    from analysis.errors import RunArtifactError

    path = Path(run_dir) / "artifacts" / name
    try:
        writer = lookup(name).writer
    except KeyError:
        writer = None
    by = f" (written by step {writer})" if writer else ""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not required:
            return {}
        raise RunArtifactError(f"{path} is missing{by}: {Path(run_dir)} is not a complete run folder, or that step"
                               " failed. Run the pipeline again (make report).") from None
    except OSError as exc:
        raise RunArtifactError(f"{path} cannot be read{by}: {exc.strerror or exc}.") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        data = exc
    if not isinstance(data, dict):
        raise RunArtifactError(f"{path} is damaged{by}: it is not a JSON object"
                               f"{f' ({data})' if isinstance(data, ValueError) else ''}. Run the pipeline again"
                               " (make report).")
    return data


def table_columns(path: Path) -> tuple[str, ...] | None:
    """The column names of a CSV (its header row) or Parquet file, in file order; None for other files."""
    path = Path(path)
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as handle:
            return tuple(next(csv.reader(handle), []))
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return tuple(pq.read_schema(path).names)
    return None


def check_run(run_dir: str | Path) -> list[str]:
    """What in the run folder ``run_dir`` differs from the catalogue, one line per problem (empty: none).

    * a file in the folder (``artifacts/`` or elsewhere) that the catalogue does not name;
    * a catalogue entry that is always written (``optional`` is None) but missing;
    * a CSV or Parquet table whose columns are not the catalogue's (``columns`` or one of ``column_variants``).

    Optional files are not required; that they were written exactly when their condition holds is not checked.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "artifacts").is_dir():
        return [f"{run_dir}: no artifacts/ folder, not a run folder"]
    problems: list[str] = []
    for path in sorted(p for p in run_dir.rglob("*") if not p.is_dir()):
        rel = path.relative_to(run_dir).as_posix()
        if rel.startswith("artifacts/"):
            entry = _find(ARTIFACTS, rel.removeprefix("artifacts/"))
        else:
            entry = _find(RUN_FILES, rel)
        if entry is None:
            problems.append(f"{rel}: not in the run-folder catalogue (analysis.runs.runfolder)")
            continue
        if entry.columns is None:
            continue
        try:
            found = table_columns(path)
        except Exception as exc:  # noqa: BLE001 - an unreadable table is a problem to report, not a crash
            problems.append(f"{rel}: cannot read its columns ({type(exc).__name__}: {exc})")
            continue
        if found is not None and not entry.columns_ok(found):
            missing = [c for c in entry.columns if c not in found]
            extra = [c for c in found if c not in entry.columns]
            what = (f"missing {missing}" if missing else "") + ("; " if missing and extra else "") + \
                   (f"unexpected {extra}" if extra else "")
            problems.append(f"{rel}: columns differ from the catalogue ({what or 'other order'}): "
                            f"found {list(found)}, expected {list(entry.columns)}")
    for entry in CATALOGUE:
        if entry.optional is not None or entry.is_pattern:
            continue
        rel = f"artifacts/{entry.name}" if entry in ARTIFACTS else entry.name
        if not (run_dir / rel).is_file():
            problems.append(f"{rel}: missing (always written by step {entry.writer})")
    return problems
