"""Every text cell of every report notebook has a Dutch translation of its current English text."""

from __future__ import annotations

import json

from analysis import narrative
from conftest import ROOT


def _markdown_cells() -> dict[str, str]:
    cells = {}
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "markdown":
                cells[f"{path.stem}/{cell['id']}"] = "".join(cell["source"])
    return cells


def test_every_text_cell_has_a_current_dutch_translation():
    cells = _markdown_cells()
    assert len(cells) >= 30
    missing = sorted(set(cells) - set(narrative.NL))
    stale = sorted(k for k in cells if k in narrative.NL and narrative.NL[k][0] != narrative.fingerprint(cells[k]))
    assert not missing, f"text cells without a Dutch translation in analysis/narrative.py: {missing}"
    assert not stale, (f"English text changed since its Dutch translation (update the text and the fingerprint"
                       f" in analysis/narrative.py): {[(k, narrative.fingerprint(cells[k])) for k in stale]}")
    assert not sorted(set(narrative.NL) - set(cells)), "translations of cells that no longer exist"


def test_localized_takes_the_translation_only_of_the_same_english_text():
    key = next(iter(narrative.NL))
    page, cell_id = key.split("/")
    english = _markdown_cells()[key]
    assert narrative.localized(page, cell_id, english, "nl") == narrative.NL[key][1]
    assert narrative.localized(page, cell_id, english, "en") == english
    changed = english + " One more sentence."
    assert narrative.localized(page, cell_id, changed, "nl") == changed  # stale: English rather than wrong Dutch
    assert narrative.localized(page, "no-such-cell", "x", "nl") == "x"


def test_translations_keep_the_headings_of_the_english_cells():
    cells = _markdown_cells()
    for key, (_, dutch) in narrative.NL.items():
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


def test_every_fixed_caption_and_note_has_a_dutch_translation():
    from analysis.i18n import NL

    texts = _fixed_texts()
    assert len(texts) >= 30
    missing = [(page, text[:60]) for page, text in texts if text not in NL]
    assert not missing, f"add these to analysis.i18n.NL: {missing}"
