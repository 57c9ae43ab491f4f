"""One error hierarchy: every exception the kit defines lives in analysis.errors (issue #16).

The scan reads the source with ``ast``, so a new exception class written anywhere else fails here,
whatever its base. The few exceptions that are not errors a user meets are listed with the reason.
A second scan does the same for every ``raise ValueError`` / ``raise TypeError``: each one says why it
is not a KitError (PLAIN_RAISES).
"""

from __future__ import annotations

import ast
import datetime as dt

import pytest

from analysis import errors, periods, spark_engine
from analysis.data import survey
from conftest import ROOT

#: Classes derived from an exception that do not belong in analysis.errors, and why.
NOT_USER_ERRORS = {
    ("reporting/nb.py", "PageEnds"): "control flow: ends a notebook page early, the page is published",
    ("runs/publish.py", "Terminated"): "carries SIGTERM (a BaseException, so nothing catches it by accident)",
    ("runs/incremental.py", "UnresolvedImport"): "a mistake in the kit's own imports, caught by its tests",
    ("config.py", "_DuplicateKey"): "internal to the YAML loader, turned into a ConfigError there",
    ("models/fitting.py", "_Stationary"): "control flow: ends BFGS at a point that meets its tolerance, caught there",
}
EXCEPTION_BASES = {"Exception", "BaseException", "ValueError", "ImportError", "KitError", "YAMLError",
                   *(name for name, obj in vars(errors).items() if isinstance(obj, type)
                     and issubclass(obj, BaseException))}


def _exception_classes():
    for path in sorted((ROOT / "src" / "analysis").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = {b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases}
                if bases & EXCEPTION_BASES:
                    yield path.relative_to(ROOT / "src" / "analysis").as_posix(), node.name


def test_every_exception_class_is_defined_in_analysis_errors():
    found = list(_exception_classes())
    elsewhere = [f"{file}: class {name}" for file, name in found
                 if file != "errors.py" and (file, name) not in NOT_USER_ERRORS]
    assert not elsewhere, "define these in analysis/errors.py (a KitError if the user can fix it):\n" + "\n".join(
        elsewhere)
    assert len([1 for file, _ in found if file == "errors.py"]) >= 10  # the scan does see classes
    stale = set(NOT_USER_ERRORS) - set(found)
    assert not stale, f"listed as exceptions but gone: {stale}"


@pytest.mark.parametrize("module, name", [("models", "ModelFitError"), ("runs.history", "RunArtifactError"),
                                          ("data.survey", "SurveyValidationError"), ("pipeline", "RunLocked"),
                                          ("pipeline", "NotEnoughHistory"), ("pipeline", "UnsafeOutput"),
                                          ("spark_engine", "SparkNotInstalled"), ("pipeline", "StepFailed")])
def test_the_old_names_are_the_same_classes(module, name):
    """Code that imports an error from the module raising it keeps working, and catches the same class."""
    import importlib

    assert getattr(importlib.import_module(f"analysis.{module}"), name) is getattr(errors, name)


def test_user_fixable_errors_are_kit_errors_and_a_failed_step_is_not():
    """The pipeline prints a KitError as one line without a traceback; StepFailed shows the step's error."""
    for name in ("ConfigError", "DataValidationError", "ModelFitError", "ClvBandError", "RunArtifactError",
                 "SurveyValidationError", "RunLocked", "NotEnoughHistory", "UnsafeOutput", "SparkNotInstalled"):
        assert issubclass(getattr(errors, name), errors.KitError), name
    assert not issubclass(errors.StepFailed, errors.KitError)
    # page 02 reads a ModelFitError as "no model could be fitted"; a band that cannot be simulated is not that
    assert not issubclass(errors.ClvBandError, errors.ModelFitError)


#: Every ``raise ValueError`` / ``raise TypeError`` in src/analysis, by (file, enclosing function), and why it
#: is not a KitError: nothing in the user's files or configuration can cause it and nothing there fixes it.
#: What the user can cause and fix raises a KitError subclass from analysis.errors (issue #16).
PLAIN_RAISES = {
    # pydantic turns a validator's ValueError into a ValidationError, which load_params reports as a ConfigError
    ("config.py", "_known_zone"): "pydantic validator of data.timezone",
    ("config.py", "_separators_differ"): "pydantic validator of data.thousands/decimal",
    ("config.py", "_not_in_the_future"): "pydantic validator of the period dates",
    ("config.py", "_calibration_before_end"): "pydantic validator of the period dates",
    ("config.py", "_known_period"): "pydantic validator of models.discrete.period",
    ("config.py", "_known_language"): "pydantic validator of report.language",
    ("config.py", "_campaign_names_unique"): "pydantic validator of campaigns and roi scenarios",
    ("config.py", "_scenario_horizons_match"): "pydantic validator of roi scenario horizons",
    ("business/campaigns.py", "_iso"): "pydantic validator of campaigns[].start",
    ("business/roi.py", "_strictly_increasing"): "pydantic validator of roi.sensitivity",
    ("business/roi.py", "_check_names"): "pydantic validator of roi.scenarios",
    ("business/segments.py", "_check"): "pydantic validator of the segments section",
    ("business/segments.py", "_check_keys"): "pydantic validator of the segments section (via _check)",
    ("reporting/fmt.py", "currency_code"): "pydantic validator of report.currency (ReportParams); else caller's argument",
    # a caller of the library passed something the function cannot use
    ("business/campaigns.py", "simulate_contact_list"): "caller's argument: more customers asked for than given",
    ("business/kpis.py", "of"): "caller's argument: purchase days of another observation end",
    ("business/roi.py", "_validate_customers"): "caller's argument: the customers table is the kit's scores",
    ("business/segments.py", "_require"): "caller's argument: the customers table is the kit's scores",
    ("business/segments.py", "assign_segments"): "a registry entry whose function returns other columns than it lists",
    ("business/segments.py", "_days_since_last"): "caller's argument: a customers table of another observation end",
    ("business/segments.py", "rank_scores"): "caller's argument: values with gaps",
    ("business/segments.py", "rfm_segment_names"): "caller's argument: scores outside 1-5",
    ("business/segments.py", "segment_profiles"): "caller's argument: cost_to_serve without a horizon or a segment",
    ("business/segments.py", "plot_value_vs_customer_share"): "caller's argument: unknown segmentation",
    ("business/segments.py", "plot_value_risk_heatmap"): "caller's argument: customers without the segment columns",
    ("business/segments.py", "plot_rfm_segment_sizes"): "caller's argument: customers without rfm_segment",
    ("reporting/nb.py", "write_customers"): "caller's argument: a table with a customer_id column besides its index",
    ("data/summary.py", "days_per_unit"): "caller's argument: time unit (the configuration's is a Literal)",
    ("data/summary.py", "calibration_holdout_summary"): "caller's argument: dates (the configuration's are checked"
                                                        " at load and in runs.steps.resolve_dates)",
    ("data/survey.py", "survey_summary"): "caller's argument: segment_column without customers, or not in them",
    ("data/survey.py", "p_alive_by_nps_group"): "caller's argument: responses without nps, customers without p_alive",
    ("models/base.py", "_validate_summary"): "caller's argument: the customer summary is built by the kit",
    ("models/base.py", "_fail"): "caller's argument: impossible histories in a summary the kit builds",
    ("models/base.py", "_resolve_time_unit"): "caller's argument: time unit",
    ("models/base.py", "param_values"): "caller's argument: wrong number of parameters",
    ("models/bgbb.py", "_history"): "caller's argument: impossible BG/BB histories (BG/BB is not in the pipeline)",
    ("models/bgbb.py", "dert"): "caller's argument: discount rate",
    ("models/bgbb.py", "summary_by_opportunities"): "caller's argument: period, column names or end of the analyst's"
                                                    " table (BG/BB is not in the pipeline)",
    ("models/covariates.py", "_covariate_matrix"): "caller's argument: covariate names or rows not from"
                                                   " read_covariates (a constant column is a DataValidationError)",
    ("models/covariates.py", "fit_with_covariates"): "caller's argument: a model without covariates",
    ("models/fitted.py", "fit_model"): "caller's argument: penalizer (the configuration's is >= 0) or weights",
    ("models/fitting.py", "_weighted_rows"): "caller's argument: weight column",
    ("models/predictions.py", "dert"): "caller's argument: discount rate (residual_value skips a rate of 0)",
    ("models/predictions.py", "p_alive_path"): "caller's argument: purchase dates or end",
    ("models/registry.py", "get"): "caller's argument: model name (the configuration's is a Literal)",
    ("models/selection.py", "select_model"): "caller's argument: the fits and holdout errors of the model stage",
    ("privacy.py", "frame"): "caller's argument: a table without the id column",
    ("runs/history.py", "section_html"): "caller's argument: unknown stage",
    ("scoring/clv.py", "monthly_discount_rate"): "caller's argument: discount rate (the configuration's is >= 0)",
    ("scoring/clv.py", "month_length"): "caller's argument: time unit",
    ("scoring/clv.py", "customer_lifetime_value"): "caller's argument: horizon, margin, level (checked in the"
                                                   " configuration) or a spend model with q <= 1 (fit_gamma_gamma"
                                                   " refuses it)",
    ("scoring/clv.py", "_draw_log_params"): "internal check: the draws are centred on estimates a fit accepted",
    ("scoring/clv.py", "to_jsonable"): "caller's argument: a model without its holdout total",
    ("scoring/holdout.py", "tracking_table"): "caller's argument: first purchases and repeat events",
    ("scoring/modelstage.py", "score"): "internal check: the Spark summary and the customer table disagree",
    ("scoring/saved.py", "to_lifetimes"): "caller's argument: a model lifetimes has no fitter for",
    ("simulate.py", "__post_init__"): "caller's argument: simulator settings (a tool for tests and benches)",
    ("spark_engine.py", "calibration_holdout_summary"): "caller's argument: dates, as data/summary.py",
}


def _plain_raises_in(node: ast.AST, file: str, function: str):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _plain_raises_in(child, file, child.name)
            continue
        if isinstance(child, ast.Raise) and child.exc is not None:
            exc = child.exc.func if isinstance(child.exc, ast.Call) else child.exc
            if isinstance(exc, ast.Name) and exc.id in ("ValueError", "TypeError"):
                yield file, function, child.lineno
        yield from _plain_raises_in(child, file, function)


def _plain_raises():
    for path in sorted((ROOT / "src" / "analysis").rglob("*.py")):
        file = path.relative_to(ROOT / "src" / "analysis").as_posix()
        yield from _plain_raises_in(ast.parse(path.read_text(encoding="utf-8")), file, "<module>")


def test_every_plain_value_or_type_error_says_why_it_is_not_a_kit_error():
    """A new ``raise ValueError`` in library code is either a KitError (the user can fix it) or listed here."""
    found = list(_plain_raises())
    unlisted = [f"{file}:{line} in {function}" for file, function, line in found if (file, function) not in PLAIN_RAISES]
    assert not unlisted, ("raise a KitError subclass from analysis.errors if the user can cause and fix this, else"
                          " add (file, function) to PLAIN_RAISES with the reason:\n" + "\n".join(unlisted))
    assert len(found) >= 50  # the scan does see the raises
    stale = set(PLAIN_RAISES) - {(file, function) for file, function, _ in found}
    assert not stale, f"listed in PLAIN_RAISES but raise no ValueError/TypeError any more: {sorted(stale)}"


@pytest.mark.parametrize("action, kind, fragment", [
    (lambda: survey.read_survey("survey.csv", survey.SurveyParams(nps_column=None, csat_column=None)),
     errors.ConfigError, "segments.survey"),
    (lambda: survey.read_survey("survey.xlsx"), errors.DataValidationError, "survey.xlsx: unsupported file type"),
    (lambda: spark_engine.spark_date_pattern("%a %d %b %Y"), errors.ConfigError, "engine: duckdb"),
    (lambda: periods.parse_date("30/06/1998", "AS_OF"), errors.ConfigError, "AS_OF must be a date written YYYY-MM-DD"),
    (lambda: periods.period_ends(dt.date(1998, 1, 1), dt.date(1998, 6, 30), "fortnight"), errors.ConfigError,
     "EVERY must be one of"),
], ids=["survey without scores", "survey of another type", "spark date format", "AS_OF", "EVERY"])
def test_what_the_user_fixes_is_a_kit_error_and_still_a_value_error(action, kind, fragment):
    """Code that catches ValueError (the periods command, the model stage) keeps catching them."""
    with pytest.raises(kind, match=fragment) as caught:
        action()
    assert isinstance(caught.value, ValueError)
