"""Customer survey scores (NPS, CSAT): reading, validation and summaries.

A survey file holds one row per response with a customer id, a response date
and an NPS score (0-10) and/or a CSAT score (1-5).  :func:`read_survey` reads
it through duckdb, renames the configured columns once to the house vocabulary
(``customer_id, date, nps, csat``) and fails loudly on bad values.  The other
functions are pure and work on the validated responses table.

Definitions
-----------
NPS (Net Promoter Score, Reichheld 2003, "The One Number You Need to Grow",
Harvard Business Review 81(12)): promoters score 9-10, passives 7-8,
detractors 0-6;
``NPS = 100 * (promoters - detractors) / responses``, on a -100..100 scale.

CSAT (customer satisfaction, 1-5 scale) is reported two ways:
``csat_satisfied_pct`` = percentage of responses scoring 4 or 5 (the
"top-two-box" convention, 0..100) and ``csat_mean`` = mean score (1..5).

Responses whose customer id is not in the customers table are never dropped
silently: they are counted in the overall figures and reported in their own
row labelled :data:`UNKNOWN_CUSTOMER`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from analysis.errors import ConfigError, DataValidationError, SurveyValidationError  # noqa: F401 (re-exported)

__all__ = [
    "NPS_RANGE",
    "CSAT_RANGE",
    "UNKNOWN_CUSTOMER",
    "ALL_RESPONSES",
    "SurveyParams",
    "SurveyValidationError",
    "read_survey",
    "nps_group",
    "net_promoter_score",
    "csat_scores",
    "survey_summary",
    "unknown_respondents",
    "p_alive_by_nps_group",
]

NPS_RANGE: tuple[int, int] = (0, 10)
CSAT_RANGE: tuple[int, int] = (1, 5)
UNKNOWN_CUSTOMER = "Unknown customer"
ALL_RESPONSES = "All responses"
NPS_GROUPS: tuple[str, str, str] = ("Promoter", "Passive", "Detractor")

_MAX_EXAMPLES = 5


class SurveyParams(BaseModel):
    """Where the survey file is and what its columns are called.

    Parameters
    ----------
    path : Path or None
        Survey file, ``.csv`` or ``.parquet``.  ``None`` means no survey.
    customer_id_column : str
        Column holding the customer id (read as text, so ``"00042"`` keeps
        its leading zeros).
    date_column : str or None
        Column holding the response date; ``None`` if the file has none.
    nps_column : str or None
        Column holding NPS scores 0-10; ``None`` if the survey has no NPS.
    csat_column : str or None
        Column holding CSAT scores 1-5; ``None`` if the survey has no CSAT.

    Notes
    -----
    A configured column that is missing from the file is an error (set it to
    ``null`` when the survey does not ask that question); at least one of
    ``nps_column`` and ``csat_column`` must be set.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path | None = None
    customer_id_column: str = "customer_id"
    date_column: str | None = "date"
    nps_column: str | None = "nps"
    csat_column: str | None = "csat"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _examples(values: pd.Series) -> list[str]:
    out: list[str] = []
    for value in values:
        text = repr(value)
        if text not in out:
            out.append(text)
        if len(out) == _MAX_EXAMPLES:
            break
    return out


def _parse_scores(
    raw: pd.Series, path: str, column: str, low: int, high: int
) -> pd.Series:
    """Text scores -> nullable integers; any non-blank invalid value raises."""
    text = raw.astype("string").str.strip()
    blank = text.isna() | (text == "")
    numbers = pd.to_numeric(text.where(~blank), errors="coerce")
    whole = np.isfinite(numbers) & (numbers == np.floor(numbers))
    valid = blank | (whole & (numbers >= low) & (numbers <= high)).fillna(False)
    bad = ~valid
    if bad.any():
        raise SurveyValidationError(
            path,
            column,
            int(bad.sum()),
            _examples(raw[bad]),
            f"values must be whole numbers from {low} to {high}",
        )
    return numbers.where(~blank).astype("Int64")


def read_survey(path: str | Path, params: SurveyParams | None = None) -> pd.DataFrame:
    """Read and validate a survey file (CSV or Parquet) with duckdb.

    Parameters
    ----------
    path : str or Path
        The survey file; ``.csv`` (any delimiter duckdb detects, header row
        required) or ``.parquet``.
    params : SurveyParams, optional
        Column names; defaults to ``SurveyParams()``.  ``params.path`` is
        ignored (the caller passes the path explicitly).

    Returns
    -------
    pandas.DataFrame
        One row per response, in file order, with columns ``customer_id``
        (str), ``date`` (datetime64, if a date column is configured),
        ``nps`` and/or ``csat`` (nullable ``Int64``; blank cells are missing
        answers, ``<NA>``).

    Raises
    ------
    SurveyValidationError
        (a ``ValueError``) when a configured column is missing, a customer id
        is blank, a date cannot be parsed, or a score is not a whole number in
        range (NPS 0-10, CSAT 1-5).  The message names the file, the column,
        how many rows are affected and up to five offending values.  In a
        Parquet file the customer id column must be stored as text, since a
        numeric column has already lost leading zeros.
    DataValidationError
        (a ``ValueError``) for an unsupported file type.
    ConfigError
        (a ``ValueError``) when neither score column is set.
    """
    params = params or SurveyParams()
    path = Path(path)
    where = str(path)
    if params.nps_column is None and params.csat_column is None:
        raise ConfigError("segments.survey in the run configuration sets neither nps_column nor csat_column:"
                          " set at least one of them to the column of the survey file that holds the scores")
    suffix = path.suffix.lower()

    import duckdb  # local import keeps `import analysis.data.survey` light

    con = duckdb.connect()
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            rel = con.read_csv(str(path), header=True, all_varchar=True)
        elif suffix in (".parquet", ".pq"):
            rel = con.read_parquet(str(path))
        else:
            raise DataValidationError(
                f"survey file {where}: unsupported file type {suffix!r} "
                "(use .csv or .parquet)"
            )
        columns = list(rel.columns)
        types = dict(zip(columns, (str(t) for t in rel.types)))
        wanted = {
            "customer_id": params.customer_id_column,
            "date": params.date_column,
            "nps": params.nps_column,
            "csat": params.csat_column,
        }
        for name in wanted.values():
            if name is not None and name not in columns:
                raise SurveyValidationError(
                    where,
                    name,
                    0,
                    [],
                    f"column missing (file has {columns}); set it to the right "
                    "name, or to null if the survey has no such column",
                )
        id_col = params.customer_id_column
        if types[id_col] != "VARCHAR":
            raise SurveyValidationError(
                where,
                id_col,
                0,
                [],
                f"customer ids must be stored as text, not {types[id_col]} "
                "(ids like '00042' would lose their leading zeros)",
            )
        select = [
            f"CAST({_quote(src)} AS VARCHAR) AS {_quote(dst)}"
            for dst, src in wanted.items()
            if src is not None
        ]
        raw = rel.project(", ".join(select)).df()
    finally:
        con.close()

    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    ids = raw["customer_id"].astype("string").str.strip()
    blank_id = ids.isna() | (ids == "")
    if blank_id.any():
        raise SurveyValidationError(
            where, id_col, int(blank_id.sum()), [], "customer id is blank"
        )
    out["customer_id"] = ids.astype(object)

    if params.date_column is not None:
        text = raw["date"].astype("string").str.strip()
        blank = text.isna() | (text == "")
        dates = pd.to_datetime(text.where(~blank), errors="coerce")
        bad = ~blank & dates.isna()
        if bad.any():
            raise SurveyValidationError(
                where,
                params.date_column,
                int(bad.sum()),
                _examples(raw["date"][bad]),
                "dates cannot be parsed",
            )
        out["date"] = dates
    if params.nps_column is not None:
        out["nps"] = _parse_scores(raw["nps"], where, params.nps_column, *NPS_RANGE)
    if params.csat_column is not None:
        out["csat"] = _parse_scores(
            raw["csat"], where, params.csat_column, *CSAT_RANGE
        )
    return out


def nps_group(scores: pd.Series) -> pd.Series:
    """Classify NPS scores: Promoter (9-10), Passive (7-8), Detractor (0-6).

    Parameters
    ----------
    scores : pandas.Series
        NPS scores 0-10; missing values stay missing.

    Returns
    -------
    pandas.Series
        Same index, values ``"Promoter"``, ``"Passive"``, ``"Detractor"`` or
        missing.
    """
    s = pd.to_numeric(scores, errors="raise").astype("Float64")
    group = pd.Series(pd.NA, index=scores.index, dtype="object")
    group[(s >= 9).fillna(False)] = "Promoter"
    group[((s >= 7) & (s <= 8)).fillna(False)] = "Passive"
    group[(s <= 6).fillna(False)] = "Detractor"
    return group


def net_promoter_score(scores: pd.Series) -> float:
    """Net Promoter Score on a -100..100 scale.

    ``100 * (n_promoters - n_detractors) / n_responses`` over non-missing
    scores (Reichheld 2003).

    Parameters
    ----------
    scores : pandas.Series
        NPS scores 0-10.

    Returns
    -------
    float
        The NPS, or NaN when there are no scores.
    """
    group = nps_group(scores).dropna()
    if group.empty:
        return float("nan")
    return 100.0 * (
        float((group == "Promoter").sum()) - float((group == "Detractor").sum())
    ) / len(group)


def csat_scores(scores: pd.Series) -> tuple[float, float]:
    """CSAT as percent satisfied (scores 4-5) and mean score.

    Parameters
    ----------
    scores : pandas.Series
        CSAT scores 1-5.

    Returns
    -------
    tuple of float
        ``(satisfied_pct, mean)``: percentage of non-missing responses
        scoring 4 or 5 (0..100) and their mean (1..5); both NaN when there
        are no scores.
    """
    s = pd.to_numeric(scores, errors="raise").dropna().astype(float)
    if s.empty:
        return float("nan"), float("nan")
    return 100.0 * float((s >= 4).sum()) / len(s), float(s.mean())


def _summary_row(responses: pd.DataFrame) -> dict[str, float]:
    row: dict[str, float] = {"responses": len(responses)}
    if "nps" in responses:
        group = nps_group(responses["nps"])
        row["nps_responses"] = int(group.notna().sum())
        for name in NPS_GROUPS:
            row[name.lower() + "s"] = int((group == name).sum())
        row["nps"] = net_promoter_score(responses["nps"])
    if "csat" in responses:
        row["csat_responses"] = int(responses["csat"].notna().sum())
        row["csat_satisfied_pct"], row["csat_mean"] = csat_scores(responses["csat"])
    return row


def _known(responses: pd.DataFrame, customers: pd.DataFrame) -> pd.Series:
    return responses["customer_id"].isin(customers.index)


def survey_summary(
    responses: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    segment_column: str | None = None,
) -> pd.DataFrame:
    """Response counts, NPS and CSAT overall and per customer segment.

    Parameters
    ----------
    responses : pandas.DataFrame
        Output of :func:`read_survey`.
    customers : pandas.DataFrame, optional
        Customers indexed by ``customer_id``, holding ``segment_column``.
    segment_column : str, optional
        Segment column of ``customers`` (e.g. ``"value_risk_segment"``).
        Needs ``customers``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``segment``; the first row, :data:`ALL_RESPONSES`, covers
        every response, then one row per segment with responses (in the
        segment's category order if categorical, else sorted), then
        :data:`UNKNOWN_CUSTOMER` for responses whose id is not in
        ``customers`` (only if there are any).  Columns: ``responses``;
        with NPS ``nps_responses, promoters, passives, detractors, nps``;
        with CSAT ``csat_responses, csat_satisfied_pct, csat_mean``.
        Counts of segment rows plus the unknown row add up to the overall
        row.
    """
    rows = {ALL_RESPONSES: _summary_row(responses)}
    if segment_column is not None:
        if customers is None:
            raise ValueError("segment_column needs customers")
        if segment_column not in customers.columns:
            raise ValueError(f"Required column {segment_column} missing from customers")
        known = _known(responses, customers)
        seg = responses.loc[known, "customer_id"].map(customers[segment_column])
        segments = customers[segment_column]
        if isinstance(segments.dtype, pd.CategoricalDtype):
            order = [c for c in segments.cat.categories if (seg == c).any()]
        else:
            order = sorted(seg.unique(), key=str)
        for name in order:
            rows[str(name)] = _summary_row(responses.loc[seg.index[seg == name]])
        if (~known).any():
            rows[UNKNOWN_CUSTOMER] = _summary_row(responses.loc[~known])
    elif customers is not None:
        known = _known(responses, customers)
        if (~known).any():
            rows[UNKNOWN_CUSTOMER] = _summary_row(responses.loc[~known])
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "segment"
    count_cols = [
        c
        for c in ("responses", "nps_responses", "promoters", "passives",
                  "detractors", "csat_responses")
        if c in out
    ]
    out[count_cols] = out[count_cols].astype("int64")
    return out


def unknown_respondents(
    responses: pd.DataFrame, customers: pd.DataFrame
) -> pd.DataFrame:
    """Responses whose ``customer_id`` is not in the customers table.

    Parameters
    ----------
    responses : pandas.DataFrame
        Output of :func:`read_survey`.
    customers : pandas.DataFrame
        Customers indexed by ``customer_id``.

    Returns
    -------
    pandas.DataFrame
        The unmatched responses, unchanged (empty if all match).
    """
    return responses.loc[~_known(responses, customers)]


def p_alive_by_nps_group(
    responses: pd.DataFrame, customers: pd.DataFrame
) -> pd.DataFrame:
    """Average P(alive) of promoters, passives and detractors.

    Each known customer is classified once, by their latest NPS answer (latest
    ``date``; among equal or missing dates the later row in the file), so
    customers who answered several times are not counted twice.

    Parameters
    ----------
    responses : pandas.DataFrame
        Output of :func:`read_survey`; must have ``nps``.
    customers : pandas.DataFrame
        Customers indexed by ``customer_id`` with ``p_alive``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``nps_group`` with rows Promoter, Passive, Detractor and,
        if any, :data:`UNKNOWN_CUSTOMER`; columns ``responses`` (NPS answers),
        ``customers`` (distinct respondents) and ``avg_p_alive`` (mean over
        those customers; NaN for an empty group and for unknown customers).
    """
    if "nps" not in responses:
        raise ValueError("Required column nps missing from survey responses")
    if "p_alive" not in customers.columns:
        raise ValueError("Required column p_alive missing from customers")
    answered = responses.loc[responses["nps"].notna()].copy()
    answered["_row"] = np.arange(len(answered))
    known = _known(answered, customers)
    rows: dict[str, dict[str, float]] = {}

    sort_cols = ["date", "_row"] if "date" in answered else ["_row"]
    latest = (
        answered.loc[known]
        .sort_values(sort_cols, na_position="first", kind="mergesort")
        .groupby("customer_id", sort=False)
        .tail(1)
        .set_index("customer_id")
    )
    latest_group = nps_group(latest["nps"])
    all_groups = nps_group(answered.loc[known, "nps"])
    p_alive = customers["p_alive"]
    for name in NPS_GROUPS:
        ids = latest_group.index[latest_group == name]
        rows[name] = {
            "responses": int((all_groups == name).sum()),
            "customers": len(ids),
            "avg_p_alive": float(p_alive.loc[ids].mean()) if len(ids) else np.nan,
        }
    if (~known).any():
        rows[UNKNOWN_CUSTOMER] = {
            "responses": int((~known).sum()),
            "customers": int(answered.loc[~known, "customer_id"].nunique()),
            "avg_p_alive": np.nan,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "nps_group"
    out[["responses", "customers"]] = out[["responses", "customers"]].astype("int64")
    return out
