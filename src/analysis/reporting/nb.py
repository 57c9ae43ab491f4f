"""Helpers for the report notebooks: set-up, captions, KPI tiles, number formats.

Notebooks call :func:`start` first. It is the one place where the notebook
process (not the library) is configured: warnings go to the run's log file
instead of the report, and charts get one consistent style.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import os
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

from analysis.reporting import fmt
from analysis.config import RunParams, load_params, recording
from analysis.reporting.i18n import translate, translate_figure, translate_frame

#: Report language of the notebook process, set by :func:`start`.
_LANG = "en"


@dataclass(frozen=True)
class Run:
    """Paths of the run folder a notebook works in."""

    dir: Path

    @property
    def artifacts(self) -> Path:
        return self.dir / "artifacts"

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    def read_json(self, name: str) -> dict:
        """A JSON artifact an earlier step wrote (:func:`analysis.runs.runfolder.read_json`: missing or damaged is an
        error that names the file and its step)."""
        from analysis.runs import runfolder

        return runfolder.read_json(self.dir, name)

    def read_customers(self, name: str = "customers.parquet", columns=None):
        """A customer table from ``artifacts/`` (default the final ``customers.parquet``), indexed by
        ``customer_id`` (string); ``columns``: only these (with ``customer_id``)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from analysis.data.frames import indexed_by_customer

        wanted = None if columns is None else list(dict.fromkeys(["customer_id", *columns]))
        table = pq.read_table(self.artifacts / name, columns=wanted)
        ids = table.column("customer_id")
        if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
            # ids stored as numbers (a table written elsewhere); converting them copies the whole table, which
            # stored text ids do not need (at a million customers that copy was most of the reading)
            return table.to_pandas().astype({"customer_id": str}).set_index("customer_id")
        return indexed_by_customer(table)

    def write_customers(self, customers, name: str = "customers.parquet") -> Path:
        """Write a customer table with ``customer_id`` as a plain column.

        Each stage writes its own file and never rewrites another stage's (01 writes
        ``customers_01_rfm.parquet``, 02 ``customers_02_scores.parquet``, 03 the final
        ``customers.parquet``), so the pipeline can reuse a stage's outputs when nothing it
        depends on changed.
        """
        import pandas as pd

        path = self.artifacts / name
        if "customer_id" in customers.columns:
            raise ValueError(f"{name}: the customer table has a column customer_id besides its index")
        # a new frame on the same columns, the ids first: rename_axis and reset_index copied the whole table (and
        # joined its columns into blocks first), about 0.7 s of the 1.3 s of writing a million customers
        pd.DataFrame({"customer_id": customers.index.to_numpy(), **{c: customers[c] for c in customers.columns}},
                     copy=False).to_parquet(path, index=False)
        return path

    def write_csv(self, frame, name: str, index: bool = True) -> Path:
        """Write a table meant for people (stakeholders, a CRM import) to ``artifacts/<name>``, with text
        cells that cannot run as spreadsheet formulas (:func:`analysis.privacy.spreadsheet_safe`)."""
        from analysis.privacy import spreadsheet_safe

        path = self.artifacts / name
        spreadsheet_safe(frame).to_csv(path, index=index)
        return path

    def write_json(self, name: str, data: dict) -> Path:
        path = self.artifacts / name
        path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
        return path

    def artifacts_written(self) -> None:
        """Say on the page's log that the page has written all its artifacts and only shows them from here on: in
        a pipeline run, the pages that read them start now (:data:`analysis.runs.runfolder.ARTIFACTS_WRITTEN`).
        Nothing may change an artifact afterwards: the pipeline stops the run if one does."""
        from analysis.runs.runfolder import ARTIFACTS_WRITTEN

        logging.getLogger("analysis.reporting.nb").info(ARTIFACTS_WRITTEN)


from analysis.runs.runfolder import STAGING_ENV  # noqa: E402  (set by the pipeline: the run folder it builds)


def working_folder(params_path: Path, run_dir: Path) -> Path:
    """The folder a notebook reads and writes.

    In a pipeline run, the folder the pipeline is building. Run any other way (JupyterLab,
    ``papermill -p run_dir ...``), a notebook never writes into a published report: it works on
    a copy of ``run_dir`` in ``<parent>/.dev/<name>/`` (made once; delete it for a fresh copy).
    When ``run_dir`` does not exist yet (the notebooks' default ``../reports/dev``), the pipeline
    first runs once with ``params_path`` to make it.
    """
    building = os.environ.get(STAGING_ENV)
    if building and Path(building).resolve() == run_dir.resolve():
        return run_dir
    if not (run_dir / "artifacts" / "run.json").is_file():
        from analysis import pipeline

        project = Path(__file__).resolve().parents[3]
        print(f"No run folder at {run_dir}: running the pipeline once with {params_path} to make one"
              " (about half a minute)...", flush=True)
        with contextlib.chdir(project):
            pipeline.run(params_path.resolve(), run_dir.resolve(), project)
    copy = run_dir.parent / ".dev" / run_dir.name
    if not copy.is_dir():
        shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("*.html", "*.png", "executed"))
    print(f"Working on a copy of {run_dir} in {copy}: the report in {run_dir} is not changed.", flush=True)
    return copy


def start(params_path: str, run_dir: str, name: str = "notebook") -> tuple[RunParams, Run]:
    """Load the run configuration and prepare the notebook process.

    Warnings are recorded in ``run_dir/logs/<name>.log`` rather than shown to
    stakeholders; matplotlib and seaborn get the report style.
    """
    import matplotlib
    import matplotlib.pyplot as plt
    import seaborn as sns

    global _LANG
    run = Run(working_folder(Path(params_path), Path(run_dir)))
    run.artifacts.mkdir(parents=True, exist_ok=True)
    run.logs.mkdir(parents=True, exist_ok=True)
    # what this page reads of the configuration, for the pipeline's step keys (analysis.runs.steps.STEP_SECTIONS)
    params = recording(load_params(params_path), run.logs / f"{name}.sections.json")
    _LANG = params.report.language
    fmt.use(params.report.language, params.report.currency)

    handler = logging.FileHandler(run.logs / f"{name}.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    warnings.simplefilter("default")

    matplotlib.use("module://matplotlib_inline.backend_inline")
    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind")
    plt.rcParams.update({"figure.figsize": (9, 4.5), "figure.dpi": 100, "axes.titleweight": "bold",
                         "axes.titlesize": 13, "savefig.bbox": "tight"})
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:  # pragma: no cover
        pass
    return params, run


# ---------------------------------------------------------------- formatting


def fmt_int(value: float | int | None) -> str:
    """A count in the report's notation: 1234567 -> '1,234,567' (en) or '1.234.567' (nl)."""
    return fmt.current().integer(value)


def fmt_money(value: float | None, currency: str | None = None, decimals: int = 0) -> str:
    """An amount in the report's notation and currency: 1234.5 -> '$1,235' (en, USD) or '€ 1.235' (nl, EUR);
    negative '-$1,235' / '€ -1.235'. ``currency``: a ``report.currency`` value (ISO code or symbol) for
    another currency than the report's."""
    return fmt.current(currency).money(value, decimals)


def fmt_pct(value: float | None, decimals: int = 1) -> str:
    """A share in the report's notation: 0.1234 -> '12.3%' (en) or '12,3%' (nl); never '-0.0%'."""
    return fmt.current().percent(value, decimals)


def fmt_points(delta: float | None, decimals: int = 1) -> str:
    """A difference of two shares in percentage points, without the unit: 0.0123 -> '1.2' (en) or '1,2' (nl)."""
    return fmt.current().points(delta, decimals)


def fmt_num(value: float | None, decimals: int = 2) -> str:
    """A number in the report's notation: 1234.5 -> '1,234.50' (en) or '1.234,50' (nl)."""
    return fmt.current().number(value, decimals)


def fmt_kpi(kpi, value: float | None, currency: str | None = None) -> str:
    """A value of catalogue KPI ``kpi`` (:class:`analysis.business.kpis.Kpi`) in its unit and the report's
    notation: a count, a share, an amount with the KPI's decimals, or a number."""
    if kpi.unit == "share":
        return fmt_pct(value)
    if kpi.unit == "money":
        return fmt_money(value, currency, kpi.decimals)
    if kpi.unit == "number":
        return fmt_num(value, kpi.decimals)
    return fmt_int(value)


def model_error(forecast: float, actual: float) -> str:
    """A forecast against what happened, in words in the report's language: '5.3% too low' / '5,3% te laag'
    (:func:`analysis.reporting.i18n.model_error`: one sign convention on every page)."""
    from analysis.reporting.i18n import model_error as words

    return words(forecast, actual, _LANG)


def fmt_date(value) -> str:
    """A day in the report's language: 'Mar 1, 1998' (en) or '1 mrt 1998' (nl)."""
    return fmt.current().date(value)


# ---------------------------------------------------------------- display

_CSS = """
<style>
.kit-tiles{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0 16px}
.kit-tile{flex:1 1 170px;max-width:240px;border:1px solid #d0d7de;border-radius:8px;padding:10px 14px;background:#f6f8fa}
.kit-tile .v{font-size:1.6em;font-weight:700;color:#0b3d91}
.kit-tile .l{font-size:.95em;color:#24292f;font-weight:600}
.kit-tile .d{font-size:.8em;color:#57606a;margin-top:4px}
.kit-caption{color:#444;font-style:italic;margin:2px 0 18px}
.kit-note{border-left:4px solid #bf8700;background:#fff8c5;padding:8px 12px;margin:8px 0}
</style>
"""


def tiles_html(tiles: list[dict]) -> str:
    """KPI tiles: dicts with ``label, value, definition`` rendered as HTML (all text escaped)."""
    parts = [_CSS, '<div class="kit-tiles">']
    for tile in tiles:
        label, value = translate(tile["label"], _LANG), tile["value"]
        definition = translate(tile.get("definition", ""), _LANG)
        parts.append(
            f'<div class="kit-tile"><div class="l">{html.escape(label)}</div>'
            f'<div class="v">{html.escape(value)}</div><div class="d">{html.escape(definition)}</div></div>'
        )
    parts.append("</div>")
    return "".join(parts)


def show_tiles(tiles: list[dict]) -> None:
    from IPython.display import HTML, display

    display(HTML(tiles_html(tiles)))


def say(template: str, /, **values) -> str:
    """``template`` in the report language with its ``{fields}`` filled in (:func:`analysis.reporting.i18n.say`):
    ``nb.say("{n} customers contacted.", n=nb.fmt_int(n))`` -> '1,200 customers contacted.' /
    '1.200 klanten benaderd.'."""
    from analysis.reporting.i18n import say as _say

    return _say(template, _LANG, **values)


def label(text: str) -> str:
    """A fixed label (a word, a table header, a name) in the report language: ``nb.label("week")`` -> 'week'."""
    return translate(text, _LANG)


def _text(text: str, values: dict) -> str:
    """A fixed text, or a template when ``values`` are given, in the report language."""
    return say(text, **values) if values else translate(text, _LANG)


def caption(text: str, /, **values) -> None:
    """A one-line plain-language caption under a chart or table, in the report language; with ``values``
    the text is a template (see :func:`say`)."""
    from IPython.display import HTML, display

    display(HTML(_CSS + f'<p class="kit-caption">{html.escape(_text(text, values))}</p>'))


def note(text: str, /, **values) -> None:
    """A highlighted remark (e.g. a warning about an assumption) for stakeholders, in the report language;
    with ``values`` the text is a template (see :func:`say`). Text between backticks (a configuration key, a
    file name: words the analyst types, the same in every language) is shown as code."""
    from IPython.display import HTML, display

    shown = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(_text(text, values)))
    display(HTML(_CSS + f'<div class="kit-note">{shown}</div>'))


class PageEnds(Exception):
    """Raised by :func:`end_page`: the rest of this page cannot be computed from these data. The
    pipeline publishes the page as far as it got (the note says why) and carries on."""


def end_page(text: str, then=None) -> None:
    """Show ``text`` as a note and end the page here (see :class:`PageEnds`); ``then``: a function that shows what
    the page still has to say after the note (page 02 without a purchase model: BG/BB)."""
    note(text)
    if then is not None:
        then()
    raise PageEnds(text)


def characteristics(params: RunParams, customers):
    """The customer characteristics of ``models.covariates`` for ``customers`` (an index of ids), as the file
    has them (:func:`analysis.models.covariates.read_characteristics`), or None when none are configured (pages
    03 and 04)."""
    spec = params.models.covariates
    if spec is None:
        return None
    from analysis.models.covariates import read_characteristics

    return read_characteristics(spec.path, customers, spec.customer_id, spec.columns)


def model_unavailable(run: "Run") -> str | None:
    """Why the purchase model of this run could not be fitted (``model.json["unavailable"]``), or None."""
    try:
        return run.read_json("model.json").get("unavailable")
    except (OSError, ValueError):
        return None


def markdown(text: str, /, **values) -> None:
    """Markdown text in the report language; with ``values`` the text is a template (see :func:`say`)."""
    from IPython.display import Markdown, display

    display(Markdown(_text(text, values)))


def show_table(df, caption_text: str | None = None, index: bool = True, **values) -> None:
    """Show a DataFrame as a plain HTML table (escaped), with an optional caption. Numbers not formatted
    yet are written in the report's notation: whole numbers as counts, others with two decimals."""
    from IPython.display import HTML, display

    display(HTML(translate_frame(numbers_as_text(df), _LANG).to_html(index=index, escape=True, border=0,
                                                                       classes="kit-table")))
    if caption_text:
        caption(caption_text, **values)


def numbers_as_text(df):
    """A copy of ``df`` whose numeric columns (and numeric index) are text in the report's notation
    (:mod:`analysis.reporting.fmt`): integer columns as counts, float columns with two decimals (n/a when missing)."""
    import pandas as pd

    f = fmt.current()

    def text(values: pd.Series | pd.Index):
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            return values
        if pd.api.types.is_integer_dtype(values):
            return [f.integer(v) for v in values]
        return [f.number(v) for v in values]

    out = pd.DataFrame({i: list(text(df.iloc[:, i])) for i in range(df.shape[1])}, index=df.index)
    out.columns = df.columns
    if not isinstance(out.index, pd.MultiIndex) and pd.api.types.is_numeric_dtype(out.index) \
            and not isinstance(out.index, pd.RangeIndex):
        out.index = pd.Index(text(out.index), name=out.index.name)
    return out


def show_figure(fig) -> None:
    """Display a finished figure once and close it (no duplicate output)."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    translate_figure(fig, _LANG)
    display(fig)
    plt.close(fig)


def formatted(
    df,
    *,
    money: tuple[str, ...] = (),
    pct: tuple[str, ...] = (),
    ints: tuple[str, ...] = (),
    nums: tuple[str, ...] = (),
    currency: str = "$",
    rename: dict[str, str] | None = None,
):
    """A copy of ``df`` with numbers as display strings (thousands separators, units)."""
    out = df.copy()
    for col in money:
        out[col] = [fmt_money(v, currency) if v == v else "n/a" for v in df[col]]
    for col in pct:
        out[col] = [fmt_pct(v) if v == v else "n/a" for v in df[col]]
    for col in ints:
        out[col] = [fmt_int(v) if v == v else "n/a" for v in df[col]]
    for col in nums:
        out[col] = [fmt_num(v) if v == v else "n/a" for v in df[col]]
    return out.rename(columns=rename or {})
