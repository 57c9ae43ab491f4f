"""Every text cell of every report notebook has a translation of its current English text in every catalogue."""

from __future__ import annotations

import json

import pytest

from analysis.reporting import i18n, narrative
from conftest import ROOT


def _markdown_cells() -> dict[str, str]:
    cells = {}
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "markdown":
                cells[f"{path.stem}/{cell['id']}"] = "".join(cell["source"])
    return cells


@pytest.mark.parametrize("lang", sorted(i18n.CATALOGUES))
def test_every_text_cell_has_a_current_translation(lang):
    cells, translated = _markdown_cells(), narrative.CATALOGUES[lang]
    where = f"CELLS of {i18n.CATALOGUES[lang].__name__}"
    assert len(cells) >= 30
    missing = sorted(set(cells) - set(translated))
    stale = sorted(k for k in cells if k in translated and translated[k][0] != narrative.fingerprint(cells[k]))
    assert not missing, f"text cells without a translation in {where}: {missing}"
    assert not stale, (f"English text changed since its translation (update the text and the fingerprint"
                       f" in {where}): {[(k, narrative.fingerprint(cells[k])) for k in stale]}")
    assert not sorted(set(translated) - set(cells)), "translations of cells that no longer exist"


def test_localized_takes_the_translation_only_of_the_same_english_text():
    dutch = narrative.CATALOGUES["nl"]
    key = next(iter(dutch))
    page, cell_id = key.split("/")
    english = _markdown_cells()[key]
    assert narrative.localized(page, cell_id, english, "nl") == dutch[key][1]
    assert narrative.localized(page, cell_id, english, "en") == english
    changed = english + " One more sentence."
    assert narrative.localized(page, cell_id, changed, "nl") == changed  # stale: English rather than wrong Dutch
    assert narrative.localized(page, "no-such-cell", "x", "nl") == "x"


@pytest.mark.parametrize("lang", sorted(i18n.CATALOGUES))
def test_translations_keep_the_headings_of_the_english_cells(lang):
    cells = _markdown_cells()
    for key, (_, dutch) in narrative.CATALOGUES[lang].items():
        level = lambda text: text.lstrip().split(" ", 1)[0] if text.lstrip().startswith("#") else ""  # noqa: E731
        assert level(dutch) == level(cells[key]), key


def _fixed_texts() -> list[tuple[str, str]]:
    """(notebook, text) of every caption, note, end-of-page note, Markdown call and table caption whose text
    is written out in full in a notebook (no variable part)."""
    import ast

    found = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            for node in ast.walk(ast.parse("".join(cell["source"]))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and getattr(node.func.value, "id", "") == "nb"):
                    continue
                name, args = node.func.attr, node.args
                arg = (args[1] if len(args) > 1 else None) if name == "show_table" else (args[0] if args else None)
                if name in ("caption", "note", "end_page", "markdown", "show_table") and isinstance(arg, ast.Constant):
                    found.append((path.stem, arg.value))
    return found


@pytest.mark.parametrize("lang", sorted(i18n.CATALOGUES))
def test_every_fixed_caption_and_note_has_a_translation(lang):
    labels = i18n.CATALOGUES[lang].LABELS
    texts = _fixed_texts()
    assert len(texts) >= 30
    missing = [(page, text[:60]) for page, text in texts if text not in labels]
    assert not missing, f"add these to LABELS of {i18n.CATALOGUES[lang].__name__}: {missing}"
