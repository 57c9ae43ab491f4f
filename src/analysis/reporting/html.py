"""The HTML pages of a run: executed notebooks through nbconvert, and screenshots with headless Chromium.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from analysis.reporting.pages import PAGES



#: The title of each detail page, as its link on the summary reads (translated by analysis.reporting.i18n).
PAGE_TITLES = {page.stem: page.title for page in PAGES}


def page_title(stem: str) -> str:
    """The title of the page of notebook ``stem`` (a notebook added later gets one from its name)."""
    return PAGE_TITLES.get(stem, stem[3:].replace("_", " ").capitalize())


def render_html(executed: Path, target: Path, title: str, section: str = "", lang: str = "en") -> None:
    """Executed notebook -> stand-alone HTML without code, prompts or stderr.

    ``section`` (HTML, e.g. "since the last report") goes right after the title cell; ``lang`` is the
    report language of the page's own words (the link back to the summary).
    """
    from analysis.reporting.i18n import translate

    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(executed, as_version=4)
    if section:
        first_md = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), -1)
        cell = nbformat.v4.new_raw_cell(section, metadata={"kit_html": True})
        cell["id"] = "since-last-report"
        nb.cells.insert(first_md + 1, cell)
    # a page that ended early (analysis.reporting.nb.end_page): papermill's "An Exception was encountered" cells go
    nb.cells = [c for c in nb.cells if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])]
    ended = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(
        o.get("output_type") == "error" and o.get("ename") == "PageEnds" for o in c.get("outputs", []))), None)
    if ended is not None:  # nothing after the note: the headings that follow would have no content
        nb.cells = nb.cells[:ended + 1]
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected-parameters"  # papermill gives it a random id; keep the HTML reproducible
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", [])
                            if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
                            and not (o.get("output_type") == "error" and o.get("ename") == "PageEnds")]
    from analysis.reporting.narrative import localized

    for cell in nb.cells:  # the page's own text in the report language (analysis.reporting.narrative)
        if cell.cell_type == "markdown" and cell.get("id"):
            cell.source = localized(executed.stem, cell["id"], cell.source, lang)
    nb.metadata["title"] = translate(title, lang)
    nb.metadata["kit_back"] = translate("Back to the summary", lang)
    nb.metadata["kit_lang"] = lang
    templates = Path(__file__).parent / "templates" / "nbconvert"
    exporter = HTMLExporter(extra_template_basedirs=[str(templates)], template_name="kit")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.exclude_anchor_links = True
    exporter.language_code = lang  # <html lang=...>
    body, _ = exporter.from_notebook_node(nb)
    target.write_text(body, encoding="utf-8")


CHROMIUM_ENV = "RETENTION_KIT_CHROMIUM"


#: Flags for a headless Chromium that opens one local, script-free page: no sandbox (it
#: refuses to start as root without it), no GPU, and nothing that reaches the network.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                  "--disable-extensions", "--disable-default-apps", "--mute-audio"]


def find_chromium() -> str | None:
    """Chromium to use: ``$RETENTION_KIT_CHROMIUM`` (empty or ``none``: none), else ``chromium`` on PATH."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured is not None:
        return None if configured.strip().lower() in ("", "none", "off") else configured
    for name in ("chromium", "chromium-browser", "/usr/bin/chromium"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(html: Path, png: Path, width: int = 1280, height: int = 2400, timeout: float = 90) -> str | None:
    """Save a picture of ``html`` as ``png`` with headless Chromium; returns why not, or None on success."""
    import tempfile

    chromium = find_chromium()
    if chromium is None:
        return "Chromium not found (make setup-browser installs it)"
    with tempfile.TemporaryDirectory(prefix="retention-kit-chromium-") as profile:
        try:
            result = subprocess.run(
                [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                 f"--screenshot={png}", html.resolve().as_uri()],
                capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"Chromium failed: {exc}"
    if result.returncode != 0 or not png.is_file() or png.stat().st_size == 0:
        return f"Chromium exited with {result.returncode}: {result.stderr.strip()[-300:]}"
    return None
