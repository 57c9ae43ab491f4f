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
    body, _ = _exporter(lang).from_notebook_node(nb)
    target.write_text(body, encoding="utf-8")


def _exporter(lang: str):
    """nbconvert's HTML exporter with the kit's template: no code, no prompts, no anchor links."""
    from nbconvert import HTMLExporter

    templates = Path(__file__).parent / "templates" / "nbconvert"
    exporter = HTMLExporter(extra_template_basedirs=[str(templates)], template_name="kit")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.exclude_anchor_links = True
    exporter.language_code = lang  # <html lang=...>
    return exporter


def warm_up() -> None:
    """Import nbconvert and render a notebook of one cell with the kit's template, for nothing: the first page of
    a run then renders as fast as the others (on CDNOW the first took 0.3 s more, imports and templates)."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("warm-up")],
                                  metadata={"title": "", "kit_back": "", "kit_lang": "en"})
    _exporter("en").from_notebook_node(nb)


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
    return Screenshot(html, png, width, height).result(timeout)


class Screenshot:
    """:func:`screenshot` started in the background: Chromium takes its picture while this process goes on (the
    pipeline renders the report pages meanwhile); :meth:`result` waits for it and says why not, or None."""

    def __init__(self, html: Path, png: Path, width: int = 1280, height: int = 2400) -> None:
        import tempfile

        self.png, self.process, self.why_not = png, None, None
        chromium = find_chromium()
        if chromium is None:
            self.why_not = "Chromium not found (make setup-browser installs it)"
            return
        self.profile = tempfile.TemporaryDirectory(prefix="retention-kit-chromium-")
        try:
            self.process = subprocess.Popen(
                [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile.name}", f"--window-size={width},{height}",
                 f"--screenshot={png}", html.resolve().as_uri()],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        except OSError as exc:
            self.why_not = f"Chromium failed: {exc}"
            self.profile.cleanup()

    def cancel(self) -> None:
        """Stop Chromium (the run failed before the picture was needed)."""
        if self.process is not None:
            self._stop()

    def _stop(self) -> None:
        """Kill Chromium if it still runs, and remove its profile folder."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
        self.profile.cleanup()

    def result(self, timeout: float = 90) -> str | None:
        if self.process is None:
            return self.why_not
        try:
            _, stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            return f"Chromium failed: {exc}"
        finally:
            self._stop()
        png = self.png
        if self.process.returncode != 0 or not png.is_file() or png.stat().st_size == 0:
            return f"Chromium exited with {self.process.returncode}: {stderr.strip()[-300:]}"
        return None
