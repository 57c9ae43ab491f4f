"""The text cells of the report notebooks in the other report languages, keyed by page and cell.

The notebooks are written in English. For ``report.language: nl`` the pipeline replaces each Markdown cell
of a page with its entry in the language's catalogue (``CELLS`` of :mod:`analysis.reporting.lang_nl`, keyed
``"<notebook>/<cell id>"``; :func:`localized`). Each entry records a fingerprint of the English text it
translates: when the English cell changes and its translation does not,
the page shows the English text and ``tests/test_narrative.py`` fails, naming the cell.
"""

from __future__ import annotations

import hashlib

from analysis.reporting import i18n


def fingerprint(text: str) -> str:
    """The first 12 hex digits of the SHA-256 of ``text``: which English text a translation is of."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


#: The translated cells of every language other than English (``CELLS`` of its catalogue module).
CATALOGUES: dict[str, dict[str, tuple[str, str]]] = {lang: module.CELLS for lang, module in i18n.CATALOGUES.items()}


def localized(page: str, cell_id: str, source: str, lang: str = "en") -> str:
    """The text of Markdown cell ``cell_id`` of notebook ``page`` in ``lang``: its translation when the
    catalogue has one of exactly this English text, else the English text itself."""
    if lang == "en":
        return source
    entry = CATALOGUES.get(lang, {}).get(f"{page}/{cell_id}")
    if entry is None or entry[0] != fingerprint(source):
        return source
    return entry[1]
