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


def format_examples(values: Iterable[object], limit: int = 5) -> str:
    """Render up to ``limit`` example values for an error message."""
    shown = [repr(v) for v in list(values)[:limit]]
    return ", ".join(shown) if shown else "(none)"
