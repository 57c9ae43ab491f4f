"""The report pages, in one place: adding a page is a notebook ``notebooks/<stem>.ipynb`` and one entry here.

Each entry names the notebook, the title its link on the summary page reads, the sections of the run
configuration it reads (its step key takes only those, so a change elsewhere does not re-run it; a notebook that
reads another section stops the run and says to add it here) and whether the comparison with the previous report
writes a section for it. The run-folder catalogue (:data:`analysis.runs.runfolder.NOTEBOOKS`), the step keys
(:data:`analysis.runs.steps.STEP_SECTIONS`), the page titles (:func:`analysis.reporting.html.page_title`) and the
since-last sections (:data:`analysis.runs.history.STAGES`) are read from it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Page:
    """One report page: ``notebooks/<stem>.ipynb``, executed by papermill and rendered to ``<stem>.html``."""

    stem: str
    title: str
    sections: tuple[str, ...]
    since_last: bool = False


#: The pages, in the order the pipeline runs them (a page reads the artifacts of the pages before it).
PAGES: tuple[Page, ...] = (
    Page("01_data_and_kpis", "Data and KPIs", ("engine", "spark", "period", "kpis", "report"), since_last=True),
    Page("02_clv_models", "Customer value models", ("engine", "spark", "kpis", "models", "clv", "segments", "report"),
         since_last=True),
    Page("03_segments", "Segments", ("clv", "models", "segments", "privacy", "report"), since_last=True),
    Page("04_retention_roi", "Retention campaigns and ROI",
         ("clv", "models", "segments", "roi", "campaigns", "privacy", "report"), since_last=True),
    Page("05_campaigns", "Measured campaigns", ("clv", "segments", "roi", "campaigns", "report")),
)
