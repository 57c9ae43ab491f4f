"""The report pages, in one place: adding a page is a notebook ``notebooks/<stem>.ipynb`` and one entry here.

Each entry names the notebook, the title its link on the summary page reads, the sections of the run
configuration it reads (its step key takes only those, so a change elsewhere does not re-run it; a notebook that
reads another section stops the run and says to add it here), the earlier pages whose artifacts it reads (it runs
after them, and alongside the pages it does not depend on; its step key takes only their artifacts and the
ingest's) and whether the comparison with the previous report writes a section for it. The run-folder catalogue (:data:`analysis.runs.runfolder.NOTEBOOKS`), the step keys
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
    reads: tuple[str, ...] = ()
    since_last: bool = False
    big_data_after: tuple[str, ...] = ()
    """Pages it waits for on big data (:func:`analysis.runs.schedule.waits`) without reading them: page 01 runs
    beside pages 03 and 04, which leave a core idle, instead of beside page 02, which uses both."""


#: The pages, in the order the pipeline starts them. Every page reads the ingest's artifacts; ``reads`` lists the
#: earlier pages whose artifacts it reads as well (the writers of what :data:`analysis.runs.runfolder.ARTIFACTS`
#: says it reads; a test checks the two agree). 01 and 02 run side by side, and so do 05 and 03-04.
PAGES: tuple[Page, ...] = (
    Page("01_data_and_kpis", "Data and KPIs", ("engine", "spark", "period", "kpis", "report"), since_last=True,
         big_data_after=("02_clv_models",)),
    Page("02_clv_models", "Customer value models", ("engine", "spark", "kpis", "models", "clv", "segments", "report"),
         since_last=True),
    Page("03_segments", "Segments", ("clv", "models", "segments", "privacy", "report"), ("02_clv_models",),
         since_last=True),
    Page("04_retention_roi", "Retention campaigns and ROI",
         ("clv", "models", "segments", "roi", "campaigns", "privacy", "report"), ("02_clv_models", "03_segments"),
         since_last=True),
    Page("05_campaigns", "Measured campaigns", ("clv", "segments", "roi", "campaigns", "report"), ("02_clv_models",)),
)


def needs(stem: str, stems: list[str]) -> tuple[str, ...]:
    """The pages among ``stems`` (the run's notebooks, in order) that page ``stem`` runs after: those it reads and
    what they read in turn. A notebook without an entry in :data:`PAGES` (an analyst's own) runs after every
    notebook before it."""
    by_stem = {page.stem: page for page in PAGES}
    if stem not in by_stem:
        return tuple(stems[:stems.index(stem)])
    found: list[str] = []
    todo = list(by_stem[stem].reads)
    while todo:
        other = todo.pop(0)
        if other in stems and other not in found:
            found.append(other)
            todo.extend(by_stem[other].reads if other in by_stem else stems[:stems.index(other)])
    return tuple(s for s in stems if s in found)
