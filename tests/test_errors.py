"""One error hierarchy: every exception the kit defines lives in analysis.errors (issue #16).

The scan reads the source with ``ast``, so a new exception class written anywhere else fails here,
whatever its base. The few exceptions that are not errors a user meets are listed with the reason.
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
    ("pipeline.py", "Terminated"): "carries SIGTERM (a BaseException, so nothing catches it by accident)",
    ("runs/incremental.py", "UnresolvedImport"): "a mistake in the kit's own imports, caught by its tests",
    ("config.py", "_DuplicateKey"): "internal to the YAML loader, turned into a ConfigError there",
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
