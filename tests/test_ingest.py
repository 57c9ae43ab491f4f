"""Validation and policies of the transaction reader (DuckDB)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pandas as pd
import pytest

from analysis.config import ColumnNames, DataParams
from analysis.errors import DataValidationError
from analysis.data.ingest import ingest_transactions

TODAY = dt.date(2024, 1, 1)


def _ingest(path, tmp_path, **kwargs):
    observation_end = kwargs.pop("observation_end", None)
    params = DataParams(path=path, **kwargs)
    out = tmp_path / "purchases.parquet"
    quality = ingest_transactions(params, out, observation_end=observation_end, today=TODAY)
    purchases = pd.read_parquet(out)
    purchases["date"] = pd.to_datetime(purchases["date"])
    return quality, purchases


def test_same_day_lines_collapse_and_ids_stay_strings(tiny_csv, tmp_path):
    quality, purchases = _ingest(tiny_csv, tmp_path)
    assert quality.rows_read == 7 and quality.rows_used == 7
    assert quality.customers == 3 and quality.purchase_days == 6
    assert set(purchases["customer_id"]) == {"A", "007", "B"}
    a_first = purchases[(purchases.customer_id == "A") & (purchases.date == pd.Timestamp("2020-01-01"))]
    assert a_first["amount"].tolist() == [15.0] and a_first["lines"].tolist() == [2]


def test_input_file_is_not_modified(tiny_csv, tmp_path):
    before = hashlib.sha256(tiny_csv.read_bytes()).hexdigest()
    _ingest(tiny_csv, tmp_path, observation_end=dt.date(2020, 1, 20))
    assert hashlib.sha256(tiny_csv.read_bytes()).hexdigest() == before


def test_rows_after_observation_end_are_counted_not_errors(tiny_csv, tmp_path):
    quality, purchases = _ingest(tiny_csv, tmp_path, observation_end=dt.date(2020, 1, 20))
    # A 2020-01-22 and B 2020-02-05 are after the end.
    assert quality.left_out == {"after the observation end": 2}
    assert quality.rows_used == 5
    assert purchases["date"].max() <= pd.Timestamp("2020-01-20")


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataValidationError, match="not found: .*nope.csv"):
        _ingest(tmp_path / "nope.csv", tmp_path)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(DataValidationError, match="not a file"):
        _ingest(tmp_path, tmp_path)


def test_empty_file_and_header_only(write_csv, tmp_path):
    with pytest.raises(DataValidationError, match="empty"):
        _ingest(write_csv(""), tmp_path)
    with pytest.raises(DataValidationError, match="no transaction rows"):
        _ingest(write_csv("customer_id,date,amount\n", "header.csv"), tmp_path)


def test_missing_column_lists_the_columns(write_csv, tmp_path):
    path = write_csv("client,date,amount\nA,2020-01-01,1\n")
    with pytest.raises(DataValidationError) as err:
        _ingest(path, tmp_path)
    message = str(err.value)
    assert "'customer_id'" in message and "'client'" in message and "tx.csv" in message


def test_configurable_column_names(write_csv, tmp_path):
    path = write_csv("klant;datum;bedrag\nK1;01-02-2020;1,50\nK1;03-02-2020;2,25\n")
    quality, purchases = _ingest(
        path, tmp_path, columns=ColumnNames(customer_id="klant", date="datum", amount="bedrag"),
        date_format="%d-%m-%Y", decimal=",", delimiter=";",
    )
    assert purchases["amount"].tolist() == [1.5, 2.25]
    assert purchases["date"].tolist() == [pd.Timestamp("2020-02-01"), pd.Timestamp("2020-02-03")]


def test_unparseable_dates_show_examples(write_csv, tmp_path):
    path = write_csv("customer_id,date,amount\nA,2020-01-01,1\nA,2020-13-45,1\nB,yesterday,2\n")
    with pytest.raises(DataValidationError) as err:
        _ingest(path, tmp_path)
    message = str(err.value)
    assert "column 'date'" in message and "2 of 3 rows" in message
    assert "'2020-13-45'" in message and "'yesterday'" in message


def test_non_numeric_amounts(write_csv, tmp_path):
    path = write_csv("customer_id,date,amount\nA,2020-01-01,1.5\nA,2020-01-02,12 EUR\n")
    with pytest.raises(DataValidationError, match=r"column 'amount': 1 of 2 rows .*'12 EUR'"):
        _ingest(path, tmp_path)


def test_missing_customer_ids(write_csv, tmp_path):
    path = write_csv("customer_id,date,amount\n,2020-01-01,1.5\nA,2020-01-02,2\n  ,2020-01-03,3\n")
    with pytest.raises(DataValidationError, match=r"column 'customer_id': 2 of 3 rows have no customer id"):
        _ingest(path, tmp_path)


def test_future_dates(write_csv, tmp_path):
    path = write_csv("customer_id,date,amount\nA,2020-01-01,1\nA,2030-05-01,1\n")
    with pytest.raises(DataValidationError, match=r"1 of 2 rows are dated after today \(2024-01-01\).*'2030-05-01'"):
        _ingest(path, tmp_path)


RETURNS = "customer_id,date,amount\nA,2020-01-01,10\nA,2020-01-01,-4\nA,2020-01-05,0\nB,2020-01-02,5\nB,2020-01-02,-5\n"


def test_returns_drop_policy(write_csv, tmp_path):
    quality, purchases = _ingest(write_csv(RETURNS), tmp_path, returns="drop")
    assert quality.returns_rows == 2 and quality.zero_amount_rows == 1
    assert quality.left_out == {"returns (negative amounts)": 2}
    # A: 10 on 01-01 and 0 on 01-05 (zero kept); B: 5 on 01-02
    assert sorted(purchases["amount"].tolist()) == [0.0, 5.0, 10.0]


def test_returns_net_policy(write_csv, tmp_path):
    quality, purchases = _ingest(write_csv(RETURNS), tmp_path, returns="net")
    # A 01-01 nets to 6; B 01-02 nets to 0 -> not a purchase (2 lines left out)
    got = purchases.set_index(["customer_id", "date"])["amount"].to_dict()
    assert got == {("A", pd.Timestamp("2020-01-01")): 6.0, ("A", pd.Timestamp("2020-01-05")): 0.0}
    assert quality.left_out == {"purchase days fully returned": 2}
    assert quality.rows_used == 3


def test_returns_error_policy_and_zero_drop(write_csv, tmp_path):
    with pytest.raises(DataValidationError, match="negative amounts"):
        _ingest(write_csv(RETURNS), tmp_path, returns="error")
    quality, purchases = _ingest(write_csv(RETURNS, "r2.csv"), tmp_path, zero_amounts="drop")
    assert quality.left_out["zero amounts"] == 1
    assert 0.0 not in purchases["amount"].tolist()


def test_duplicates_counted_and_optionally_dropped(write_csv, tmp_path):
    text = "customer_id,date,amount\nA,2020-01-01,10\nA,2020-01-01,10\nA,2020-01-01,10\nB,2020-01-02,5\n"
    quality, purchases = _ingest(write_csv(text), tmp_path)
    assert quality.duplicate_rows == 2
    assert purchases.set_index("customer_id").loc["A", "amount"] == 30.0
    quality, purchases = _ingest(write_csv(text, "d2.csv"), tmp_path, duplicates="drop")
    assert quality.left_out == {"duplicate rows": 2}
    assert purchases.set_index("customer_id").loc["A", "amount"] == 10.0


def test_duplicates_in_a_typed_file_are_those_of_its_text(tmp_path):
    """A Parquet file's typed dates and amounts are compared as values, not as text: the same verdicts as the
    same rows in a CSV file. By hand: A's two 10.0 lines on 01-01 are one duplicate; 0.0 and -0.0 read as
    different text ("0.0", "-0.0"), so they are no duplicates."""
    df = pd.DataFrame({"customer_id": ["A", "A", "A", "A", "B", "B"],
                       "date": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-01-02", "2020-01-02",
                                               "2020-01-03", "2020-01-03"]),
                       "amount": [10.0, 10.0, 0.0, -0.0, 5.0, 5.0]})
    path = tmp_path / "tx.parquet"
    df.to_parquet(path)
    csv = tmp_path / "tx.csv"
    csv.write_text("customer_id,date,amount\nA,2020-01-01,10.0\nA,2020-01-01,10.0\nA,2020-01-02,0.0\n"
                   "A,2020-01-02,-0.0\nB,2020-01-03,5.0\nB,2020-01-03,5.0\n")
    for source in (path, csv):
        quality, purchases = _ingest(source, tmp_path, duplicates="drop")
        assert quality.duplicate_rows == 2 and quality.left_out == {"duplicate rows": 2}, source
        assert purchases.groupby("customer_id")["lines"].sum().to_dict() == {"A": 3, "B": 1}


def test_parquet_input(tmp_path):
    df = pd.DataFrame({"customer_id": ["x", "x"], "date": pd.to_datetime(["2020-01-01", "2020-01-09"]),
                       "amount": [1.0, 2.0]})
    path = tmp_path / "tx.parquet"
    df.to_parquet(path)
    quality, purchases = _ingest(path, tmp_path)
    assert quality.purchase_days == 2 and purchases["amount"].sum() == 3.0


@pytest.mark.parametrize("text, decimal, thousands, expected", [
    ("1.249,00", ",", ".", 1249.0),          # a Dutch export
    ("1.234.567,89", ",", ".", 1234567.89),
    ("12,5", ",", ".", 12.5),                # no thousands at all is fine too
    ("1,234.50", ".", ",", 1234.5),
    ("1 234,50", ",", " ", 1234.5),
    ("-1.249,00", ",", ".", -1249.0),
])
def test_thousands_separator_is_read_when_configured(write_csv, tmp_path, text, decimal, thousands, expected):
    path = write_csv(f"customer_id;date;amount\nA;2020-01-01;{text}\nA;2020-01-01;2000\n")
    quality, purchases = _ingest(path, tmp_path, decimal=decimal, thousands=thousands, delimiter=";", returns="net")
    assert purchases["amount"].tolist() == [pytest.approx(expected + 2000)]


@pytest.mark.parametrize("text", ["1.24,00", "12.5", "1.2345,00", "1..249,00"])
def test_badly_grouped_amounts_are_refused_with_the_thousands_separator_configured(write_csv, tmp_path, text):
    path = write_csv(f"customer_id;date;amount\nA;2020-01-01;{text}\nA;2020-01-02;3,00\n")
    with pytest.raises(DataValidationError, match=rf"1 of 2 rows have amounts that are not numbers.*'{re.escape(text)}'"):
        _ingest(path, tmp_path, decimal=",", thousands=".", delimiter=";")


def test_same_separator_for_thousands_and_decimals_is_a_config_error(tmp_path):
    with pytest.raises(ValueError, match="must be different separators"):
        DataParams(path=tmp_path / "x.csv", decimal=",", thousands=",")


# Returns netted against earlier purchases, latest first (data.returns: net). Expected values by hand:
# A buys 1,249 (01-01) and 10 (01-03); the return of 15.50 (01-05) takes the 10 of 01-03 (gone) and 5.50
# of 01-01 (1,243.50 left); the return of 1,300 (01-07) takes the 1,243.50 (gone), 56.50 is unmatched.
# B buys 5 and returns 5 the same day: fully returned. C returns 3 before any purchase (unmatched), then
# buys 7 (01-02), returns 2 (01-04) and buys 4 (01-06): 01-02 keeps 5, 01-06 keeps 4 (a return never
# reduces a later purchase). D buys 20 (01-01), 30 (01-02), returns 25 (01-03): 01-02 keeps 5, 01-01 20.
NET_RETURNS = """klant;datum;bedrag
A;2020-01-01;1.249,00
A;2020-01-03;10,00
A;2020-01-05;-15,50
A;2020-01-07;-1.300,00
B;2020-01-02;5,00
B;2020-01-02;-5,00
C;2020-01-01;-3,00
C;2020-01-02;7,00
C;2020-01-04;-2,00
C;2020-01-06;4,00
D;2020-01-01;20,00
D;2020-01-02;30,00
D;2020-01-03;-25,00
"""


def test_returns_are_netted_against_earlier_purchases_latest_first(write_csv, tmp_path):
    path = write_csv(NET_RETURNS)
    quality, purchases = _ingest(path, tmp_path, columns=ColumnNames(customer_id="klant", date="datum", amount="bedrag"),
                                 decimal=",", thousands=".", delimiter=";", returns="net")
    got = {(r.customer_id, r.date.strftime("%m-%d")): r.amount for r in purchases.itertuples()}
    assert got == {("C", "01-02"): 5.0, ("C", "01-06"): 4.0, ("D", "01-01"): 20.0, ("D", "01-02"): 5.0}
    # lines of purchase days with nothing left: A's two days, B's day (2 lines)
    assert quality.left_out == {"purchase days fully returned": 4}
    assert quality.rows_used == 13 - 4
    assert quality.returns_unmatched_amount == pytest.approx(56.5 + 3.0)
    assert quality.customers == 2


def test_ids_differing_only_by_tabs_or_no_break_spaces_are_one_customer(write_csv, tmp_path):
    path = write_csv("customer_id,date,amount\nA1,2020-01-01,5\nA1\t,2020-01-02,6\n\u00a0A1 ,2020-01-03,7\n")
    quality, purchases = _ingest(path, tmp_path)
    assert quality.customers == 1 and set(purchases["customer_id"]) == {"A1"}


@pytest.mark.parametrize("name", ["tx[1].csv", "sales*.csv", "a?b.csv", "x{1,2}.csv"])
def test_file_names_with_pattern_characters_are_read_literally(tmp_path, name):
    (tmp_path / "tx1.csv").write_text("customer_id,date,amount\nOTHER,2020-01-01,99\n")
    (tmp_path / "sales_2020.csv").write_text("customer_id,date,amount\nOTHER,2020-01-01,99\n")
    (tmp_path / "axb.csv").write_text("customer_id,date,amount\nOTHER,2020-01-01,99\n")
    (tmp_path / name).write_text("customer_id,date,amount\nMINE,2020-01-01,5\n")
    quality, purchases = _ingest(tmp_path / name, tmp_path)
    assert purchases["customer_id"].tolist() == ["MINE"] and quality.file.endswith(name)


def test_a_column_named_twice_is_refused(write_csv, tmp_path):
    path = write_csv("customer_id,date,amount,amount\nA,2020-01-01,5,6\n")
    with pytest.raises(DataValidationError, match=r"names column\(s\) 'amount' more than once"):
        _ingest(path, tmp_path)


def test_purchase_days_of_zoned_timestamps_do_not_depend_on_the_machine(tmp_path):
    import os
    import subprocess
    import sys

    import pyarrow as pa
    import pyarrow.parquet as pq

    stamps = [dt.datetime(2024, 1, 1, 23, 30, tzinfo=dt.timezone.utc), dt.datetime(2024, 1, 2, 0, 30, tzinfo=dt.timezone.utc)]
    pq.write_table(pa.table({"customer_id": ["A", "B"], "date": pa.array(stamps, pa.timestamp("ns", tz="UTC")),
                             "amount": [1.0, 2.0]}), tmp_path / "tz.parquet")
    code = ("import datetime as dt, sys, pandas as pd; from analysis.config import DataParams; "
            "from analysis.data.ingest import ingest_transactions; "
            "zone = sys.argv[2] if len(sys.argv) > 2 else None; "
            "ingest_transactions(DataParams(path=sys.argv[1] + '/tz.parquet', timezone=zone), sys.argv[1] + '/out.parquet',"
            " today=dt.date(2026, 1, 1)); print(sorted(pd.read_parquet(sys.argv[1] + '/out.parquet')['date'].astype(str)));"
            # leave as the pipeline does (analysis.pipeline's __main__): DuckDB with pyarrow can abort at exit
            " import os; sys.stdout.flush(); os._exit(0)")
    seen = set()
    for machine in ("Asia/Tokyo", "America/Los_Angeles", "UTC"):
        result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                                env={**os.environ, "TZ": machine}, check=True)
        seen.add(result.stdout.strip())
    assert seen == {"['2024-01-01', '2024-01-02']"}  # the file's own zone, UTC
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path), "Europe/Amsterdam"], capture_output=True,
                            text=True, env={**os.environ, "TZ": "Asia/Tokyo"}, check=True)
    assert result.stdout.strip() == "['2024-01-02', '2024-01-02']"  # 00:30 and 01:30 in Amsterdam


def test_mixed_line_endings_are_read(tmp_path):
    # a CRLF export with LF rows appended (two exports pasted together, or >> from a script)
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"customer_id,date,amount\r\nA,2020-01-01,1\r\nB,2020-01-02,2\r\nC,2020-01-03,3\nD,2020-01-04,4\n")
    quality, purchases = _ingest(path, tmp_path)
    assert quality.rows_read == 4 and sorted(purchases["customer_id"]) == ["A", "B", "C", "D"]
    assert purchases["amount"].tolist() == [1.0, 2.0, 3.0, 4.0]


def test_the_bundled_file_with_one_lf_row_appended_is_read(tmp_path):
    from conftest import SAMPLE

    path = tmp_path / "cdnow_master.csv"
    path.write_bytes((SAMPLE / "cdnow_master.csv").read_bytes() + b"23570,19980630,1,10.00\n")
    quality, _ = _ingest(path, tmp_path, date_format="%Y%m%d")
    assert quality.rows_read == 69660 and quality.customers == 23570


def test_mixed_line_endings_name_the_first_differing_line():
    from pathlib import Path

    from analysis.data.ingest import _mixed_line_endings

    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.csv"
        path.write_bytes(b"a,b\r\n1,2\r\n3,4\n5,6\n")
        assert _mixed_line_endings(path) == 3
        path.write_bytes(b"a,b\n1,2\r\n")
        assert _mixed_line_endings(path) == 2
        path.write_bytes(b"a,b\r\n1,2\r\n")
        assert _mixed_line_endings(path) is None


def test_a_footer_line_is_located_and_named(write_csv, tmp_path):
    path = write_csv("klant;datum;bedrag\nA;01-01-2024;10,00\nB;02-01-2024;5,00\nTotaal;;191195,98\n")
    with pytest.raises(DataValidationError) as err:
        _ingest(path, tmp_path, columns=ColumnNames(customer_id="klant", date="datum", amount="bedrag"),
                decimal=",", delimiter=";", date_format="%d-%m-%Y")
    message = str(err.value)
    assert "data row 3 ('Totaal', '', '191195,98')" in message and "totals or footer line" in message


def test_a_line_too_long_is_called_that(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text('customer_id,date,amount\nA,2024-01-01,"1' + "x" * 3_000_000 + "\n")
    with pytest.raises(DataValidationError, match="has a line longer than the CSV reader accepts"):
        _ingest(path, tmp_path)


def test_a_list_column_is_a_column_of_the_wrong_type(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"customer_id": ["A"], "date": ["2024-01-01"], "amount": pa.array([[1.0, 2.0]])}),
                   tmp_path / "list.parquet")
    with pytest.raises(DataValidationError, match=r"column 'amount' holds double\[\] values \(lists or records\)"):
        _ingest(tmp_path / "list.parquet", tmp_path)


@pytest.mark.parametrize("date_format, values", [("%s", ("1704067200", "1704153599")),
                                                 ("%ms", ("1704067200000", "1704153599999"))])
def test_epoch_dates_are_read(write_csv, tmp_path, date_format, values):
    # 1704067200 = 2024-01-01 00:00:00 UTC; 1704153599 = 2024-01-01 23:59:59 UTC (one purchase day)
    path = write_csv(f"customer_id,date,amount\nA,{values[0]},10\nA,{values[1]},5\n")
    quality, purchases = _ingest(path, tmp_path, date_format=date_format)
    assert quality.first_date == quality.last_date == "2024-01-01" and purchases["amount"].tolist() == [15.0]


def test_kit_messages_point_at_rows_not_at_customer_ids():
    import numpy as np
    import pandas as pd

    from analysis import models

    summary = pd.DataFrame({"frequency": [1.0, 2.0, 0.0], "recency": [5.0, 50.0, 0.0], "T": [10.0, 20.0, 30.0]},
                           index=pd.Index(["SECRET-ID-1", "SECRET-ID-2", "SECRET-ID-3"], name="customer_id"))
    with pytest.raises(ValueError) as err:
        models.fit_model(summary, "bgnbd", time_unit="W")
    assert "row 2 of 3" in str(err.value) and "SECRET" not in str(err.value)
    assert np.isfinite(summary["T"]).all()


def test_the_guarded_trim_gives_what_trim_gives():
    """The ingest trims blanks only from values that begin or end with one (#13): for every kind of value the result
    is DuckDB's trim itself, blanks inside a value, combining marks after a blank, line ends and NULL included."""
    import duckdb

    from analysis.data import ingest

    values = ["", " ", "  ", "x", " x", "x ", "\u00a0C001\u00a0", "\ufeffC001", "C001\r\n", "\tx\t", "x y",
              "a\u0301", "\u00a0\u0301x", "\u0301\u00a0", "x\u2007", "\u202fx\u202f y", "\n", "ab\ncd", None]
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, v VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    got = con.execute(f"SELECT {ingest._trimmed('v')}, trim(v, {ingest._literal(ingest._BLANKS)}) FROM t ORDER BY i"
                      ).fetchall()
    assert [g for g, _ in got] == [want for _, want in got]
    assert got[6][0] == "C001" and got[7][0] == "C001" and got[10][0] == "x y"
