"""A corpus of broken and edge-case inputs: every one ends in a clear message or works.

The small files live in ``tests/bad_inputs/``; binary ones (gzip, Latin-1, UTF-16, Excel,
Parquet) are written to ``tmp_path`` by the builders below. Most cases run at the level of
``ingest_transactions`` / ``load_params`` (fast); a handful run the pipeline command line
against a folder that already holds a good report, which must stay byte-identical.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analysis.data import ingest
from analysis.config import ColumnNames, DataParams, load_params
from analysis.errors import ConfigError, DataValidationError, KitError
from analysis.data.ingest import ingest_transactions
from analysis.pipeline import resolve_dates
from analysis.data.summary import rfm_summary
from conftest import ROOT

BAD = Path(__file__).parent / "bad_inputs"
TODAY = dt.date(2024, 1, 1)
HEADER = "customer_id,date,amount\n"
# Pieces of DuckDB's own error text that must never reach a user.
RAW_DUCKDB = ("Invalid Input Error", "IO Error", "Catalog Error", "Binder Error", "LINE 1", "Possible fix",
              "Possible Solution", "read_csv(", "Traceback")


# --- builders for inputs that are easier to make than to store ---------------------------------

def _gzip(name: str, text: str) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(gzip.compress(text.encode("utf-8")))
        return path
    return build


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(data)
        return path
    return build


def _truncated_gzip(rows: int) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        text = HEADER + "".join(f"C{i:05d},2020-01-{1 + i % 28:02d},{i % 97}.{i % 100:02d}\n" for i in range(rows))
        data = gzip.compress(text.encode())
        path = tmp / "cut.csv.gz"
        path.write_bytes(data[: len(data) * 3 // 5])
        return path
    return build


def _latin1_late(tmp: Path) -> Path:
    """A Latin-1 byte far beyond the part of the file DuckDB samples to detect the layout."""
    text = HEADER + "".join(f"C{i},2020-01-01,1\n" for i in range(30_000)) + "Jos\u00e9,2020-01-02,2\n"
    path = tmp / "late.csv"
    path.write_bytes(text.encode("latin-1"))
    return path


def _parquet(name: str, df: pd.DataFrame) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        path = tmp / name
        df.to_parquet(path, index=False)
        return path
    return build


def _parquet_sql(name: str, select: str) -> Callable[[Path], Path]:
    """A Parquet file written by DuckDB (pandas would turn NaN into a missing value)."""
    def build(tmp: Path) -> Path:
        path = tmp / name
        duckdb.connect().execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")
        return path
    return build


def _folder(tmp: Path) -> Path:
    (tmp / "exports").mkdir()
    return tmp / "exports"


def _source(source: str | Callable[[Path], Path], tmp_path: Path) -> Path:
    if callable(source):
        return source(tmp_path)
    return BAD / source


def _ingest(path: Path, tmp_path: Path, observation_end: dt.date | None = None, **params):
    out = tmp_path / "out" / "purchases.parquet"
    quality = ingest_transactions(DataParams(path=path, **params), out, observation_end=observation_end, today=TODAY)
    return quality, out


def _assert_clear(message: str, path: Path | None = None) -> None:
    for raw in RAW_DUCKDB:
        assert raw not in message, f"raw DuckDB text {raw!r} in: {message}"
    if path is not None:
        assert path.name in message, f"file name missing in: {message}"


# --- data that must be refused, with a message naming problem and fix -------------------------

LATIN1 = (HEADER + "Jos\u00e9,2020-01-01,1\nB,2020-01-02,2\n").encode("latin-1")
UTF16_BE = b"\xfe\xff" + (HEADER + "A,2020-01-01,1\n").encode("utf-16-be")

# id, source (file in tests/bad_inputs or builder), DataParams overrides,
# (regex for the problem, regex for the fix)
REFUSED = [
    ("wrong delimiter", "wrong_delimiter.csv", {"delimiter": ","},
     (r"data.delimiter is ',' but the header line is separated by ';'", r"Set data.delimiter to ';'")),
    ("missing header", "missing_header.csv", {},
     (r"first line looks like data.*no header line", r"Add a header line with the column names")),
    ("column names differ in case", "wrong_column_case.csv", {},
     (r"'customer_id', 'date', 'amount' not found.*'customer_id' is written 'Customer_ID'", r"Set data.columns")),
    ("mixed date formats", "mixed_date_formats.csv", {},
     (r"column 'date': 2 of 4 rows .*'02/01/2020', '01/15/2020'",
      r"mixes date formats: export all dates in one format")),
    ("dates that do not exist", "impossible_dates.csv", {},
     (r"2 of 3 rows have dates that cannot be read.*'2020-02-30'", r"month 13 or 31 February")),
    ("dates in the future", "future_dates.csv", {},
     (r"1 of 2 rows are dated after today \(2024-01-01\).*'2999-05-01'", r"day and month swapped")),
    ("negative amounts under returns: error", "negative_amounts.csv", {"returns": "error"},
     (r"2 of 6 rows have negative amounts \(returns\).*'-4'", r"Set data.returns to 'drop' or 'net'")),
    ("non-numeric amounts", "non_numeric_amounts.csv", {},
     (r"column 'amount': 3 of 4 rows have amounts that are not numbers.*'12 EUR', '\$5.00', 'n/a'",
      r"Remove currency symbols")),
    ("thousands separators", "thousands_separator.csv", {},
     (r"2 of 3 rows have amounts that are not numbers.*'1,234.50', '12,000'",
      r"Thousands separators .* are not read unless configured: set data.thousands: ','")),
    ("thousands separators with decimal comma", "thousands_separator_decimal_comma.csv",
     {"decimal": ",", "delimiter": ";"},
     (r"1 of 2 rows .*'1.234,50'", r"set data.thousands: '.'.*or export the amounts without them \(1234,50\)")),
    ("decimal comma not configured", "decimal_comma_not_configured.csv", {},
     (r"2 of 2 rows have amounts that are not numbers \(decimal separator '.'\).*'12,50'",
      r"Set data.decimal to ','")),
    ("empty amounts", "empty_amounts.csv", {}, (r"1 of 2 rows.*Examples: \(empty\)", r"fill them in")),
    ("empty dates", "empty_dates.csv", {},
     (r"column 'date': 1 of 2 rows.*\(empty\)", r"Empty dates \(1 row\): fill them in")),
    ("empty file", "empty.csv", {}, (r"is empty \(0 bytes\)", r"Export the transactions again")),
    ("header only", "header_only.csv", {}, (r"has a header but no transaction rows", r"Export the transactions again")),
    ("blank lines only", "blank_lines_only.csv", {}, (r"contains no text", r"Export the transactions again")),
    ("NULL ids", "null_ids.csv", {},
     (r"column 'customer_id': 4 of 5 rows have no customer id.*'NULL / 2020-01-01 / 1'",
      r"Remove those rows or fill in the ids")),
    ("amount 1e308", "huge_amounts.csv", {},
     (r"2 of 3 rows have amounts larger than 1,000,000,000,000,000.*'1e308'", r"check that data.columns.amount")),
    ("inf, nan and 1e400", "infinite_amounts.csv", {},
     (r"3 of 4 rows have amounts that are not numbers.*'inf', 'NaN', '1e400'", r"correct those rows")),
    ("line with an extra field", "ragged_rows.csv", {},
     (r"1 line\(s\) do not have the 3 fields of the header line.*line 3: B,2020-01-02,Smith, John,5",
      r"must be in double quotes")),
    ("repeated header line", "repeated_header.csv", {},
     (r"1 of 4 rows repeat the header line", r"Remove the repeated header lines")),
    ("CSV named .parquet", "csv_named_parquet.parquet", {},
     (r"is not a Parquet file", r"set data.format: csv")),
    ("Parquet file with format: csv", _parquet("tx.parquet", pd.DataFrame({"customer_id": ["A"], "date": ["2020-01-01"],
                                                                       "amount": [1.0]})), {"format": "csv"},
     (r"is a Parquet file, but data.format is 'csv'", r"Set data.format to 'parquet' or 'auto'")),
    ("date_format in the wrong notation", "valid_small.csv", {"date_format": "YYYY-MM-DD"},
     (r"cannot be read as the format 'YYYY-MM-DD'", r"must use strptime codes, e.g. '%Y-%m-%d'")),
    ("Latin-1 text", _bytes("latin1.csv", LATIN1), {},
     (r"is not UTF-8 text: 1 line\(s\).*first on line 2", r"Save the export as 'CSV UTF-8' or convert it")),
    ("Latin-1 beyond the sniffing sample", _latin1_late, {},
     (r"is not UTF-8 text: 1 line\(s\).*line 30,002", r"iconv -f WINDOWS-1252 -t UTF-8")),
    ("UTF-16 big-endian", _bytes("be.csv", UTF16_BE), {}, (r"UTF-16 big-endian", r"Save it as 'CSV UTF-8'")),
    ("binary file", _bytes("binary.csv", bytes(range(256)) * 4), {},
     (r"contains NUL bytes, so it is not a plain-text CSV", r"Export the transactions as 'CSV UTF-8'")),
    ("Excel workbook named .csv", _bytes("book.csv", b"PK\x03\x04" + bytes(200)), {},
     (r"is an Excel workbook or a ZIP archive", r"Save the transactions as 'CSV UTF-8'")),
    ("gzip cut short in the first block", _truncated_gzip(200), {},
     (r"gzip-compressed but cannot be decompressed", r"damaged or incomplete: copy or download it again")),
    ("gzip cut short later on", _truncated_gzip(20_000), {},
     (r"Could not decompress", r"damaged or incomplete: copy or download it again")),
    ("Parquet with missing amounts", _parquet("null.parquet", pd.DataFrame(
        {"customer_id": ["A", "B"], "date": pd.to_datetime(["2020-01-01", "2020-01-02"]),
         "amount": [None, 1.0]})), {},
     (r"1 of 2 rows have amounts that are not numbers.*\(empty\)", r"fill them in or remove those rows")),
    ("Parquet with NaN and infinite amounts", _parquet_sql(
        "nan.parquet", "SELECT * FROM (VALUES ('A', DATE '2020-01-01', 'nan'::DOUBLE), ('B', DATE '2020-01-02',"
        " 'inf'::DOUBLE), ('B', DATE '2020-01-03', 2.0)) t(customer_id, date, amount)"), {},
     (r"2 of 3 rows have amounts that are not numbers.*'nan', 'inf'", r"correct those rows")),
    ("directory instead of a file", _folder, {}, (r"is not a file \(a folder\?\)", r"Point data.path at")),
    ("file does not exist", "no_such_file.csv", {}, (r"not found: .*no_such_file.csv", r"Check data.path")),
]


@pytest.mark.parametrize("source, overrides, expected", [pytest.param(*c[1:], id=c[0]) for c in REFUSED])
def test_bad_data_is_refused_clearly(source, overrides, expected, tmp_path):
    path = _source(source, tmp_path)
    with pytest.raises(DataValidationError) as err:
        _ingest(path, tmp_path, **overrides)
    message = str(err.value)
    problem, fix = expected
    assert re.search(problem, message), message
    assert re.search(fix, message), message
    _assert_clear(message, path)
    assert not (tmp_path / "out" / "purchases.parquet").exists()


def test_observation_end_before_the_data(tmp_path):
    with pytest.raises(DataValidationError) as err:
        _ingest(BAD / "valid_small.csv", tmp_path, observation_end=dt.date(2019, 12, 31))
    message = str(err.value)
    assert "none of the 9 rows is left" in message and "runs from 2020-01-05 to 2020-12-01" in message
    assert "Check period.observation_end" in message
    _assert_clear(message, BAD / "valid_small.csv")


def test_a_failed_ingest_leaves_the_file_it_would_replace_as_it_was(tmp_path):
    """The purchases are written beside the output file and replace it only when there are some: an ingest that
    stops (no row left) keeps the last good file, and leaves nothing of its own behind."""
    out = tmp_path / "out" / "purchases.parquet"
    ingest_transactions(DataParams(path=BAD / "valid_small.csv"), out, today=TODAY)
    good = out.read_bytes()
    with pytest.raises(DataValidationError, match="none of the 9 rows is left"):
        ingest_transactions(DataParams(path=BAD / "valid_small.csv"), out, observation_end=dt.date(2019, 12, 31),
                            today=TODAY)
    assert out.read_bytes() == good
    assert sorted(p.name for p in out.parent.iterdir()) == ["purchases.parquet"]
    replaced = ingest_transactions(DataParams(path=BAD / "valid_small.csv"), out,
                                   observation_end=dt.date(2020, 6, 30), today=TODAY)
    assert out.read_bytes() != good and replaced.last_date <= "2020-06-30"
    assert pd.read_parquet(out)["date"].max() <= dt.date(2020, 6, 30)
    assert sorted(p.name for p in out.parent.iterdir()) == ["purchases.parquet"]


class _FullDiskConnection:
    """A DuckDB connection whose writing of the purchases fails halfway: the file it writes gets a few bytes, then
    DuckDB reports a full disk."""

    def __init__(self):
        self.con = duckdb.connect()

    def execute(self, sql: str, *args):
        if sql.startswith("COPY"):
            target = Path(re.search(r"TO '([^']+)'", sql).group(1))
            target.write_bytes(b"PAR1 half a file")
            raise duckdb.IOException(f"IO Error: Could not write file \"{target}\": No space left on device")
        return self.con.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.con, name)


def test_a_failed_write_leaves_the_file_it_would_replace_as_it_was(tmp_path):
    """Writing the purchases fails (a full disk): the error names the output, not the input, and says what to
    check; the earlier file is as it was and the half-written one is gone."""
    out = tmp_path / "out" / "purchases.parquet"
    ingest_transactions(DataParams(path=BAD / "valid_small.csv"), out, today=TODAY)
    good = out.read_bytes()
    with pytest.raises(KitError, match=r"Could not write .*purchases.parquet \(.*No space left on device\).*disk space"):
        ingest_transactions(DataParams(path=BAD / "valid_small.csv"), out, today=TODAY, con=_FullDiskConnection())
    assert out.read_bytes() == good
    assert sorted(p.name for p in out.parent.iterdir()) == ["purchases.parquet"]


def test_invalid_date_format_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"data.date_format '%Q-%m' is not a valid date format.*'%Y-%m-%d'"):
        _ingest(BAD / "valid_small.csv", tmp_path, date_format="%Q-%m")


# --- the file disappears or DuckDB fails in the middle of the run -------------------------------

def test_file_deleted_between_check_and_read(tmp_path, monkeypatch):
    path = tmp_path / "tx.csv"
    shutil.copy(BAD / "valid_small.csv", path)
    original = ingest._open_source

    def open_then_delete(params, p, head):
        source = original(params, p, head)
        p.unlink()
        return source

    monkeypatch.setattr(ingest, "_open_source", open_then_delete)
    with pytest.raises(DataValidationError, match=r"tx.csv disappeared while it was being read.*start the run again"):
        _ingest(path, tmp_path)


class _DeletingConnection:
    """A DuckDB connection that deletes the input file once DuckDB has looked at its columns."""

    def __init__(self, victim: Path):
        self.con, self.victim = duckdb.connect(), victim

    def execute(self, sql: str):
        result = self.con.execute(sql)
        if sql.startswith("DESCRIBE") and self.victim.exists():
            self.victim.unlink()
        return result


def test_file_deleted_while_being_read(tmp_path):
    path = tmp_path / "tx.csv"
    shutil.copy(BAD / "valid_small.csv", path)
    with pytest.raises(DataValidationError) as err:
        ingest_transactions(DataParams(path=path), tmp_path / "p.parquet", today=TODAY, con=_DeletingConnection(path))
    assert "disappeared while it was being read" in str(err.value)
    _assert_clear(str(err.value), path)


class _FailingConnection:
    """A DuckDB connection whose full scan of the file fails with a raw DuckDB error."""

    def __init__(self):
        self.con = duckdb.connect()

    def execute(self, sql: str):
        if "TEMP TABLE parsed" in sql:
            raise duckdb.IOException("IO Error: Could not read from file: Input/output error\n\nLINE 1: SELECT ...")
        return self.con.execute(sql)


def test_raw_duckdb_errors_are_wrapped(tmp_path):
    path = BAD / "valid_small.csv"
    with pytest.raises(DataValidationError) as err:
        ingest_transactions(DataParams(path=path), tmp_path / "p.parquet", today=TODAY, con=_FailingConnection())
    message = str(err.value)
    assert message.startswith(f"Could not read {path} as CSV: ") and "Input/output error" in message
    assert "Check that it is a complete CSV export" in message and "LINE 1" not in message


def test_unwritable_output_is_a_kit_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(KitError, match=r"Could not write .*purchases.parquet.*free disk space"):
        ingest_transactions(DataParams(path=BAD / "valid_small.csv"), blocker / "purchases.parquet", today=TODAY)


# --- edge data that must work, checked through to the RFM summary --------------------------------

def _summary(source, tmp_path, observation_end=None, **overrides):
    path = _source(source, tmp_path)
    quality, out = _ingest(path, tmp_path, observation_end=observation_end, **overrides)
    rfm = rfm_summary(out, quality.observation_end, "D")
    purchases = pd.read_parquet(out)
    return quality, purchases, rfm


def test_utf8_bom_header_still_matches(tmp_path):
    quality, _, rfm = _summary("bom_header.csv", tmp_path)
    assert quality.rows_read == 3 and sorted(rfm.index) == ["A", "B"]
    assert rfm.loc["A", "frequency"] == 1 and rfm.loc["A", "recency"] == 7


@pytest.mark.parametrize("name, overrides", [("semicolon_autodetect.csv", {}), ("tab_delimited.csv", {}),
                                             ("crlf_line_endings.csv", {}), ("blank_lines_before_header.csv", {})],
                         ids=["semicolon detected", "tab detected", "CRLF line ends", "blank lines before header"])
def test_csv_dialects_that_work(name, overrides, tmp_path):
    quality, purchases, _ = _summary(name, tmp_path, **overrides)
    assert quality.rows_read == 2 and quality.rows_used == 2 and len(purchases) == 2


def test_one_customer(tmp_path):
    quality, _, rfm = _summary("one_customer.csv", tmp_path)
    assert quality.customers == 1 and list(rfm.index) == ["solo"]
    row = rfm.loc["solo"]
    # purchases on days 0, 14 and 31 of the history; observation end = last purchase
    assert (row.frequency, row.recency, row["T"], row.monetary_value) == (2, 31, 31, 25.0)


def test_all_customers_buy_once(tmp_path):
    quality, _, rfm = _summary("all_single_purchases.csv", tmp_path)
    assert quality.customers == 4 and (rfm["frequency"] == 0).all() and (rfm["recency"] == 0).all()
    assert (rfm["monetary_value"] == 0).all()
    assert rfm["T"].to_dict() == {"A": 60, "B": 56, "C": 29, "D": 0}


def test_a_single_day_of_data(tmp_path):
    quality, purchases, rfm = _summary("single_day.csv", tmp_path)
    assert quality.first_date == quality.last_date == quality.observation_end == "2020-05-01"
    assert quality.purchase_days == 2 and purchases.set_index("customer_id")["amount"].to_dict() == {"A": 15, "B": 20}
    assert (rfm[["frequency", "recency", "T", "monetary_value"]] == 0).all().all()


def test_a_single_day_of_data_cannot_be_split_for_the_models(tmp_path):
    params = load_params(_config(tmp_path, "data:\n  path: tests/bad_inputs/single_day.csv\n"))
    quality, _ = _ingest(BAD / "single_day.csv", tmp_path)
    with pytest.raises(KitError, match=r"on or before the first transaction .*Set period.calibration_end later"):
        resolve_dates(params, quality.observation_end, quality.first_date)


def test_leading_zero_ids_stay_strings(tmp_path):
    _, purchases, rfm = _summary("leading_zero_ids.csv", tmp_path)
    assert purchases["customer_id"].map(type).eq(str).all()
    assert set(rfm.index) == {"00123", "0007", "007", "7"}
    assert rfm.loc["007", "frequency"] == 1 and rfm.loc["7", "frequency"] == 0


def test_duplicate_rows_kept_or_dropped(tmp_path):
    quality, purchases, _ = _summary("duplicate_rows.csv", tmp_path)
    assert quality.duplicate_rows == 2 and purchases.set_index(["customer_id"]).loc["A", "amount"] == 30
    quality, purchases, _ = _summary("duplicate_rows.csv", tmp_path, duplicates="drop")
    assert quality.left_out == {"duplicate rows": 2} and purchases.set_index(["customer_id"]).loc["A", "amount"] == 10


@pytest.mark.parametrize("policy, left_out, amounts", [
    ("drop", {"returns (negative amounts)": 2}, {("A", "2020-01-01"): 10, ("A", "2020-01-05"): 8,
                                                 ("B", "2020-01-02"): 5, ("B", "2020-01-20"): 6}),
    ("net", {"purchase days fully returned": 2}, {("A", "2020-01-01"): 6, ("A", "2020-01-05"): 8,
                                                                    ("B", "2020-01-20"): 6}),
])
def test_negative_amounts_under_each_returns_policy(policy, left_out, amounts, tmp_path):
    quality, purchases, rfm = _summary("negative_amounts.csv", tmp_path, returns=policy)
    assert quality.returns_rows == 2 and quality.left_out == left_out
    got = {(r.customer_id, r.date.isoformat()): r.amount for r in purchases.itertuples()}
    assert got == amounts
    assert (rfm["monetary_value"] >= 0).all()


def test_amounts_of_a_trillion_are_accepted(tmp_path):
    _, purchases, rfm = _summary("big_but_valid_amounts.csv", tmp_path)
    assert purchases["amount"].max() == 1e12 and rfm.loc["A", "monetary_value"] == pytest.approx(999999999999.99)


def test_timestamps_collapse_to_days(tmp_path):
    quality, purchases, _ = _summary("timestamps_same_day.csv", tmp_path)
    assert quality.purchase_days == 2 and purchases["amount"].tolist() == [15, 7]


@pytest.mark.parametrize("source", [
    _gzip("tx.csv.gz", HEADER + "A,2020-01-01,10\nA,2020-01-08,20\n"),
    _gzip("tx.csv", HEADER + "A,2020-01-01,10\nA,2020-01-08,20\n"),
    _bytes("unicode.txt", b"\xff\xfe" + "customer_id\tdate\tamount\nA\t2020-01-01\t10\nA\t2020-01-08\t20\n"
           .encode("utf-16-le")),
    _parquet("tx.csv", pd.DataFrame({"customer_id": ["A", "A"], "date": pd.to_datetime(["2020-01-01", "2020-01-08"]),
                                     "amount": [10.0, 20.0]})),
], ids=["csv.gz", "gzip named .csv", "UTF-16 with byte-order mark (Excel unicode text)", "Parquet named .csv"])
def test_compressed_and_other_encodings_are_read(source, tmp_path):
    quality, _, rfm = _summary(source, tmp_path)
    assert quality.rows_read == 2 and rfm.loc["A", "frequency"] == 1 and rfm.loc["A", "monetary_value"] == 20


def test_utf16_keeps_accented_ids(tmp_path):
    text = HEADER + "Jos\u00e9,2020-01-01,10\n"
    _, purchases, _ = _summary(_bytes("u16.csv", b"\xff\xfe" + text.encode("utf-16-le")), tmp_path)
    assert purchases["customer_id"].tolist() == ["Jos\u00e9"]


def test_numeric_parquet_amounts_ignore_the_decimal_setting(tmp_path):
    df = pd.DataFrame({"klant": [7, 7], "datum": pd.to_datetime(["2020-01-01", "2020-01-03"]), "bedrag": [1.5, 2.25]})
    _, purchases, _ = _summary(_parquet("nl.parquet", df), tmp_path, decimal=",",
                               columns=ColumnNames(customer_id="klant", date="datum", amount="bedrag"))
    assert purchases["amount"].tolist() == [1.5, 2.25] and purchases["customer_id"].tolist() == ["7", "7"]


# --- configuration errors ------------------------------------------------------------------------

CONFIG_ERRORS = [
    ("calibration after observation end", "config_calibration_after_observation_end.yaml",
     r"calibration_end \(2020-09-30\) must be before observation_end \(2020-06-30\)"),
    ("negative horizon", "config_negative_horizon.yaml", r"clv.horizon_months: Input should be greater than 0"),
    ("unknown key", "config_unknown_key.yaml", r"period.observaton_end: unknown key \(check the spelling\)"),
    ("missing data.path", "config_missing_data_path.yaml", r"data.path: Field required"),
    ("not YAML", "config_not_yaml.yaml", r"is not valid YAML"),
    ("unknown returns policy", "config_bad_policy.yaml", r"data.returns: Input should be 'drop', 'net' or 'error'"),
    ("holdout of 0 days", "config_zero_holdout.yaml", r"period.holdout_days: Input should be greater than 0"),
]


@pytest.mark.parametrize("name, expected", [pytest.param(*c[1:], id=c[0]) for c in CONFIG_ERRORS])
def test_config_errors(name, expected):
    with pytest.raises(ConfigError, match=expected) as err:
        load_params(BAD / name)
    assert name in str(err.value)


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_calibration_end_before_first_transaction(tmp_path):
    params = load_params(BAD / "config_calibration_before_first_transaction.yaml")
    quality, _ = _ingest(BAD / "valid_small.csv", tmp_path, observation_end=params.period.observation_end)
    with pytest.raises(KitError, match=r"calibration end \(2019-06-30\) is on or before the first transaction "
                                       r"\(2020-01-05\).*Set period.calibration_end later"):
        resolve_dates(params, quality.observation_end, quality.first_date)


def test_calibration_end_after_the_last_transaction(tmp_path):
    # No observation end in the configuration: it becomes the last transaction (2020-12-01).
    params = load_params(_config(tmp_path, "data:\n  path: x.csv\nperiod:\n  calibration_end: 2020-12-15\n"))
    quality, _ = _ingest(BAD / "valid_small.csv", tmp_path)
    expected = r"calibration end \(2020-12-15\) must be before the observation end \(2020-12-01\)"
    with pytest.raises(KitError, match=expected):
        resolve_dates(params, quality.observation_end, quality.first_date)


# --- through the command line: exit code, message, last good report untouched --------------------

def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _latin1_config(tmp_path: Path) -> Path:
    data = tmp_path / "latin1.csv"
    data.write_bytes(LATIN1)
    return _config(tmp_path, f"data:\n  path: {data}\n")


CLI_CASES = [
    ("unknown key", lambda tmp: BAD / "config_unknown_key.yaml", r"unknown key", False),
    ("negative horizon", lambda tmp: BAD / "config_negative_horizon.yaml", r"horizon_months", False),
    ("calibration before first transaction", lambda tmp: BAD / "config_calibration_before_first_transaction.yaml",
     r"on or before the first transaction", True),
    ("data file not found", lambda tmp: BAD / "config_data_not_found.yaml", r"not found: .*no_such_file.csv", True),
    ("data is a folder", lambda tmp: BAD / "config_data_is_a_folder.yaml", r"is not a file", True),
    ("thousands separators", lambda tmp: BAD / "config_thousands_separator.yaml", r"Thousands separators", True),
    ("line with an extra field", lambda tmp: BAD / "config_ragged_rows.yaml", r"do not have the 3 fields", True),
    ("Latin-1 text", _latin1_config, r"is not UTF-8 text", True),
]


@pytest.mark.parametrize("make_params, expected, logged", [pytest.param(*c[1:], id=c[0]) for c in CLI_CASES])
def test_cli_fails_cleanly_and_keeps_the_last_report(make_params, expected, logged, tmp_path):
    params = make_params(tmp_path)
    out = tmp_path / "reports" / "latest"
    out.mkdir(parents=True)
    (out / "index.html").write_text("<html><body>last good report</body></html>\n")
    (out / ".retention-kit-run").write_text("made by an earlier run\n")  # what every published run holds
    (out / "artifacts").mkdir()
    (out / "artifacts" / "kpis.json").write_text('{"customers": 42}\n')
    before = _tree(out)

    command = [sys.executable, "-m", "analysis.pipeline", "run", "--params", str(params), "--out", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "ERROR:" in result.stdout and re.search(expected, result.stdout), result.stdout
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in stream
        _assert_clear(stream)
    assert _tree(out) == before
    failed = list((tmp_path / "reports" / ".failed").glob("*/logs/pipeline.log"))
    assert bool(failed) == logged  # config errors stop before a run folder is staged
