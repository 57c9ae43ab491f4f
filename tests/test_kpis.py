"""KPIs against hand calculations on the tiny log (see conftest)."""

from __future__ import annotations

import datetime as dt

import pytest

from analysis.config import DataParams
from analysis.data.ingest import ingest_transactions
from analysis.business.kpis import cohort_retention, headline_kpis, period_series


@pytest.fixture
def purchases(tiny_csv, tmp_path):
    out = tmp_path / "p.parquet"
    ingest_transactions(DataParams(path=tiny_csv), out, today=dt.date(2024, 1, 1))
    return out


def test_headline_kpis_by_hand(purchases):
    k = headline_kpis(purchases, "2020-02-29", "M", active_window_days=30)
    assert k["customers"] == 3
    assert k["orders"] == 6  # A 3 days, 007 1, B 2
    assert k["revenue"] == pytest.approx(125.0)  # 15+20+30+40+8+12
    assert k["repeat_purchase_rate"] == pytest.approx(2 / 3)  # A and B
    assert k["revenue_per_customer"] == pytest.approx(125 / 3)
    assert k["average_order_value"] == pytest.approx(125 / 6)
    assert k["purchase_frequency"] == pytest.approx(2.0)
    # February: of January's 3 buyers only B bought again.
    assert k["retention_rate"] == pytest.approx(1 / 3) and k["churn_rate"] == pytest.approx(2 / 3)
    assert k["retention_period"] == "2020-02-01"
    assert k["retention_base"] == 3  # January's buyers: A, 007, B
    # February by hand: only B bought, for 12.
    assert (k["period_buyers"], k["period_revenue"], k["revenue_per_buyer"]) == (1, pytest.approx(12.0), pytest.approx(12.0))
    # Active in the 30 days up to 02-29 (after 01-30): only B (02-05).
    assert k["active_customers"] == 1


def test_period_series_by_hand(purchases):
    s = period_series(purchases, "2020-02-29", "M").set_index("period_start")
    assert s["active_customers"].tolist() == [3, 1]
    assert s["new_customers"].tolist() == [3, 0]
    assert s["retained_customers"].tolist() == [0, 1]
    assert s["revenue"].tolist() == pytest.approx([113.0, 12.0])
    assert s["complete"].tolist() == [True, True]


def test_incomplete_last_period_is_not_the_headline(purchases):
    k = headline_kpis(purchases, "2020-02-10", "M")
    assert k["retention_rate"] is None  # February is cut off; January has no previous month
    assert k["revenue_per_buyer"] is None and k["retention_base"] is None


def test_cohort_retention_by_hand(purchases):
    c = cohort_retention(purchases, "2020-02-29")
    assert c.loc["2020-01", 0] == pytest.approx(1.0)
    assert c.loc["2020-01", 1] == pytest.approx(1 / 3)


def test_purchase_days_read_once_give_the_same_kpis_as_raw_lines(tiny_csv):
    """Raw lines (several on one day, unsorted), not the ingest's one row per day: made once and passed to
    all three functions, PurchaseDays gives what each gives from the lines themselves; by hand, A's two lines
    of 2020-01-05 are one order."""
    import pandas as pd

    from analysis.business.kpis import PurchaseDays

    lines = pd.DataFrame({"customer_id": ["A", "A", "B", "A", "B", "C"],
                          "date": pd.to_datetime(["2020-01-05", "2020-01-05", "2020-02-03", "2020-02-10",
                                                  "2020-01-20", "2020-03-02"]),
                          "amount": [10.0, 2.5, 7.0, 4.0, 3.0, 9.0]})
    days = PurchaseDays(lines, "2020-02-29")
    series = period_series(days, "2020-02-29", "M")
    assert series.equals(period_series(lines, "2020-02-29", "M"))
    assert series["orders"].tolist() == [2, 2]  # January: A once (two lines), B once; February: B, A
    headline = headline_kpis(days, "2020-02-29", "M", series=series)
    assert headline == headline_kpis(lines, "2020-02-29", "M")
    assert (headline["customers"], headline["orders"], headline["revenue"]) == (2, 4, 26.5)  # C bought later
    assert cohort_retention(days, "2020-02-29").equals(cohort_retention(lines, "2020-02-29"))
    with pytest.raises(ValueError, match="end on 2020-02-29, not on 2020-03-31"):
        period_series(days, "2020-03-31", "M")


def test_the_ingests_purchase_days_need_no_grouping(purchases):
    """The run's purchases.parquet has one row per customer and day (A's two lines of 2020-01-01 are one row),
    so PurchaseDays may skip the grouping (#13): the same KPIs, series and cohorts."""
    import duckdb

    from analysis.business.kpis import PurchaseDays

    assert duckdb.sql(f"SELECT count(*) = count(DISTINCT (customer_id, date)) FROM '{purchases}'").fetchall()[0][0]
    grouped, plain = PurchaseDays(purchases, "2020-02-29"), PurchaseDays(purchases, "2020-02-29", one_row_per_day=True)
    assert headline_kpis(plain, "2020-02-29", "M", 30) == headline_kpis(grouped, "2020-02-29", "M", 30)
    assert period_series(plain, "2020-02-29", "M").equals(period_series(grouped, "2020-02-29", "M"))
    assert cohort_retention(plain, "2020-02-29").equals(cohort_retention(grouped, "2020-02-29"))
    assert headline_kpis(plain, "2020-02-29", "M", 30)["orders"] == 6  # by hand (see test_headline_kpis_by_hand)


# ---------------------------------------------------------------- customers counted from their active periods (#13)

# A log of 78 months (2015-01 to 2021-06, more than one 64-bit word of periods) with long gaps, as raw lines
# (A's two lines of 2015-01-10 are one purchase day). Month numbers from 2015-01 (= 0):
#  A: 2015-01-10 10 + 5 (0), 2015-02-03 20 (1), 2020-07-15 1 (66), 2020-08-01 2 (67), 2021-06-30 3 (77)
#  B: 2015-02-20 7 (1), 2020-06-15 5 (65), 2020-08-31 8 (67), 2020-09-01 9 (68)
#  E: 2020-04-30 4 (63), 2020-05-01 6 (64): retained across the boundary of the first word
#  C: 2021-06-30 50 (77): arrives on the observation end
LONG_END = "2021-06-30"


def _long_log():
    import pandas as pd

    lines = [("A", "2015-01-10", 10.0), ("A", "2015-01-10", 5.0), ("A", "2015-02-03", 20.0), ("A", "2020-07-15", 1.0),
             ("A", "2020-08-01", 2.0), ("A", "2021-06-30", 3.0), ("B", "2015-02-20", 7.0), ("B", "2020-06-15", 5.0),
             ("B", "2020-08-31", 8.0), ("B", "2020-09-01", 9.0), ("E", "2020-04-30", 4.0), ("E", "2020-05-01", 6.0),
             ("C", "2021-06-30", 50.0)]
    df = pd.DataFrame(lines, columns=["customer_id", "date", "amount"]).sample(frac=1, random_state=1)
    return df.assign(date=pd.to_datetime(df["date"]))


def _by_period(n: int, values: dict) -> list:
    return [values.get(k, 0) for k in range(n)]


def test_more_than_64_months_with_gaps_by_hand():
    import numpy as np
    import pandas as pd

    from analysis.business.kpis import PurchaseDays

    days = PurchaseDays(_long_log(), LONG_END)
    s = period_series(days, LONG_END, "M")
    assert len(s) == 78 and s["period_start"].iloc[[0, 63, 64, 77]].tolist() == list(
        pd.to_datetime(["2015-01-01", "2020-04-01", "2020-05-01", "2021-06-01"]))
    assert s["active_customers"].tolist() == _by_period(78, {0: 1, 1: 2, 63: 1, 64: 1, 65: 1, 66: 1, 67: 2, 68: 1,
                                                             77: 2})
    assert s["new_customers"].tolist() == _by_period(78, {0: 1, 1: 1, 63: 1, 77: 1})
    # A in 0 and 1; E in 63 and 64; A in 66 and 67; B in 67 and 68 (B's 65 and A's 77 follow empty months)
    assert s["retained_customers"].tolist() == _by_period(78, {1: 1, 64: 1, 67: 1, 68: 1})
    assert s["orders"].tolist() == _by_period(78, {0: 1, 1: 2, 63: 1, 64: 1, 65: 1, 66: 1, 67: 2, 68: 1, 77: 2})
    assert s["revenue"].tolist() == _by_period(78, {0: 15, 1: 27, 63: 4, 64: 6, 65: 5, 66: 1, 67: 10, 68: 9, 77: 53})
    rates = s["retention_rate"]
    assert rates.iloc[[1, 2, 64, 65, 66, 67, 68, 69]].tolist() == [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.5, 0.0]
    assert rates.isna().sum() == 1 + 61 + 8  # the first month and those after an empty one (3-63, 70-77)
    assert s["complete"].all()

    c = cohort_retention(days, LONG_END)
    assert c.index.tolist() == ["2015-01", "2015-02", "2020-04", "2021-06"]
    assert c.columns.tolist() == [0, 1, 64, 66, 67, 77]  # the months since the first in which someone bought
    nan = np.nan
    expected = [[1.0, 1.0, 0.0, 1.0, 1.0, 1.0],  # A: months 0, 1, 66, 67, 77
                [1.0, 0.0, 1.0, 1.0, 1.0, nan],  # B: 0, 64, 66, 67; month 77 is after the observation end
                [1.0, 1.0, nan, nan, nan, nan],  # E: 0, 1; 14 months to the end
                [1.0, nan, nan, nan, nan, nan]]  # C: bought on the observation end
    np.testing.assert_array_equal(c.to_numpy(), expected)

    q = period_series(days, LONG_END, "Q")  # 26 quarters: 2015Q1 = 0, 2020Q2 = 21, 2020Q3 = 22, 2021Q2 = 25
    assert len(q) == 26 and q["period_start"].iloc[21] == pd.Timestamp("2020-04-01")
    assert q["active_customers"].tolist() == _by_period(26, {0: 2, 21: 2, 22: 2, 25: 2})
    assert q["new_customers"].tolist() == _by_period(26, {0: 2, 21: 1, 25: 1})
    assert q["retained_customers"].tolist() == _by_period(26, {22: 1})  # B: June and August 2020
    assert q["orders"].tolist() == _by_period(26, {0: 3, 21: 3, 22: 4, 25: 2})
    assert q["revenue"].tolist() == _by_period(26, {0: 42, 21: 15, 22: 20, 25: 53})
    assert q["retention_rate"].iloc[22] == 0.5 and q["retention_rate"].iloc[23] == 0.0
    # the same from the lines themselves, without a shared PurchaseDays
    assert q.equals(period_series(_long_log(), LONG_END, "Q"))
    assert c.equals(cohort_retention(_long_log(), LONG_END))


def _log_by_day(seed: int = 7):
    """A few thousand lines: a new customer every other day for six years (72 months), each buying again now and
    then (some years later; the first ten in 2021-11), amounts in whole cents; nobody buys in 2019-04 to 2019-06
    (a whole quarter) or in 2021-10."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    first = pd.date_range("2016-01-01", "2021-12-31", freq="D")[::2]
    customers = [f"c{i}" for i in range(len(first))]
    again = rng.integers(0, 4, len(first))
    rows = [(c, d, int(rng.integers(1, 20_000))) for c, d in zip(customers, first)]
    later = lambda: int(rng.geometric(1 / 120) if rng.random() < 0.9 else rng.integers(1, 2200))  # noqa: E731
    rows += [(c, d + pd.Timedelta(days=later()), int(rng.integers(1, 20_000)))
             for c, d, n in zip(customers, first, again) for _ in range(n)]
    rows += [(c, pd.Timestamp("2021-11-01") + pd.Timedelta(days=i), 999) for i, c in enumerate(customers[:10])]
    df = pd.DataFrame(rows, columns=["customer_id", "date", "cents"])
    month = df["date"].dt.to_period("M")
    df = df[~month.isin(pd.period_range("2019-04", "2019-06", freq="M")) & (month != pd.Period("2021-10", "M"))]
    return df.assign(amount=df["cents"] / 100), "2021-12-15"


def _series_by_pandas(lines, end, period):
    import pandas as pd

    days = lines[lines["date"] <= end].groupby(["customer_id", "date"], as_index=False)["cents"].sum()
    days["p"] = days["date"].dt.to_period(period)
    periods = pd.period_range(days["p"].min(), pd.Timestamp(end).to_period(period), freq=period)
    pairs = days[["customer_id", "p"]].drop_duplicates()
    retained = pairs.merge(pairs.assign(p=pairs["p"] + 1), on=["customer_id", "p"])
    count = lambda s: s.value_counts().reindex(periods, fill_value=0).to_numpy()  # noqa: E731
    df = pd.DataFrame({"period_start": periods.start_time.astype("datetime64[us]"),
                       "active_customers": count(pairs["p"]),
                       "new_customers": count(pairs.groupby("customer_id")["p"].min()),
                       "retained_customers": count(retained["p"]),
                       "orders": count(days["p"]).astype(float),
                       # the cents are exact, so the revenue is their sum / 100 (one rounding, as in DuckDB)
                       "revenue": days.groupby("p")["cents"].sum().reindex(periods, fill_value=0).to_numpy() / 100})
    previous = df["active_customers"].shift(1)
    df["retention_rate"] = (df["retained_customers"] / previous).where(previous > 0)
    df["churn_rate"] = 1 - df["retention_rate"]
    df["complete"] = periods.end_time.normalize() <= pd.Timestamp(end)
    return df


def _cohorts_by_pandas(lines, end):
    import numpy as np
    import pandas as pd

    months = lines[lines["date"] <= end].assign(m=lambda d: d["date"].dt.to_period("M"))
    months = months[["customer_id", "m"]].drop_duplicates()
    months["cohort"] = months.groupby("customer_id")["m"].transform("min")
    months["since"] = [(m - c).n for m, c in zip(months["m"], months["cohort"])]
    sizes = months.drop_duplicates("customer_id")["cohort"].value_counts()
    table = months.groupby(["cohort", "since"]).size().unstack().div(sizes, axis=0)
    last = pd.Timestamp(end).to_period("M")
    for cohort in table.index:  # months up to the observation end without a buyer: 0
        up_to_end = [since for since in table.columns if since <= (last - cohort).n]
        table.loc[cohort, up_to_end] = table.loc[cohort, up_to_end].fillna(0.0)
    table.index = pd.Index(table.index.strftime("%Y-%m"), dtype=object, name="cohort")
    table.columns = pd.Index(table.columns.to_numpy(dtype=np.int64), name="months since first purchase")
    return table


@pytest.mark.parametrize("period", ["M", "Q"])
def test_series_and_cohorts_equal_a_pandas_computation(period):
    """On a random log with daily arrivals and gaps, exactly (values, dtypes, columns, index) what pandas gives
    from the definitions."""
    import pandas as pd

    from analysis.business.kpis import PurchaseDays

    lines, end = _log_by_day()
    days = PurchaseDays(lines[["customer_id", "date", "amount"]], end)
    series = period_series(days, end, period)
    expected = _series_by_pandas(lines, end, period)
    pd.testing.assert_frame_equal(series, expected, check_exact=True)
    assert series.equals(expected) and len(series) == (72 if period == "M" else 24)
    assert (series["active_customers"] == 0).sum() == (4 if period == "M" else 1)  # the gaps
    cohorts = cohort_retention(days, end)
    pd.testing.assert_frame_equal(cohorts, _cohorts_by_pandas(lines, end), check_exact=True)
    assert len(cohorts) == 72 - 4 and cohorts.columns.max() == 70  # 2016-01 to 2021-11


def test_large_customers_keep_their_revenue_rounding():
    """The revenue of a period sums each customer's period total as a DOUBLE. A's January total, 756,505.6386, comes
    back from its DOUBLE as 756,505.6385999999; with B's -756,505.64 January's revenue is -0.0014000001, as the
    definition gives, not the -0.0014 of the plain sum of the purchase days."""
    import pandas as pd

    from analysis.business.kpis import PurchaseDays

    lines = pd.DataFrame({"customer_id": ["A", "A", "B", "C"],
                          "date": pd.to_datetime(["2020-01-03", "2020-01-04", "2020-01-05", "2020-02-01"]),
                          "amount": [437800.7649, 318704.8737, -756505.64, 12.5]})
    days = PurchaseDays(lines, "2020-02-29")
    con = days.con
    definition = con.execute(
        f"""SELECT CAST(sum(CAST(CAST(total AS DOUBLE) AS DECIMAL(38, 10))) AS DOUBLE)
            FROM (SELECT customer_id, date_trunc('month', day) AS m, sum(amount) AS total
                  FROM {days.table} GROUP BY ALL)
            GROUP BY m ORDER BY m""").fetchall()
    january = con.execute(f"SELECT CAST(sum(amount) AS DOUBLE) FROM {days.table} WHERE day < DATE '2020-02-01'")
    assert january.fetchall()[0][0] == -0.0014  # the plain sum
    series = period_series(days, "2020-02-29", "M")
    assert series["revenue"].tolist() == [row[0] for row in definition] == [-0.0014000001, 12.5]


def test_totals_below_the_large_customer_volume_survive_a_double():
    """What the revenue relies on (see kpis._period_sums_sql), on the installed DuckDB: a DECIMAL(38, 10) below
    LARGE_CUSTOMER_VOLUME comes back unchanged from a DOUBLE, at every magnitude and at the limit; ten times
    larger, some do not."""
    import duckdb

    from analysis.business.kpis import LARGE_CUSTOMER_VOLUME

    units = LARGE_CUSTOMER_VOLUME * 10**10  # in units of 1e-10
    changed = """SELECT count(*) FILTER (WHERE CAST(CAST(x AS DOUBLE) AS DECIMAL(38, 10)) <> x) FROM (
                   SELECT CAST(n AS DECIMAL(38, 0)) * CAST(0.0000000001 AS DECIMAL(38, 10)) AS x FROM (
                     SELECT CAST(trunc((random() * 2 - 1) * pow(10, random() * log10({units}))) AS HUGEINT) AS n
                     FROM range(500000)
                     UNION ALL SELECT {units} - 1 - range FROM range(1000)
                     UNION ALL SELECT range - {units} + 1 FROM range(1000)))"""
    con = duckdb.connect()
    con.execute("SELECT setseed(0.5)")
    assert con.execute(changed.format(units=units)).fetchall()[0][0] == 0
    assert con.execute(changed.format(units=units * 10)).fetchall()[0][0] > 0


def test_a_missing_customer_id_counts_as_before():
    """A missing customer id (a DataFrame may have one; the ingest drops them) is one customer, as the earlier
    queries had it, except where they joined on the id: never retained, and in its cohort's size but not among
    its buyers. By hand: the missing id and A both buy in January and February."""
    import pandas as pd

    lines = pd.DataFrame({"customer_id": [None, None, "A", "A"],
                          "date": pd.to_datetime(["2020-01-03", "2020-02-03", "2020-01-05", "2020-02-01"]),
                          "amount": [1.0, 2.0, 3.0, 4.0]})
    s = period_series(lines, "2020-03-31", "M")
    assert s["active_customers"].tolist() == [2, 2, 0] and s["new_customers"].tolist() == [2, 0, 0]
    assert s["retained_customers"].tolist() == [0, 1, 0]
    assert cohort_retention(lines, "2020-03-31").loc["2020-01"].tolist() == [0.5, 0.5]  # nobody in March


# ---------------------------------------------------------------- the KPI catalogue (#16: one place per KPI)


def test_every_catalogue_kpi_of_kpis_json_is_computed(purchases):
    from analysis.business.kpis import CATALOGUE

    k = headline_kpis(purchases, "2020-02-29", "M", active_window_days=30)
    missing = [kpi.key for kpi in CATALOGUE if kpi.source == "kpis.json" and kpi.key not in k]
    assert not missing, f"in the catalogue but not in kpis.json: {missing}"
    assert len({kpi.key for kpi in CATALOGUE}) == len(CATALOGUE)
    assert {kpi.key for kpi in CATALOGUE if kpi.trend} <= {kpi.key for kpi in CATALOGUE if kpi.compared}


def test_every_page_takes_its_kpis_from_the_catalogue(purchases):
    """The tiles, the comparison with the previous report, the trend and the reports index list the catalogue's
    KPIs in its order; a KPI added to the catalogue appears on all of them."""
    from analysis.business.kpis import CATALOGUE
    from analysis.reporting import fmt, report
    from analysis.runs import history

    k = headline_kpis(purchases, "2020-02-29", "M", active_window_days=30)
    with fmt.using("en", "USD"):
        summary = [t["label"] for t in report.kpi_tiles(k, "USD")]
        data_page = [t["label"] for t in report.kpi_tiles(k, "USD", data_page=True, first_date="2020-01-01",
                                                          last_date="2020-02-29")]
    assert summary == [kpi.label_for("M") for kpi in CATALOGUE if kpi.summary and kpi.source == "kpis.json"]
    assert data_page == [kpi.label_for("M") for kpi in CATALOGUE if kpi.source == "kpis.json"]
    assert [s.key for s in history.KPI_SPECS] == [kpi.key for kpi in CATALOGUE if kpi.compared]
    assert list(history.TREND_COLUMNS[1:]) == [kpi.key for kpi in CATALOGUE if kpi.trend]


@pytest.mark.parametrize("lang", ["nl"])
def test_the_catalogue_is_translated(lang):
    from analysis.business.kpis import CATALOGUE, PERIOD_UNITS
    from analysis.reporting.i18n import translate

    untranslated = []
    for kpi in CATALOGUE:
        texts = {kpi.label.format(period=p) for p in (*PERIOD_UNITS.values(), "period")}
        texts |= ({kpi.definition.format(period=p) for p in PERIOD_UNITS.values()} if "{period}" in kpi.definition
                  else {kpi.definition})  # a sentence template is translated before it is filled in
        untranslated += [text for text in sorted(texts) if translate(text, lang) == text]
    assert not untranslated, untranslated


def test_a_number_kpi_keeps_its_decimals_in_the_comparison():
    """A KPI of unit number (two decimals): 2.31 -> 2.69 is a rise of 0.38, not 'unchanged' (as a count would be
    rounded), and both values are written with two decimals."""
    from analysis.business.kpis import Kpi
    from analysis.reporting import fmt
    from analysis.runs import history

    kpi = Kpi("items_per_order", "Items per order", "number", "Items / orders.", decimals=2)
    with fmt.using("en", "USD"):
        row = history._kpi_row(kpi, 2.31, 2.69, "USD", "en")
    assert (row["direction"], row["good"]) == ("up", True)
    assert "2.69" in row["sentence"] and "2.31" in row["sentence"] and "0.38" in row["sentence"]


def _published_run(root, date, customers, retention, revenue_per_buyer, total, aov):
    import json

    folder = root / date
    (folder / "artifacts").mkdir(parents=True)
    (folder / "index.html").write_text("<html></html>")
    (folder / "manifest.json").write_text(json.dumps({"input": {"path": "shop.csv"},
                                                      "params": {"report": {"currency": "EUR", "language": "en"}}}))
    (folder / "artifacts" / "run.json").write_text(json.dumps({"observation_end": date}))
    (folder / "artifacts" / "kpis.json").write_text(json.dumps({
        "customers": customers, "active_customers": customers // 2, "retention_rate": retention,
        "churn_rate": 1 - retention, "revenue_per_buyer": revenue_per_buyer, "average_order_value": aov}))
    (folder / "artifacts" / "model.json").write_text(json.dumps({"clv": {"total": total}, "final": {"model": "pareto"}}))


def test_the_reports_index_lists_the_catalogues_trend_kpis(tmp_path, monkeypatch):
    """The reports index table: one column per trend KPI of the catalogue, written by unit (by hand, en and EUR);
    a KPI marked trend in the catalogue appears there without touching the page's template."""
    import re

    from analysis.business import kpis
    from analysis.runs import series

    _published_run(tmp_path, "1998-03-31", 23570, 0.368, 52.904, 268096.4, 36.93)
    _published_run(tmp_path, "1998-06-30", 23570, 0.30, 50.5449, 230113.2, 36.99)
    page = series.render_index(tmp_path, series.complete_runs(tmp_path))
    headers = re.findall(r"<th>([^<]*)</th>", page.split('<table class="runs">')[1].split("</thead>")[0])
    assert headers == ["Data up to", "Customers", "Active customers", "Retention rate", "Churn rate",
                       "Revenue per customer per period", "Total expected customer value", "Compared with"]
    newest = page.split('href="1998-06-30/index.html">1998-06-30</a></td>')[1].split("</tr>")[0]
    assert re.findall(r"<td>([^<]*)</td>", newest) == ["23,570", "11,785", "30.0%", "70.0%", "€50.54", "€230,113", "–"]

    extra = kpis.Kpi("average_order_value", "Average order value", "money", "Revenue / purchase days.", decimals=2,
                     trend=True)
    monkeypatch.setattr(kpis, "CATALOGUE", (*kpis.CATALOGUE, extra))
    page = series.render_index(tmp_path, series.complete_runs(tmp_path))
    assert "<th>Average order value</th>" in page and "<td>€36.99</td>" in page
