"""Exceptions the kit raises for problems a user can fix.

Every message names what is wrong and how to fix it; the pipeline prints it
without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class KitError(Exception):
    """A problem with the input or the configuration that the user can fix."""


class ConfigError(KitError, ValueError):
    """The run configuration is missing, malformed or inconsistent."""


class DataValidationError(KitError, ValueError):
    """The transaction file cannot be used as it is."""


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

    from analysis import fmt

    f = fmt.current()  # a message shown on a page is in the report's notation
    flags = np.asarray(mask, dtype=bool)
    where = np.flatnonzero(flags)[:limit] + 1
    shown = ", ".join(f.integer(i) for i in where)
    more = " ..." if flags.sum() > limit else ""
    from analysis.i18n import say

    lang = f.language if on_page else "en"
    if len(where) > 1:
        return say("rows {rows}{more} of {n}", lang, rows=shown, more=more, n=f.integer(len(flags)))
    return say("row {rows} of {n}", lang, rows=shown, n=f.integer(len(flags)))
