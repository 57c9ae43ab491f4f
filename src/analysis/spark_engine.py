"""``engine: spark``: the purchases, summaries and customer scores with PySpark.

For transaction logs too large for one machine. The definitions are those of
:mod:`analysis.data.ingest` and :mod:`analysis.data.summary` (same-day lines are one purchase,
weeks are days / 7, amounts are added as ``DECIMAL(38, 10)`` so totals do not depend on
the order of the rows), and the results are the same to the last bit:

1. :func:`read_transactions` / :func:`purchases` read a CSV or Parquet file (local path
   or object storage URI), check it like the DuckDB ingest and reduce it to one row per
   customer and purchase day;
2. :func:`rfm_summary` and :func:`calibration_holdout_summary` compute the per-customer
   summaries on the cluster;
3. :func:`fit_model` and :func:`fit_gamma_gamma` bring only the *unique*
   ``(frequency, recency, T)`` (and ``(frequency, monetary_value)``) rows with their
   counts to the driver and fit there with :mod:`analysis.models`;
4. :func:`score_customers` sends the fitted models to the executors (a broadcast
   variable) and scores every customer there with :func:`analysis.scoring.clv.customer_lifetime_value`
   on pandas chunks (``mapInPandas``): P(alive), expected purchases, expected order value,
   CLV and its band; :func:`customer_lifetime_value` also adds up the chunks' per-draw
   totals for the band of the total CLV and brings the scores to the driver,
   :func:`write_customer_scores` writes them as Parquet instead.

The pipeline's notebooks use it through :func:`analysis.scoring.modelstage.customer_summary` and
:func:`analysis.scoring.modelstage.run_model_stage` when the run configuration says ``engine: spark``,
with one session per process (:func:`run_session`). The spark-submit job (:func:`run_job`, :func:`main`)
fits and scores through the same model-stage code (:func:`analysis.scoring.modelstage.fit_and_score`).

pyspark is an optional install (``requirements-spark.txt``): it is imported only inside
the functions, and a missing pyspark gives a :class:`SparkNotInstalled` error that says how
to install it. Importing this module has no side effects.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.scoring.clv import CLV_COLUMNS, UNCERTAINTY_METHOD, ClvResult, band_failure, total_band
from analysis.config import DataParams, SparkParams
from analysis.errors import ConfigError, DataValidationError, SparkNotInstalled, format_examples  # noqa: F401 (re-exported)
from analysis.data.ingest import GLOB_CHARACTERS, MAX_ABS_AMOUNT, MISSING_ID_MARKERS, PARQUET_SUFFIXES, DataQuality
from analysis.data.summary import days_per_unit

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame, SparkSession

    from analysis.models import FittedModel, GammaGammaFit

_log = logging.getLogger(__name__)

LOCAL_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "8",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "50000",
}
"""Settings for ``local[...]`` sessions: few shuffle partitions, no UI, no network beyond loopback."""

CLUSTER_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "50000",
}
"""Settings the kit needs on any cluster (timestamps are cut to dates in UTC)."""

SCORE_SCHEMA = (
    "customer_id string, p_alive double, expected_purchases double, expected_avg_value double,"
    " clv double, clv_low double, clv_high double"
)

# Scores plus, per chunk, one row without customer_id holding the chunk's per-draw CLV totals.
_CHUNK_SCHEMA = SCORE_SCHEMA + ", draw_totals array<double>"

_DELIMITER_CANDIDATES = (",", ";", "\t", "|")
_STRPTIME_TO_SPARK = {
    "Y": "yyyy", "y": "yy", "m": "MM", "d": "dd", "H": "HH", "I": "hh", "M": "mm", "S": "ss",
    "f": "SSSSSS", "p": "a", "b": "MMM", "B": "MMMM", "j": "DDD", "z": "Z", "%": "%",
}


def _spark_modules():
    try:
        from pyspark.sql import functions as F
        from pyspark.sql import types as T
    except ImportError as exc:
        raise SparkNotInstalled(
            "engine: spark needs pyspark, which is not installed. Install it with `make setup-spark`"
            " (or `.venv/bin/pip install -r requirements-spark.txt`; it needs Java 17), or set engine: duckdb."
        ) from exc
    return F, T


def spark_session(
    master: str | None = "local[2]", app_name: str = "retention-kit", conf: Mapping[str, str] | None = None
) -> SparkSession:
    """Get or create the Spark session the engine uses.

    Parameters
    ----------
    master
        ``"local[N]"`` runs Spark on this machine with N threads and :data:`LOCAL_CONF`
        (tests, a laptop); its Python workers use this interpreter (``PYSPARK_PYTHON`` is set
        to it unless already set). ``None`` keeps whatever ``spark-submit`` or the Databricks job
        configured, adding only :data:`CLUSTER_CONF`.
    app_name
        Name shown in the cluster's UI.
    conf
        Further Spark settings; they override the defaults above.

    Returns
    -------
    pyspark.sql.SparkSession
    """
    _spark_modules()
    from pyspark.sql import SparkSession

    settings = dict(LOCAL_CONF if master and master.startswith("local") else CLUSTER_CONF)
    if master and master.startswith("local"):
        # Python workers of a local session run in this environment (pyspark reads the variable when
        # the SparkContext starts; the spark.pyspark.python setting only reaches spark-submit).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # the driver binds to the loopback address (LOCAL_CONF); saying so spares a warning per session
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    settings.update(conf or {})
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    for key in ("spark.sql.session.timeZone", "spark.sql.execution.arrow.pyspark.enabled"):
        spark.conf.set(key, settings[key])  # also when the session already existed
    return spark


_run_session: SparkSession | None = None


def run_session(settings: SparkParams) -> SparkSession:
    """The Spark session of this process for a run's ``spark:`` settings.

    Created on the first call (:func:`spark_session` with ``settings.master``,
    ``settings.app_name`` and ``settings.conf``) and reused by later calls in the same
    process, e.g. the cells of a notebook kernel. It is not stopped explicitly: the JVM
    of a local session ends with this process (pyspark ties it to the process's pipe), and a
    ``stop()`` at exit raced with that ending when papermill shut the kernel down.

    Parameters
    ----------
    settings
        The ``spark:`` section of the run configuration.

    Returns
    -------
    pyspark.sql.SparkSession
    """
    global _run_session
    if _run_session is None or getattr(_run_session.sparkContext, "_jsc", None) is None:  # none yet, or stopped
        _run_session = spark_session(settings.master, settings.app_name, settings.conf)
    return _run_session


def spark_date_pattern(date_format: str) -> str:
    """Translate a strptime format (``data.date_format``) into a Spark datetime pattern.

    ``"%Y%m%d"`` becomes ``"yyyyMMdd"``, ``"%d/%m/%Y"`` becomes ``"dd/MM/yyyy"``; letters
    outside the codes are quoted. Raises :class:`~analysis.errors.ConfigError` (a ``ValueError``) for codes
    Spark cannot parse (e.g. ``%a``, ``%U``).
    """
    out: list[str] = []
    literal = ""
    i = 0

    def flush() -> None:
        nonlocal literal
        if literal:
            out.append("'" + literal.replace("'", "''") + "'" if any(c.isalpha() or c == "'" for c in literal) else literal)
            literal = ""

    while i < len(date_format):
        ch = date_format[i]
        if ch == "%" and i + 1 < len(date_format):
            code = date_format[i + 1]
            if code not in _STRPTIME_TO_SPARK:
                raise ConfigError(f"data.date_format {date_format!r}: the code %{code} has no Spark equivalent; use"
                                  f" the codes %{' %'.join(_STRPTIME_TO_SPARK)} only, or engine: duckdb")
            if code == "%":
                literal += "%"
            else:
                flush()
                out.append(_STRPTIME_TO_SPARK[code])
            i += 2
            continue
        literal += ch
        i += 1
    flush()
    return "".join(out)


def data_path_text(path: str | Path) -> str:
    """``data.path`` as Spark needs it: local paths as they are, object-storage URIs intact.

    ``pathlib.Path`` (the type of ``data.path``) collapses ``s3a://bucket/x`` to
    ``s3a:/bucket/x``; the second slash is put back for every scheme except ``dbfs:`` and
    ``file:``, whose single-slash form is the usual one.
    """
    text = str(path)
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]+):/(?!/)", text)
    if match and len(match.group(1)) > 1 and match.group(1).lower() not in ("dbfs", "file"):
        return f"{match.group(1)}://{text[match.end():]}"
    return text


def _is_local(path: str) -> bool:
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/", path) is None or path.startswith("file:")


_WILDCARD = re.compile("([" + re.escape("".join(sorted(GLOB_CHARACTERS)) + "\\") + "])")


def _escape_glob(path: str) -> str:
    """``path`` as Hadoop reads it literally: Spark takes * ? [ ] { } in a path as wildcards (so
    ``tx[1].csv`` would read ``tx1.csv`` and ``sales*.csv`` every sales file); a backslash before each
    (and before a backslash) makes them plain characters."""
    return _WILDCARD.sub(r"\\\1", path)


def _guess_delimiter(spark: SparkSession, path: str) -> str:
    first = spark.read.text(path).limit(1).collect()
    line = first[0][0] if first else ""
    counts = {d: line.count(d) for d in _DELIMITER_CANDIDATES}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def read_transactions(spark: SparkSession, params: DataParams) -> DataFrame:
    """Read the transaction file into ``customer_id, date, amount, raw_id, raw_date, raw_amount``.

    ``customer_id`` is a trimmed string (missing-value markers such as ``NULL`` become
    null), ``date`` a date (null if unreadable), ``amount`` a double (null if not a plain
    number with the configured decimal separator). Nothing is checked yet: see
    :func:`purchases`.
    """
    F, T = _spark_modules()
    path = data_path_text(params.path)
    if _is_local(path) and not path.startswith("file:") and not Path(path).exists():
        raise DataValidationError(
            f"Transaction file not found: {path}. Check data.path in the run configuration"
            " (relative paths start at the project folder)."
        )
    fmt = params.format
    if fmt == "auto":
        fmt = "parquet" if Path(path).suffix.lower() in PARQUET_SUFFIXES or (_is_local(path) and Path(path).is_dir()) else "csv"
    literal = _escape_glob(path)
    if fmt == "parquet":
        raw = spark.read.parquet(literal)
    else:
        delimiter = params.delimiter or _guess_delimiter(spark, literal)
        raw = (spark.read.option("header", True).option("sep", delimiter).option("inferSchema", False)
               .option("encoding", "UTF-8").csv(literal))
    cols = params.columns
    missing = [c for c in (cols.customer_id, cols.date, cols.amount) if c not in raw.columns]
    if missing:
        raise DataValidationError(
            f"{path}: column(s) {', '.join(repr(m) for m in missing)} not found. The file has columns "
            f"{format_examples(raw.columns, limit=20)}. Set data.columns in the run configuration to the file's names."
        )
    types = dict(raw.dtypes)
    cid, date, amount = (F.col(f"`{c}`") for c in (cols.customer_id, cols.date, cols.amount))

    id_text = _strip_blanks(cid.cast("string"))
    customer_id = F.when(F.lower(id_text).isin(list(MISSING_ID_MARKERS)) | (id_text == ""), F.lit(None)).otherwise(id_text)
    if types[cols.date] == "timestamp":  # an instant: its day in data.timezone, else the file's zone (as DuckDB)
        zone = params.timezone or _parquet_zone(params, cols.date) or "UTC"
        date_expr = F.to_date(F.from_utc_timestamp(date, zone))  # the session's zone is UTC
    elif types[cols.date] in ("date", "timestamp_ntz"):
        date_expr = F.to_date(date)
    elif params.date_format:
        pattern = spark_date_pattern(params.date_format)
        date_expr = F.to_date(F.try_to_timestamp(_strip_blanks(date.cast("string")), F.lit(pattern)))
    else:
        date_expr = F.expr(f"try_cast(trim(cast(`{cols.date}` AS STRING)) AS DATE)")
    if types[cols.amount].startswith(("tinyint", "smallint", "int", "bigint", "float", "double", "decimal")):
        amount_expr = amount.cast("double")
    else:
        from analysis.data.ingest import amount_pattern

        text = _strip_blanks(amount.cast("string"))
        number = F.regexp_replace(text, re.escape(params.thousands), "") if params.thousands else text
        number = F.regexp_replace(number, ",", ".") if params.decimal == "," else number
        # the pattern admits only plain (or configured grouped) numbers, so the cast cannot fail (also under ANSI mode)
        amount_expr = F.when(text.rlike(f"^({amount_pattern(params.decimal, params.thousands)})$"),
                             number.cast("double"))
    return raw.select(
        customer_id.alias("customer_id"), date_expr.alias("date"), amount_expr.alias("amount"),
        id_text.alias("raw_id"), date.cast("string").alias("raw_date"), amount.cast("string").alias("raw_amount"),
    )


def _examples(df: DataFrame, condition: Column, column: str) -> str:
    return format_examples(r[0] for r in df.where(condition).select(column).limit(5).collect())


def purchases(
    spark: SparkSession,
    params: DataParams,
    *,
    observation_end: dt.date | None = None,
    today: dt.date | None = None,
) -> tuple[DataFrame, DataQuality]:
    """Check the transaction file and reduce it to one row per customer and purchase day.

    The Spark counterpart of :func:`analysis.data.ingest.ingest_transactions`, with the same
    policies (``data.returns``, ``data.zero_amounts``, ``data.duplicates``) and the same
    errors for missing ids, unreadable dates, non-numeric or huge amounts, dates after
    ``today`` and returns under ``returns: error``.

    Returns
    -------
    (pyspark.sql.DataFrame, DataQuality)
        ``customer_id, date, amount, lines`` (cached), and what happened to the rows.
    """
    _spark_modules()
    from pyspark import StorageLevel

    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    path = data_path_text(params.path)
    today = today or dt.date.today()
    local = Path(path.removeprefix("file:"))
    if _is_local(path) and local.is_file():  # a single local file: the same file checks as DuckDB's ingest
        from analysis.data.ingest import check_source

        check_source(params, local)
    try:
        parsed = read_transactions(spark, params).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            return _purchases(parsed, params, path, observation_end, today)
        finally:
            parsed.unpersist()
    except (PySparkException, Py4JJavaError) as exc:  # Spark could not read the input: say so in one line
        raise DataValidationError(_spark_read_error(path, exc)) from None


def _spark_read_error(path: str, exc: BaseException) -> str:
    """A one-line message for a file Spark cannot read, with Spark's own reason and what to try."""
    text = str(getattr(exc, "java_exception", None) or exc)
    reason = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    reason = re.sub(r"^\S*(Exception|Error):\s*", "", reason)[:300]
    if "TIMESTAMP(NANOS" in text:
        advice = ("Its timestamps are in nanoseconds (pandas writes them so), which Spark cannot read: write them"
                  " in microseconds (pandas: to_parquet(..., coerce_timestamps='us')) or run with engine: duckdb.")
    elif "UNABLE_TO_INFER_SCHEMA" in text:
        advice = "The folder holds no data files: point data.path at the transaction file(s)."
    else:
        advice = ("The file may be damaged or incomplete (copy or download it again), or not in the format"
                  " data.format says.")
    return f"{path}: Spark could not read the transactions ({reason}). {advice}"


def _purchases(
    parsed: DataFrame, params: DataParams, path: str, observation_end: dt.date | None, today: dt.date
) -> tuple[DataFrame, DataQuality]:
    F, _ = _spark_modules()
    from pyspark import StorageLevel

    cols = params.columns
    bad_amount = F.col("amount").isNull() | F.isnan("amount") | (F.abs("amount") == float("inf"))
    huge = ~bad_amount & (F.abs("amount") > MAX_ABS_AMOUNT)
    not_utf8 = (F.col("raw_id").contains("\ufffd") | F.col("raw_date").contains("\ufffd")
                | F.col("raw_amount").contains("\ufffd"))  # Spark reads bytes that are not UTF-8 as U+FFFD
    counts = parsed.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_if(not_utf8).alias("not_utf8"),
        F.count_if(F.col("customer_id").isNull()).alias("missing_id"),
        F.count_if(F.col("date").isNull()).alias("bad_date"),
        F.count_if(bad_amount).alias("bad_amount"),
        F.count_if(huge).alias("huge"),
        F.count_if(F.col("date") > F.lit(today)).alias("future"),
        F.count_if(F.col("amount") < 0).alias("returns"),
        F.count_if(F.col("amount") == 0).alias("zero"),
    ).collect()[0].asDict()
    rows_read = counts["rows"]
    of_rows = f"of {rows_read:,} rows"
    if rows_read == 0:
        raise DataValidationError(f"{path} has a header but no transaction rows. Export the transactions again.")
    if counts["not_utf8"]:
        raise DataValidationError(
            f"Transaction file {path} is not UTF-8 text: {counts['not_utf8']:,} {of_rows} hold bytes that are not"
            f" UTF-8 (examples as read: {_examples(parsed, not_utf8, 'raw_id')}). Save the export as 'CSV UTF-8' or"
            " convert it, e.g. `iconv -f WINDOWS-1252 -t UTF-8`, and point data.path at the converted file.")
    if counts["missing_id"]:
        raise DataValidationError(
            f"{path}, column {cols.customer_id!r}: {counts['missing_id']:,} {of_rows} have no customer id. Examples"
            " (date / amount of such rows): "
            + format_examples(f"{r[0]} / {r[1]}" for r in parsed.where(F.col("customer_id").isNull())
                              .select("raw_date", "raw_amount").limit(5).collect())
            + ". Remove those rows or fill in the ids."
        )
    if counts["bad_date"]:
        fmt_text = f"the format {params.date_format!r}" if params.date_format else "ISO format (YYYY-MM-DD)"
        raise DataValidationError(
            f"{path}, column {cols.date!r}: {counts['bad_date']:,} {of_rows} have dates that cannot be read as"
            f" {fmt_text}. Examples: {_examples(parsed, F.col('date').isNull(), 'raw_date')}. Set"
            " data.date_format in the run configuration to match the file, or correct those rows."
        )
    if counts["bad_amount"]:
        raise DataValidationError(
            f"{path}, column {cols.amount!r}: {counts['bad_amount']:,} {of_rows} have amounts that are not"
            f" numbers (decimal separator {params.decimal!r}). Examples: {_examples(parsed, bad_amount, 'raw_amount')}."
            " Set data.decimal if the file uses another decimal separator, or correct those rows."
        )
    if counts["huge"]:
        raise DataValidationError(
            f"{path}, column {cols.amount!r}: {counts['huge']:,} {of_rows} have amounts larger than"
            f" {MAX_ABS_AMOUNT:,.0f} in absolute value. Examples: {_examples(parsed, huge, 'raw_amount')}."
            " Check that data.columns.amount names the amount column and correct those rows."
        )
    if counts["future"]:
        raise DataValidationError(
            f"{path}, column {cols.date!r}: {counts['future']:,} {of_rows} are dated after today ({today})."
            f" Examples: {_examples(parsed, F.col('date') > F.lit(today), 'raw_date')}. Check the date format"
            " (day and month swapped?) or correct those rows."
        )
    if counts["returns"] and params.returns == "error":
        raise DataValidationError(
            f"{path}, column {cols.amount!r}: {counts['returns']:,} {of_rows} have negative amounts (returns)."
            f" Examples: {_examples(parsed, F.col('amount') < 0, 'raw_amount')}. Set data.returns to 'drop' or"
            " 'net' to handle them."
        )

    n_duplicates = (parsed.groupBy("customer_id", "raw_date", "raw_amount").count()
                    .where(F.col("count") > 1).agg(F.sum(F.col("count") - 1)).collect()[0][0]) or 0
    left_out: dict[str, int] = {}
    base = parsed
    if params.duplicates == "drop" and n_duplicates:
        base = parsed.dropDuplicates(["customer_id", "raw_date", "raw_amount"])
        left_out["duplicate rows"] = int(n_duplicates)
    keep = F.lit(True)
    steps: list[tuple[str, Column]] = []
    if observation_end is not None:
        steps.append(("after the observation end", F.col("date") > F.lit(observation_end)))
    if params.returns == "drop":
        steps.append(("returns (negative amounts)", F.col("amount") < 0))
    if params.zero_amounts == "drop":
        steps.append(("zero amounts", F.col("amount") == 0))
    if steps:  # rows are counted under the first reason that applies, as in analysis.data.ingest
        conditions, aggs = F.lit(True), []
        for reason, cond in steps:
            aggs.append(F.count_if(conditions & cond).alias(reason))
            conditions = conditions & ~cond
        for reason, n in base.agg(*aggs).collect()[0].asDict().items():
            if n:
                left_out[reason] = int(n)
        keep = conditions
    used = base.where(keep)
    unmatched = 0.0
    if params.returns == "net":
        # analysis.data.ingest.NET_RETURNS_SQL, the same rule in Spark's API
        from pyspark.sql import Window

        totals = used.repartition("customer_id").groupBy("customer_id", "date").agg(
            F.sum(F.col("amount").cast("decimal(38,10)")).alias("total"), F.count(F.lit(1)).alias("lines"),
            F.count_if(F.col("amount") < 0).alias("return_lines"),
        )
        by_date = Window.partitionBy("customer_id").orderBy("date")
        c = F.sum("total").over(by_date.rowsBetween(Window.unboundedPreceding, Window.currentRow))
        netted = totals.withColumn("c", c).withColumn(
            "suffix_min", F.min("c").over(by_date.rowsBetween(Window.currentRow, Window.unboundedFollowing)))
        netted = netted.withColumn("remaining", F.when(
            F.col("total") > 0, F.greatest(F.col("suffix_min") - (F.col("c") - F.col("total")), F.lit(0))
        ).otherwise(F.col("total")))
        is_purchase = (((F.col("total") > 0) & (F.col("remaining") > 0))
                       | ((F.col("total") == 0) & (F.col("return_lines") == 0)))
        netted = netted.withColumn("is_purchase", is_purchase).persist(StorageLevel.MEMORY_AND_DISK)
        per_customer = netted.groupBy("customer_id").agg(
            F.sum(F.when(~F.col("is_purchase") & (F.col("total") >= 0), F.col("lines")).otherwise(0)).alias("returned"),
            F.min("c").alias("lowest"))
        returned, unmatched_dec = per_customer.agg(
            F.sum("returned"), F.sum(F.greatest(-F.col("lowest"), F.lit(0)))).collect()[0]
        unmatched = float(unmatched_dec or 0)
        days = netted.where("is_purchase").select(
            "customer_id", "date", F.col("remaining").cast("double").alias("amount"), "lines")
    else:
        days = used.repartition("customer_id").groupBy("customer_id", "date").agg(
            _exact_sum(F.col("amount")).alias("amount"), F.count(F.lit(1)).alias("lines"))
    days = days.persist(StorageLevel.MEMORY_AND_DISK)
    stats = days.agg(
        F.count_distinct("customer_id"), F.count(F.lit(1)), F.min("date"), F.max("date"), F.sum("lines"),
    ).collect()[0]
    rows_used = int(used.count())
    if params.returns == "net":
        netted.unpersist()
        if returned:
            left_out["purchase days fully returned"] = int(returned)
            rows_used -= int(returned)
    if stats[1] == 0:
        days.unpersist()
        raise DataValidationError(
            f"{path}: none of the {rows_read:,} rows is left after the policies and the observation end "
            f"({', '.join(f'{k}: {v:,}' for k, v in left_out.items())}). Check period.observation_end and data.returns."
        )
    quality = DataQuality(
        file=path, rows_read=int(rows_read), rows_used=rows_used, left_out=left_out,
        returns_rows=int(counts["returns"]), zero_amount_rows=int(counts["zero"]), duplicate_rows=int(n_duplicates),
        customers=int(stats[0]), purchase_days=int(stats[1]), first_date=stats[2].isoformat(),
        last_date=stats[3].isoformat(), observation_end=(observation_end or stats[3]).isoformat(),
        policies={"returns": params.returns, "zero_amounts": params.zero_amounts, "duplicates": params.duplicates},
        returns_unmatched_amount=unmatched,
    )
    return days, quality


def _parquet_zone(params: DataParams, column: str) -> str | None:
    """The time zone a local Parquet file records for ``column`` (Arrow metadata), if any."""
    path = Path(str(params.path))
    if "://" in str(params.path) or not path.is_file() or path.suffix.lower() not in (".parquet", ".pq"):
        return None
    try:
        import pyarrow.parquet as pq

        return getattr(pq.read_schema(path).field(column).type, "tz", None) or None
    except (OSError, KeyError, ValueError):
        return None


def _strip_blanks(column: Column) -> Column:
    """``analysis.data.ingest._BLANKS`` trimmed from both ends, as DuckDB's ``trim(x, blanks)``."""
    from analysis.data.ingest import _BLANKS

    F, _ = _spark_modules()
    blanks = "".join(f"\\u{ord(c):04x}" for c in _BLANKS)
    return F.regexp_replace(column, f"^[{blanks}]+|[{blanks}]+$", "")


def _exact_sum(column: Column) -> Column:
    """Sum as DECIMAL(38, 10), back to double: :func:`analysis.data.summary.exact_sum_sql` in Spark."""
    F, _ = _spark_modules()
    return F.sum(column.cast("decimal(38,10)")).cast("double")


def _purchase_days(purchases_df: DataFrame, end: dt.date) -> DataFrame:
    """Lines up to ``end`` collapsed to one row per customer and day, partitioned by customer."""
    F, _ = _spark_modules()
    lines = purchases_df.select(F.col("customer_id").cast("string").alias("customer_id"),
                                F.to_date("date").alias("date"), F.col("amount").cast("double").alias("amount"))
    # One shuffle by customer: both aggregations below then run without another one.
    return (lines.where(F.col("date") <= F.lit(end)).repartition("customer_id")
            .groupBy("customer_id", "date").agg(_exact_sum(F.col("amount")).alias("amount")))


def rfm_summary(purchases_df: DataFrame, observation_end: dt.date | str, time_unit: str = "W") -> DataFrame:
    """Per-customer summary up to and including ``observation_end`` (Spark DataFrame).

    Same columns and values as :func:`analysis.data.summary.rfm_summary`: ``customer_id,
    frequency, recency, T, monetary_value, first_purchase, last_purchase, n_purchases,
    revenue, days_since_last``. ``purchases_df`` has ``customer_id, date, amount`` (purchases
    or raw lines: same-day lines are added up here).
    """
    F, _ = _spark_modules()
    unit = days_per_unit(time_unit)
    end = pd.Timestamp(observation_end).date()
    agg = _purchase_days(purchases_df, end).groupBy("customer_id").agg(
        F.min("date").alias("first_purchase"), F.max("date").alias("last_purchase"),
        F.count(F.lit(1)).alias("n_purchases"), _exact_sum(F.col("amount")).alias("revenue"),
        F.min_by("amount", "date").alias("first_amount"),
    )
    n, end_lit = F.col("n_purchases"), F.lit(end)
    return agg.select(
        "customer_id",
        (n - 1).cast("double").alias("frequency"),
        (F.datediff("last_purchase", "first_purchase") / F.lit(unit)).alias("recency"),
        (F.datediff(end_lit, "first_purchase") / F.lit(unit)).alias("T"),
        F.when(n > 1, (F.col("revenue") - F.col("first_amount")) / (n - 1)).otherwise(F.lit(0.0)).alias("monetary_value"),
        "first_purchase", "last_purchase", n.cast("long").alias("n_purchases"), "revenue",
        F.datediff(end_lit, "last_purchase").cast("long").alias("days_since_last"),
    )


def calibration_holdout_summary(
    purchases_df: DataFrame, calibration_end: dt.date | str, observation_end: dt.date | str, time_unit: str = "W"
) -> DataFrame:
    """Calibration/holdout split (Spark DataFrame), as :func:`analysis.data.summary.calibration_holdout_summary`.

    Customers whose first purchase is after ``calibration_end`` are left out. Columns:
    ``customer_id, frequency, recency, T, monetary_value, frequency_holdout,
    monetary_value_holdout, duration_holdout, first_purchase``.
    """
    F, _ = _spark_modules()
    cal, end = pd.Timestamp(calibration_end).date(), pd.Timestamp(observation_end).date()
    if cal >= end:
        raise ValueError(f"calibration_end {calibration_end} must be before observation_end {observation_end}")
    unit = days_per_unit(time_unit)
    in_cal = F.col("date") <= F.lit(cal)
    agg = _purchase_days(purchases_df, end).groupBy("customer_id").agg(
        F.min("date").alias("first_purchase"),
        F.max(F.when(in_cal, F.col("date"))).alias("last_purchase"),
        F.count_if(in_cal).alias("n"),
        _exact_sum(F.when(in_cal, F.col("amount"))).alias("revenue"),
        F.min_by("amount", "date").alias("first_amount"),
        F.count_if(~in_cal).alias("n_holdout"),
        _exact_sum(F.when(~in_cal, F.col("amount"))).alias("revenue_holdout"),
    ).where(F.col("first_purchase") <= F.lit(cal))
    n, n_h = F.col("n"), F.col("n_holdout")
    return agg.select(
        "customer_id",
        (n - 1).cast("double").alias("frequency"),
        (F.datediff("last_purchase", "first_purchase") / F.lit(unit)).alias("recency"),
        (F.datediff(F.lit(cal), "first_purchase") / F.lit(unit)).alias("T"),
        F.when(n > 1, (F.col("revenue") - F.col("first_amount")) / (n - 1)).otherwise(F.lit(0.0)).alias("monetary_value"),
        n_h.cast("double").alias("frequency_holdout"),
        F.when(n_h > 0, F.col("revenue_holdout") / n_h).otherwise(F.lit(0.0)).alias("monetary_value_holdout"),
        (F.lit(float((end - cal).days)) / F.lit(unit)).alias("duration_holdout"),
        "first_purchase",
    )


def to_pandas(summary: DataFrame) -> pd.DataFrame:
    """A Spark summary as the pandas frame the DuckDB functions return (sorted, indexed by ``customer_id``).

    Date columns become ``datetime64[us]``, as DuckDB's ``DATE`` columns do.
    """
    df = summary.toPandas()
    for name, kind in summary.dtypes:
        if kind == "date":
            df[name] = pd.to_datetime(df[name]).astype("datetime64[us]")
    return df.sort_values("customer_id", kind="stable").set_index("customer_id")


def unique_rows(summary: DataFrame, columns: list[str], where: Column | None = None) -> pd.DataFrame:
    """The distinct combinations of ``columns`` and how many customers have each (column ``n``), on the driver."""
    F, _ = _spark_modules()
    df = summary if where is None else summary.where(where)
    rows = df.groupBy(*columns).agg(F.count(F.lit(1)).alias("n")).toPandas()
    return rows.sort_values(columns, kind="stable").reset_index(drop=True)


def fit_model(
    summary: DataFrame, model: str = "bgnbd", *, time_unit: str, penalizer: float = 0.0, ci_level: float = 0.95,
    start: dict | None = None,
) -> FittedModel:
    """Fit a transaction model on the driver from the unique ``(frequency, recency, T)`` rows.

    Only the distinct rows and their counts leave the cluster; the fit is
    :func:`analysis.models.fit_model` on those rows weighted by their counts (so the
    estimates equal the DuckDB engine's, and the driver's memory does not grow with the
    number of customers).
    """
    from analysis import models

    rows = unique_rows(summary, ["frequency", "recency", "T"])
    return models.fit_model(rows, model, penalizer=penalizer, time_unit=time_unit, ci_level=ci_level, weights="n",
                            start=start)


def fit_gamma_gamma(summary: DataFrame, *, penalizer: float = 0.0, ci_level: float = 0.95) -> GammaGammaFit:
    """Fit the Gamma-Gamma model on the driver from the unique ``(frequency, monetary_value)`` rows of repeat buyers."""
    F, _ = _spark_modules()
    from analysis import models

    rows = unique_rows(summary, ["frequency", "monetary_value"],
                       where=(F.col("frequency") > 0) & (F.col("monetary_value") > 0))
    return models.fit_gamma_gamma(rows, penalizer=penalizer, ci_level=ci_level, weights="n")


def _scored_chunks(
    summary: DataFrame,
    model: FittedModel,
    gamma_gamma: GammaGammaFit,
    *,
    horizon_months: int,
    annual_discount_rate: float,
    gross_margin: float,
    n_draws: int,
    level: float,
    seed: int | None,
) -> DataFrame:
    """The scores of every customer and, per pandas chunk, one row of per-draw CLV totals (:data:`_CHUNK_SCHEMA`)."""
    payload = (model, gamma_gamma, dict(horizon_months=horizon_months, annual_discount_rate=annual_discount_rate,
                                        gross_margin=gross_margin, n_draws=n_draws, level=level, seed=seed))
    try:
        shared = summary.sparkSession.sparkContext.broadcast(payload)

        def get_payload():
            return shared.value
    except Exception:  # noqa: BLE001 - Spark Connect (e.g. Databricks shared clusters) has no SparkContext
        def get_payload():
            return payload

    def score(chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from analysis.scoring.clv import CLV_COLUMNS, customer_lifetime_value

        fitted, spend, kwargs = get_payload()
        for chunk in chunks:
            if len(chunk) == 0:
                continue
            # one thread per task: Spark runs one task per executor core
            result = customer_lifetime_value(chunk.set_index("customer_id"), fitted, spend, n_threads=1, **kwargs)
            scores = result.customers[CLV_COLUMNS].reset_index()
            scores["draw_totals"] = None
            yield scores
            totals = [] if result.draw_totals is None else result.draw_totals.tolist()
            yield pd.DataFrame({"customer_id": [None], **{c: [float("nan")] for c in CLV_COLUMNS},
                                "draw_totals": [totals]})

    columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    return summary.select(*columns).mapInPandas(score, _CHUNK_SCHEMA)


def score_customers(
    summary: DataFrame,
    model: FittedModel,
    gamma_gamma: GammaGammaFit,
    *,
    horizon_months: int,
    annual_discount_rate: float,
    gross_margin: float,
    n_draws: int = 200,
    level: float = 0.90,
    seed: int | None = 0,
) -> DataFrame:
    """Score every customer on the executors: P(alive), expected purchases, CLV and its band.

    The fitted models go to the executors once (a broadcast variable); each executor runs
    :func:`analysis.scoring.clv.customer_lifetime_value` on pandas chunks of the summary
    (``mapInPandas``; chunk size ``spark.sql.execution.arrow.maxRecordsPerBatch``). With
    the same ``seed`` every chunk uses the same parameter draws, so each customer's band is
    the one the single-machine run gives. The band of the *total* CLV needs the per-draw
    totals of all chunks: see :func:`customer_lifetime_value`.

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id`` and :data:`analysis.scoring.clv.CLV_COLUMNS`.
    """
    F, _ = _spark_modules()
    chunks = _scored_chunks(summary, model, gamma_gamma, horizon_months=horizon_months,
                            annual_discount_rate=annual_discount_rate, gross_margin=gross_margin,
                            n_draws=n_draws, level=level, seed=seed)
    return chunks.where(F.col("customer_id").isNotNull()).drop("draw_totals")


def _draw_totals(chunks: DataFrame, n_draws: int) -> np.ndarray | None:
    """Per-draw totals over all customers: the chunks' totals added draw by draw (NaN stays NaN)."""
    F, _ = _spark_modules()
    if n_draws <= 0:
        return None
    rows = chunks.where(F.col("customer_id").isNull()).select("draw_totals").collect()
    parts = [np.asarray(r[0], dtype=float) for r in rows]
    if not parts:
        return np.zeros(n_draws)
    used = [np.isfinite(p) for p in parts]
    totals = np.sum(parts, axis=0)
    partial = sum(int(np.any(u & ~np.isfinite(totals))) for u in used)
    if partial:
        # a draw gave non-finite CLVs for some customers only: the band of the total leaves it out,
        # the bands of the other chunks' customers include it (the single-machine run leaves it out for all)
        _log.warning("CLV band: %d of %d chunks use parameter draws that other chunks left out",
                     partial, len(parts))
    return totals


def customer_lifetime_value(
    summary: DataFrame,
    model: FittedModel,
    gamma_gamma: GammaGammaFit,
    *,
    horizon_months: int,
    annual_discount_rate: float,
    gross_margin: float,
    n_draws: int = 200,
    level: float = 0.90,
    seed: int | None = 0,
) -> ClvResult:
    """Score every customer on the cluster and bring the scores and the band of the total to the driver.

    The Spark counterpart of :func:`analysis.scoring.clv.customer_lifetime_value` (same arguments,
    same :class:`~analysis.scoring.clv.ClvResult`): the executors score pandas chunks as in
    :func:`score_customers` and each chunk also returns its total CLV under every parameter
    draw (``ClvResult.draw_totals``). The driver adds those up draw by draw, which gives the
    per-draw totals of all customers and so the band of the total CLV
    (:func:`analysis.scoring.clv.total_band`), Krinsky & Robb (1986) as in the single-machine run.
    One row per customer (the scores) comes to the driver.

    Returns
    -------
    ClvResult
        ``customers`` sorted by ``customer_id`` (the order of the DuckDB summary).
    """
    def collect(scores: DataFrame) -> tuple[pd.DataFrame, float]:
        customers = to_pandas(scores.select("customer_id", *CLV_COLUMNS))[CLV_COLUMNS]
        return customers, float(customers["clv"].to_numpy().sum())

    return _scores_with_band(summary, model, gamma_gamma, collect, horizon_months=horizon_months,
                             annual_discount_rate=annual_discount_rate, gross_margin=gross_margin, n_draws=n_draws,
                             level=level, seed=seed)


SCORES_FILE_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value", "n_purchases", "revenue"]
"""The summary columns the job's scores file has before :data:`analysis.scoring.clv.CLV_COLUMNS`."""


def write_customer_scores(
    summary: DataFrame,
    model: FittedModel,
    gamma_gamma: GammaGammaFit,
    path: str,
    *,
    horizon_months: int,
    annual_discount_rate: float,
    gross_margin: float,
    n_draws: int = 200,
    level: float = 0.90,
    seed: int | None = 0,
) -> ClvResult:
    """:func:`customer_lifetime_value`, with the scores written as Parquet to ``path`` instead of brought to the driver.

    The executors write one row per customer (:data:`SCORES_FILE_COLUMNS` of ``summary``, then
    :data:`analysis.scoring.clv.CLV_COLUMNS`) to ``path`` (a folder or object-storage URI, overwritten); only
    the total CLV and the per-draw totals of the chunks come to the driver.

    Returns
    -------
    ClvResult
        Without ``customers`` (None): the total CLV (added up on the cluster) and its band.
    """
    F, _ = _spark_modules()

    def write(scores: DataFrame) -> tuple[None, float]:
        summary.select(*SCORES_FILE_COLUMNS).join(scores, "customer_id").write.mode("overwrite").parquet(path)
        return None, float(scores.agg(F.sum("clv")).collect()[0][0] or 0.0)

    return _scores_with_band(summary, model, gamma_gamma, write, horizon_months=horizon_months,
                             annual_discount_rate=annual_discount_rate, gross_margin=gross_margin, n_draws=n_draws,
                             level=level, seed=seed)


def _scores_with_band(summary: DataFrame, model: FittedModel, gamma_gamma: GammaGammaFit, keep, *,
                      horizon_months: int, annual_discount_rate: float, gross_margin: float, n_draws: int,
                      level: float, seed: int | None) -> ClvResult:
    """Score on the executors (:func:`_scored_chunks`, cached while used) and return the :class:`ClvResult`:
    ``keep(scores)`` brings or writes the customers' scores (``customer_id`` and ``CLV_COLUMNS``) and returns
    them (or None) with their total; the band of the total comes from the chunks' per-draw totals, refused as
    the single-machine run refuses it when too few draws are finite."""
    from pyspark import StorageLevel

    F, _ = _spark_modules()
    chunks = _scored_chunks(summary, model, gamma_gamma, horizon_months=horizon_months,
                            annual_discount_rate=annual_discount_rate, gross_margin=gross_margin,
                            n_draws=n_draws, level=level, seed=seed).persist(StorageLevel.MEMORY_AND_DISK)
    total_low = total_high = float("nan")
    used = 0
    try:
        totals = _draw_totals(chunks, n_draws)
        if totals is not None:  # refused before anything is kept: a failed job leaves the last scores in place
            total_low, total_high, used = total_band(totals, level)
            if used < max(10, n_draws // 2):
                raise band_failure(used, n_draws)
        customers, total = keep(chunks.where(F.col("customer_id").isNotNull()).drop("draw_totals"))
    finally:
        chunks.unpersist()
    return ClvResult(
        customers=customers, total_clv=total, total_clv_low=total_low, total_clv_high=total_high, level=level,
        n_draws=used, seed=seed, method=UNCERTAINTY_METHOD, horizon_months=int(horizon_months),
        annual_discount_rate=annual_discount_rate, gross_margin=gross_margin, model_name=model.name,
        time_unit=model.time_unit, draw_totals=totals,
    )


def ingest_transactions(
    params: DataParams,
    purchases_path: str | Path,
    *,
    spark: SparkSession | None = None,
    observation_end: dt.date | None = None,
    today: dt.date | None = None,
) -> DataQuality:
    """The pipeline's ingest step on Spark: same checks, same ``purchases.parquet``.

    A drop-in for :func:`analysis.data.ingest.ingest_transactions` when ``engine: spark``: Spark
    reads and checks the (large, possibly remote) transaction file and reduces it to
    purchases; the executors write them to ``<purchases_path>.parts/``, and DuckDB on the
    driver merges the parts into the one sorted file ``purchases_path`` that the report
    notebooks read (one row per customer and day: ``customer_id, date, amount, lines``).
    ``purchases_path`` must therefore be a path the driver and the executors can both
    reach (local mode, a single-node cluster, or a mounted volume such as ``/dbfs/...``).
    """
    import shutil

    import duckdb

    spark = spark or spark_session()
    days, quality = purchases(spark, params, observation_end=observation_end, today=today)
    out = Path(purchases_path)
    parts = out.with_name(out.name + ".parts")
    try:
        days.write.mode("overwrite").parquet(str(parts))
        out.parent.mkdir(parents=True, exist_ok=True)
        glob = str(parts / "*.parquet").replace("'", "''")
        target = str(out).replace("'", "''")
        duckdb.connect().execute(
            f"COPY (SELECT customer_id, date, amount, lines FROM read_parquet('{glob}') ORDER BY customer_id, date)"
            f" TO '{target}' (FORMAT parquet)"
        )
    finally:
        days.unpersist()
        shutil.rmtree(parts, ignore_errors=True)
    return quality


def run_job(
    spark: SparkSession,
    params: DataParams,
    *,
    observation_end: dt.date,
    time_unit: str,
    scores_path: str,
    model: str = "bgnbd",
    penalizer: float = 0.0,
    horizon_months: int = 12,
    annual_discount_rate: float = 0.10,
    gross_margin: float = 0.30,
    n_draws: int = 200,
    level: float = 0.90,
    seed: int | None = 0,
) -> dict:
    """Transactions to customer scores on a cluster, in one call (the body of a spark-submit job).

    Purchases and summary on the cluster; then the whole-period step of the pipeline's model stage,
    :func:`analysis.scoring.modelstage.fit_and_score` with :class:`~analysis.scoring.modelstage.SparkJobStage`:
    ``model`` fitted on the driver (with ``penalizer``, or the smallest larger penalty that identifies it, as in
    the pipeline), Gamma-Gamma without a penalty, the scores made on the executors and written as Parquet to
    ``scores_path`` (a folder or object-storage URI): :data:`SCORES_FILE_COLUMNS` and
    :data:`analysis.scoring.clv.CLV_COLUMNS`. There is no holdout, so ``model`` cannot be ``auto``.

    Returns
    -------
    dict
        Data quality, fitted parameters (with their intervals), the number of customers, the
        total CLV and its band.
    """
    from analysis.scoring.modelstage import SparkJobStage, fit_and_score

    days, quality = purchases(spark, params, observation_end=observation_end)
    summary = rfm_summary(days, observation_end, time_unit).cache()
    engine = SparkJobStage(summary, scores_path)
    try:
        n_customers = summary.count()
        whole = fit_and_score(engine, [(model, penalizer, None)], time_unit, observation_end,
                              dict(horizon_months=horizon_months, annual_discount_rate=annual_discount_rate,
                                   gross_margin=gross_margin, n_draws=n_draws, level=level, seed=seed))
    finally:
        engine.close()
        days.unpersist()
    for note in whole.notes:
        _log.warning("%s", note)
    fitted, spend, clv = whole.model, whole.gamma_gamma, whole.clv
    band = clv.draw_totals is not None
    return {
        "data_quality": quality.to_dict(),
        "customers": int(n_customers),
        "model": {"name": fitted.name, "params": fitted.params, "ci": fitted.ci, "loglik": fitted.loglik,
                  "penalizer": fitted.penalizer},  # larger than configured when needed to identify the model
        "gamma_gamma": {"params": spend.params, "ci": spend.ci, "correlation_warning": spend.correlation_warning},
        "total_clv": clv.total_clv,
        "total_clv_band": {"low": clv.total_clv_low if band else None, "high": clv.total_clv_high if band else None,
                           "level": level, "n_draws": clv.n_draws},
        "scores": scores_path,
    }


def main(argv: list[str] | None = None) -> int:
    """``spark-submit .../analysis/spark_engine.py --params run.yaml --scores s3://bucket/scores``."""
    import argparse
    import json

    from analysis.config import load_params
    from analysis.models import MODEL_NAMES

    parser = argparse.ArgumentParser(prog="analysis.spark_engine", description=run_job.__doc__.split("\n\n")[0])
    parser.add_argument("--params", required=True, help="run configuration (YAML); data.path may be an object-storage URI")
    parser.add_argument("--scores", required=True, help="folder or URI to write the customer scores to (Parquet)")
    parser.add_argument("--master", default=None, help="e.g. local[4]; default: what spark-submit/the cluster set")
    args = parser.parse_args(argv)
    run = load_params(args.params)
    if run.period.observation_end is None:
        parser.error("period.observation_end must be set in the run configuration for a Spark job")
    if run.models.model == "auto":
        parser.error("models.model: auto compares the models on the holdout, which the Spark job does not do;"
                     f" set one of {', '.join(MODEL_NAMES)}")
    spark = spark_session(args.master)
    result = run_job(
        spark, run.data, observation_end=run.period.observation_end, time_unit=run.period.time_unit,
        scores_path=args.scores, model=run.models.model,
        penalizer=run.models.penalizer, horizon_months=run.clv.horizon_months,
        annual_discount_rate=run.clv.annual_discount_rate, gross_margin=run.clv.gross_margin,
        n_draws=run.models.n_draws, level=run.models.interval_level, seed=run.models.seed,
    )
    print(json.dumps(result, indent=2, default=str))
    return 0


__all__ = [
    "LOCAL_CONF", "CLUSTER_CONF", "SCORE_SCHEMA", "SparkNotInstalled", "spark_session", "run_session",
    "spark_date_pattern", "data_path_text",
    "read_transactions", "purchases", "rfm_summary", "calibration_holdout_summary", "to_pandas", "unique_rows",
    "fit_model", "fit_gamma_gamma", "score_customers", "customer_lifetime_value", "write_customer_scores",
    "SCORES_FILE_COLUMNS", "ingest_transactions", "run_job",
    "main",
]


if __name__ == "__main__":
    sys.exit(main())
