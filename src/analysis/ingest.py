"""Read a transaction file with DuckDB, validate it and reduce it to purchases.

The file is never modified and never loaded into pandas as a whole: DuckDB
scans it, checks it and writes one row per customer per purchase day to a
Parquet file, which every later stage reads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from analysis.config import DataParams
from analysis.errors import DataValidationError, format_examples

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass
class DataQuality:
    """What happened to the rows of the input file.

    Every row read is either used or counted under one of the reasons it was
    left out, so ``rows_read == rows_used + sum(left_out.values())``.
    """

    file: str
    rows_read: int
    rows_used: int
    left_out: dict[str, int] = field(default_factory=dict)
    returns_rows: int = 0
    zero_amount_rows: int = 0
    duplicate_rows: int = 0
    customers: int = 0
    purchase_days: int = 0
    first_date: str | None = None
    last_date: str | None = None
    observation_end: str | None = None
    policies: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _source_sql(params: DataParams) -> tuple[str, str]:
    """The DuckDB table function that scans the file, and the format name."""
    path = Path(params.path)
    fmt = params.format
    if fmt == "auto":
        fmt = "parquet" if path.suffix.lower() in PARQUET_SUFFIXES else "csv"
    if fmt == "parquet":
        return f"read_parquet({_literal(str(path))})", fmt
    options = ["header = true", "all_varchar = true"]
    if params.delimiter:
        options.append(f"delim = {_literal(params.delimiter)}")
    return f"read_csv({_literal(str(path))}, {', '.join(options)})", fmt


def _check_file(path: Path) -> None:
    if not path.exists():
        raise DataValidationError(
            f"Transaction file not found: {path}. Check data.path in the run configuration"
            " (relative paths start at the project folder)."
        )
    if not path.is_file():
        raise DataValidationError(f"Transaction file {path} is not a file (a folder?). Point data.path at a CSV or Parquet file.")
    if path.stat().st_size == 0:
        raise DataValidationError(f"Transaction file {path} is empty (0 bytes). Export the transactions again.")


def _examples(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    return format_examples(row[0] for row in con.execute(sql + " LIMIT 5").fetchall())


def ingest_transactions(
    params: DataParams,
    purchases_path: str | Path,
    *,
    observation_end: dt.date | None = None,
    today: dt.date | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> DataQuality:
    """Validate the transaction file and write one row per customer and purchase day.

    Parameters
    ----------
    params
        The ``data:`` section of the run configuration.
    purchases_path
        Parquet file to write, with columns ``customer_id`` (string), ``date`` (date),
        ``amount`` (sum over the day's lines) and ``lines``.
    observation_end
        Transactions after this day are left out and counted. ``None`` keeps all.
    today
        Dates after this day are an error. Defaults to the current date.
    con
        DuckDB connection to use; a new in-memory one by default.

    Returns
    -------
    DataQuality
        Counts of rows read, used and left out, and the policies applied.

    Raises
    ------
    DataValidationError
        Missing or empty file, missing column, no rows, missing customer ids, unreadable
        dates, non-numeric amounts, dates after ``today``, or returns under ``returns: error``.
        The message names the file, the column, how many rows and up to five examples.
    """
    path = Path(params.path)
    _check_file(path)
    today = today or dt.date.today()
    con = con or duckdb.connect()
    source, fmt = _source_sql(params)
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW raw_input AS SELECT * FROM {source}")
        described = con.execute("DESCRIBE raw_input").fetchall()
    except duckdb.Error as exc:
        raise DataValidationError(f"Could not read {path} as {fmt.upper()}: {str(exc).splitlines()[0]}") from exc
    types = {name: typ for name, typ, *_ in described}

    cols = params.columns
    missing = [c for c in (cols.customer_id, cols.date, cols.amount) if c not in types]
    if missing:
        raise DataValidationError(
            f"{path}: column(s) {', '.join(repr(m) for m in missing)} not found. The file has columns "
            f"{format_examples(types, limit=20)}. Set data.columns in the run configuration to the file's names"
            + (" or data.delimiter if the columns run together." if len(types) == 1 else ".")
        )

    rows_read = con.execute("SELECT count(*) FROM raw_input").fetchone()[0]
    if rows_read == 0:
        raise DataValidationError(f"{path} has a header but no transaction rows.")

    cid, date, amount = (_quote(c) for c in (cols.customer_id, cols.date, cols.amount))
    date_type = types[cols.date].upper()
    if date_type.startswith(("DATE", "TIMESTAMP")):
        date_expr = f"CAST({date} AS DATE)"
    elif params.date_format:
        date_expr = f"CAST(try_strptime(trim(CAST({date} AS VARCHAR)), {_literal(params.date_format)}) AS DATE)"
    else:
        date_expr = f"TRY_CAST(trim(CAST({date} AS VARCHAR)) AS DATE)"
    amount_text = f"trim(CAST({amount} AS VARCHAR))"
    if params.decimal == ",":
        amount_text = f"replace({amount_text}, ',', '.')"
    amount_expr = f"TRY_CAST({amount_text} AS DOUBLE)"

    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW parsed AS
        SELECT nullif(trim(CAST({cid} AS VARCHAR)), '') AS customer_id,
               {date_expr} AS date, {amount_expr} AS amount,
               CAST({date} AS VARCHAR) AS raw_date, CAST({amount} AS VARCHAR) AS raw_amount
        FROM raw_input
        """
    )
    bad = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE customer_id IS NULL),
               count(*) FILTER (WHERE date IS NULL),
               count(*) FILTER (WHERE amount IS NULL OR NOT isfinite(amount)),
               count(*) FILTER (WHERE date > DATE {_literal(today.isoformat())}),
               count(*) FILTER (WHERE amount < 0),
               count(*) FILTER (WHERE amount = 0)
        FROM parsed
        """
    ).fetchone()
    n_missing_id, n_bad_date, n_bad_amount, n_future, n_returns, n_zero = bad
    of_rows = f"of {rows_read:,} rows"
    if n_missing_id:
        raise DataValidationError(
            f"{path}, column {cols.customer_id!r}: {n_missing_id:,} {of_rows} have no customer id. "
            f"Examples (date, amount of such rows): "
            + _examples(con, "SELECT raw_date || ' / ' || raw_amount FROM parsed WHERE customer_id IS NULL")
            + ". Remove those rows or fill in the ids."
        )
    if n_bad_date:
        fmt_text = f"the format {params.date_format!r}" if params.date_format else "ISO format (YYYY-MM-DD)"
        raise DataValidationError(
            f"{path}, column {cols.date!r}: {n_bad_date:,} {of_rows} have dates that cannot be read as {fmt_text}. "
            "Examples: " + _examples(con, "SELECT raw_date FROM parsed WHERE date IS NULL")
            + ". Set data.date_format in the run configuration to match the file, or correct those rows."
        )
    if n_bad_amount:
        raise DataValidationError(
            f"{path}, column {cols.amount!r}: {n_bad_amount:,} {of_rows} have amounts that are not numbers"
            f" (decimal separator {params.decimal!r}). Examples: "
            + _examples(con, "SELECT raw_amount FROM parsed WHERE amount IS NULL OR NOT isfinite(amount)")
            + ". Set data.decimal if the file uses another decimal separator, or correct those rows."
        )
    if n_future:
        raise DataValidationError(
            f"{path}, column {cols.date!r}: {n_future:,} {of_rows} are dated after today ({today}). Examples: "
            + _examples(con, f"SELECT raw_date FROM parsed WHERE date > DATE {_literal(today.isoformat())} ORDER BY date DESC")
            + ". Check the date format (day and month swapped?) or correct those rows."
        )
    if n_returns and params.returns == "error":
        raise DataValidationError(
            f"{path}, column {cols.amount!r}: {n_returns:,} {of_rows} have negative amounts (returns). Examples: "
            + _examples(con, "SELECT raw_amount FROM parsed WHERE amount < 0")
            + ". Set data.returns to 'drop' or 'net' to handle them."
        )

    # Exact duplicates of the three columns the kit reads (other columns are ignored).
    n_duplicates = con.execute(
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM parsed"
        " GROUP BY customer_id, raw_date, raw_amount HAVING count(*) > 1)"
    ).fetchone()[0]

    left_out: dict[str, int] = {}
    keep = ["TRUE"]
    base = "parsed"
    if params.duplicates == "drop" and n_duplicates:
        base = "(SELECT DISTINCT customer_id, date, amount, raw_date, raw_amount FROM parsed)"
        left_out["duplicate rows"] = int(n_duplicates)
    if observation_end is not None:
        n_after = con.execute(
            f"SELECT count(*) FROM {base} WHERE date > DATE {_literal(observation_end.isoformat())}"
        ).fetchone()[0]
        if n_after:
            left_out["after the observation end"] = int(n_after)
        keep.append(f"date <= DATE {_literal(observation_end.isoformat())}")
    in_window = " AND ".join(keep)
    if params.returns == "drop":
        n = con.execute(f"SELECT count(*) FROM {base} WHERE {in_window} AND amount < 0").fetchone()[0]
        if n:
            left_out["returns (negative amounts)"] = int(n)
        keep.append("amount >= 0")
    if params.zero_amounts == "drop":
        n = con.execute(f"SELECT count(*) FROM {base} WHERE {' AND '.join(keep)} AND amount = 0").fetchone()[0]
        if n:
            left_out["zero amounts"] = int(n)
        keep.append("amount <> 0")
    where = " AND ".join(keep)

    # One row per customer and day. Under returns: net a day whose net amount is not
    # positive is no purchase (everything was sent back); it is counted below.
    having = "HAVING sum(amount) > 0 OR count(*) FILTER (WHERE amount < 0) = 0" if params.returns == "net" else ""
    out = Path(purchases_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE purchases AS
        SELECT customer_id, date, sum(amount) AS amount, count(*) AS lines
        FROM {base} WHERE {where}
        GROUP BY customer_id, date {having}
        """
    )
    rows_used = con.execute(f"SELECT count(*) FROM {base} WHERE {where}").fetchone()[0]
    if params.returns == "net":
        lines_in_days = con.execute("SELECT coalesce(sum(lines), 0) FROM purchases").fetchone()[0]
        if rows_used - lines_in_days:
            left_out["days fully returned (net amount not positive)"] = int(rows_used - lines_in_days)
        rows_used = lines_in_days
    stats = con.execute(
        "SELECT count(DISTINCT customer_id), count(*), min(date), max(date) FROM purchases"
    ).fetchone()
    if stats[1] == 0:
        raise DataValidationError(
            f"{path}: none of the {rows_read:,} rows is left after the policies and the observation end "
            f"({', '.join(f'{k}: {v:,}' for k, v in left_out.items())}). Check period.observation_end and data.returns."
        )
    con.execute(f"COPY (SELECT * FROM purchases ORDER BY customer_id, date) TO {_literal(str(out))} (FORMAT parquet)")
    return DataQuality(
        file=str(path),
        rows_read=int(rows_read),
        rows_used=int(rows_used),
        left_out=left_out,
        returns_rows=int(n_returns),
        zero_amount_rows=int(n_zero),
        duplicate_rows=int(n_duplicates),
        customers=int(stats[0]),
        purchase_days=int(stats[1]),
        first_date=stats[2].isoformat(),
        last_date=stats[3].isoformat(),
        observation_end=(observation_end or stats[3]).isoformat(),
        policies={"returns": params.returns, "zero_amounts": params.zero_amounts, "duplicates": params.duplicates},
    )


def quality_table(quality: dict) -> "pd.DataFrame":
    """The data-quality figures as a two-column table for the report."""
    import pandas as pd

    rows = [
        ("Input file", quality["file"]),
        ("Rows read", f"{quality['rows_read']:,}"),
        ("Rows used", f"{quality['rows_used']:,}"),
    ]
    for reason, count in quality.get("left_out", {}).items():
        rows.append((f"Left out: {reason}", f"{count:,}"))
    policies = quality.get("policies", {})
    rows += [
        ("Exact duplicate rows", f"{quality['duplicate_rows']:,} (policy: {policies.get('duplicates', 'keep')})"),
        ("Returns (negative amounts)", f"{quality['returns_rows']:,} (policy: {policies.get('returns', 'drop')})"),
        ("Zero amounts", f"{quality['zero_amount_rows']:,} (policy: {policies.get('zero_amounts', 'keep')})"),
        ("Customers", f"{quality['customers']:,}"),
        ("Purchase days (same-day lines combined)", f"{quality['purchase_days']:,}"),
        ("First transaction", quality["first_date"]),
        ("Last transaction used", quality["last_date"]),
        ("Observation end", quality["observation_end"]),
    ]
    return pd.DataFrame(rows, columns=["Item", "Value"])
