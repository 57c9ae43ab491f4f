"""Every exception the kit raises, in one place.

:class:`KitError` and its subclasses are problems a user can fix: every message names what is wrong and how
to fix it, and the pipeline prints it as one line, without a traceback. :class:`StepFailed` is the other
kind: a step broke in a way the message cannot blame on the input (the console shows the step's error).

The modules that raise these still export them under their old names (``analysis.models.ModelFitError``
is this module's class). Not here, on purpose: control flow (``analysis.reporting.nb.PageEnds`` ends a page early,
``analysis.runs.publish.Terminated`` carries SIGTERM), and ``analysis.runs.incremental.UnresolvedImport``, a
mistake in the kit's own code that its tests catch.
"""

from __future__ import annotations

from collections.abc import Iterable


class KitError(Exception):
    """A problem with the input or the configuration that the user can fix."""


class ConfigError(KitError, ValueError):
    """The run configuration is missing, malformed or inconsistent: the YAML file, or a setting given on the
    command line (``AS_OF``, the ``FROM``/``TO``/``EVERY`` of a backfill)."""


class DataValidationError(KitError, ValueError):
    """A data file cannot be used as it is: the transactions, or a file the configuration adds to them (a
    contact list, customer characteristics, a survey of an unsupported type)."""


class ModelFitError(KitError, ValueError):
    """A model could not be fitted to the data; the message says why and what to try."""


class ModelAtLimit(ModelFitError):
    """A model's fit runs to a limit where it is another, simpler model (GGompertz/NBD with b -> 0 is
    Pareto/NBD); a penalty does not change that. ``reason`` says so in the report's language."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ClvBandError(KitError, ValueError):
    """The fitted models' estimates are too uncertain to simulate the CLV band from them. Not a
    :class:`ModelFitError`: the models were fitted, and page 02 reads a ModelFitError as "no model"."""


class RunArtifactError(KitError, ValueError):
    """A run folder lacks an artifact (or a column of one) that the comparison needs."""


class SurveyValidationError(KitError, ValueError):
    """A survey file has missing columns or invalid values.

    Attributes
    ----------
    path : str
        The survey file.
    column : str
        The offending column (as named in the file).
    n_rows : int
        How many rows are affected (0 for a missing column).
    examples : list of str
        Up to five distinct offending values, as read from the file.
    """

    def __init__(self, path: str, column: str, n_rows: int, examples: list[str], problem: str) -> None:
        self.path = path
        self.column = column
        self.n_rows = n_rows
        self.examples = examples
        message = f"survey file {path}, column {column!r}: {problem}"
        if n_rows:
            message += f" ({n_rows:,} row{'s' if n_rows != 1 else ''}"
            if examples:
                message += "; examples: " + ", ".join(examples)
            message += ")"
        super().__init__(message)


class RunLocked(KitError):
    """Another run is writing the same report folder."""


class NotEnoughHistory(KitError):
    """The data before the as-of date are too short for a report (one line, no traceback)."""


class UnsafeOutput(KitError):
    """The output folder is not one the kit may replace."""


class SparkNotInstalled(KitError):
    """``engine: spark`` was chosen but pyspark is not installed."""


class StepFailed(Exception):
    """A pipeline step failed; the message is meant for the console."""


def plain(value: object) -> object:
    """A value as a person reads it: numpy scalars as Python numbers (``0.0``, not ``np.float64(0.0)``),
    containers element by element."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


def format_examples(values: Iterable[object], limit: int = 5) -> str:
    """Render up to ``limit`` distinct example values for an error message (in their first order)."""
    shown: list[str] = []
    for v in values:
        text = repr(plain(v))
        if text not in shown:
            shown.append(text)
        if len(shown) == limit:
            break
    return ", ".join(shown) if shown else "(none)"


def rows_of(mask, limit: int = 5, on_page: bool = False) -> str:
    """Where a problem is, without customer ids (which must not reach consoles and logs): "rows 3, 17
    and 42 of 1,000" (1-based positions in the table). ``on_page``: for a sentence on a report page, in the
    report language (error messages stay English)."""
    import numpy as np

    from analysis.reporting import fmt

    f = fmt.current()  # a message shown on a page is in the report's notation
    flags = np.asarray(mask, dtype=bool)
    where = np.flatnonzero(flags)[:limit] + 1
    shown = ", ".join(f.integer(i) for i in where)
    more = " ..." if flags.sum() > limit else ""
    from analysis.reporting.i18n import say

    lang = f.language if on_page else "en"
    if len(where) > 1:
        return say("rows {rows}{more} of {n}", lang, rows=shown, more=more, n=f.integer(len(flags)))
    return say("row {rows} of {n}", lang, rows=shown, n=f.integer(len(flags)))
