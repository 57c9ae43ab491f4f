"""Tests for analysis.data.survey on a handmade ten-response survey.

Expected values are worked out by hand in the comments.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.data.survey import (
    ALL_RESPONSES,
    UNKNOWN_CUSTOMER,
    SurveyParams,
    SurveyValidationError,
    csat_scores,
    net_promoter_score,
    nps_group,
    p_alive_by_nps_group,
    read_survey,
    survey_summary,
    unknown_respondents,
)

# Ten responses; 99999 is not a known customer; 00004 answered twice, the
# later answer (2025-01-08, 8) comes first in the file.
SURVEY_CSV = """customer_id,date,nps,csat
00001,2025-01-05,10,5
00002,2025-01-06,9,4
00003,2025-01-07,9,4
00004,2025-01-08,8,3
00005,2025-01-09,7,4
00006,2025-01-10,6,2
00001,2025-01-11,10,5
00008,2025-01-12,0,1
99999,2025-01-13,10,5
00004,2025-01-01,9,
"""
# NPS: promoters (9-10) rows 1,2,3,7,9,10 = 6; passives (7-8) rows 4,5 = 2;
#      detractors (0-6) rows 6,8 = 2 -> 100 * (6 - 2) / 10 = 40
# CSAT: 9 answers (row 10 blank); 4-5 in rows 1,2,3,5,7,9 = 6 -> 6/9 = 66.67 %;
#       mean (5+4+4+3+4+2+5+1+5)/9 = 33/9


@pytest.fixture
def survey_path(tmp_path):
    path = tmp_path / "survey.csv"
    path.write_text(SURVEY_CSV)
    return path


@pytest.fixture
def responses(survey_path):
    return read_survey(survey_path)


@pytest.fixture
def customers():
    # p_alive and value x risk segment of the known customers
    data = {
        "00001": (0.95, "High value, likely to stay"),
        "00002": (0.90, "Medium value, likely to stay"),
        "00003": (0.45, "Medium value, at risk"),
        "00004": (0.50, "Medium value, likely to stay"),
        "00005": (0.60, "Low value, likely to stay"),
        "00006": (0.30, "Low value, at risk"),
        "00007": (0.20, "Medium value, at risk"),
        "00008": (0.10, "Low value, at risk"),
    }
    df = pd.DataFrame.from_dict(data, orient="index", columns=["p_alive", "value_risk_segment"])
    df.index.name = "customer_id"
    order = [
        "High value, likely to stay", "High value, at risk", "Medium value, likely to stay",
        "Medium value, at risk", "Low value, likely to stay", "Low value, at risk",
    ]
    df["value_risk_segment"] = pd.Categorical(df["value_risk_segment"], categories=order, ordered=True)
    return df


def test_read_survey_keeps_ids_as_text(responses):
    assert list(responses.columns) == ["customer_id", "date", "nps", "csat"]
    assert responses["customer_id"].tolist()[:3] == ["00001", "00002", "00003"]
    assert responses["date"].iloc[0] == pd.Timestamp("2025-01-05")
    assert responses["nps"].tolist() == [10, 9, 9, 8, 7, 6, 10, 0, 10, 9]
    assert responses["csat"].isna().tolist() == [False] * 9 + [True]


def test_nps_by_hand(responses):
    assert net_promoter_score(responses["nps"]) == pytest.approx(40.0)
    assert nps_group(pd.Series([9, 8, 7, 6, 0, 10])).tolist() == [
        "Promoter", "Passive", "Passive", "Detractor", "Detractor", "Promoter",
    ]
    # all detractors -> -100; no answers -> NaN
    assert net_promoter_score(pd.Series([0, 6])) == pytest.approx(-100.0)
    assert math.isnan(net_promoter_score(pd.Series([], dtype="Int64")))


def test_csat_by_hand(responses):
    satisfied_pct, mean = csat_scores(responses["csat"])
    assert satisfied_pct == pytest.approx(100 * 6 / 9)
    assert mean == pytest.approx(33 / 9)


def test_overall_summary(responses):
    overall = survey_summary(responses).loc[ALL_RESPONSES]
    assert overall["responses"] == 10
    assert (overall["promoters"], overall["passives"], overall["detractors"]) == (6, 2, 2)
    assert overall["nps"] == pytest.approx(40.0)
    assert overall["csat_responses"] == 9
    assert overall["csat_satisfied_pct"] == pytest.approx(66.6667, abs=1e-3)


def test_summary_per_segment_counts_unknown_customers(responses, customers):
    out = survey_summary(responses, customers, "value_risk_segment")
    # rows in category order, only segments with answers, then the unknown row
    assert out.index.tolist() == [
        ALL_RESPONSES,
        "High value, likely to stay",  # 00001 x2: 10, 10 -> NPS 100
        "Medium value, likely to stay",  # 00002 (9), 00004 (8, 9) -> 2 promoters, 1 passive -> 66.7
        "Medium value, at risk",  # 00003 (9) -> 100
        "Low value, likely to stay",  # 00005 (7) -> 0
        "Low value, at risk",  # 00006 (6), 00008 (0) -> -100
        UNKNOWN_CUSTOMER,  # 99999 (10) -> 100
    ]
    assert out["responses"].tolist() == [10, 2, 3, 1, 1, 2, 1]
    assert out["responses"].iloc[1:].sum() == 10  # nothing dropped
    assert out["nps"].tolist() == pytest.approx([40.0, 100.0, 200 / 3, 100.0, 0.0, -100.0, 100.0])
    # Medium value, likely to stay CSAT: 4, 3 and a blank -> 2 answers, 1 satisfied, mean 3.5
    mid = out.loc["Medium value, likely to stay"]
    assert (mid["csat_responses"], mid["csat_satisfied_pct"], mid["csat_mean"]) == (2, 50.0, 3.5)
    unknown = unknown_respondents(responses, customers)
    assert unknown["customer_id"].tolist() == ["99999"]


def test_p_alive_by_nps_group(responses, customers):
    out = p_alive_by_nps_group(responses, customers)
    assert out.index.tolist() == ["Promoter", "Passive", "Detractor", UNKNOWN_CUSTOMER]
    # latest answer per customer: 00001 P, 00002 P, 00003 P, 00004 Passive (01-08 beats
    # 01-01), 00005 Passive, 00006 D, 00008 D
    assert out["customers"].tolist() == [3, 2, 2, 1]
    # known answers per group: P rows 1,2,3,7,10 = 5; Passive 4,5 = 2; D 6,8 = 2; unknown 1
    assert out["responses"].tolist() == [5, 2, 2, 1]
    assert out.loc["Promoter", "avg_p_alive"] == pytest.approx((0.95 + 0.90 + 0.45) / 3)
    assert out.loc["Passive", "avg_p_alive"] == pytest.approx((0.50 + 0.60) / 2)
    assert out.loc["Detractor", "avg_p_alive"] == pytest.approx((0.30 + 0.10) / 2)
    assert math.isnan(out.loc[UNKNOWN_CUSTOMER, "avg_p_alive"])


def test_bad_scores_give_a_clear_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "customer_id,date,nps\n"
        "1,2025-01-01,9\n2,2025-01-01,11\n3,2025-01-01,abc\n4,2025-01-01,-1\n"
        "5,2025-01-01,8.5\n6,2025-01-01,10\n7,2025-01-01,\n"
    )
    with pytest.raises(SurveyValidationError) as err:
        read_survey(path, SurveyParams(csat_column=None))
    e = err.value
    assert isinstance(e, ValueError)
    assert (e.column, e.n_rows) == ("nps", 4)  # 11, abc, -1, 8.5; the blank is a non-answer
    message = str(e)
    assert str(path) in message and "'nps'" in message and "4 rows" in message
    for value in ("'11'", "'abc'", "'-1'", "'8.5'"):
        assert value in message


def test_at_most_five_examples_and_csat_range(tmp_path):
    path = tmp_path / "bad_csat.csv"
    rows = "".join(f"{i},2025-01-01,{v}\n" for i, v in enumerate(["0", "6", "7", "8", "9", "x", "3"]))
    path.write_text("id,day,satisfaction\n" + rows)
    params = SurveyParams(customer_id_column="id", date_column="day", nps_column=None,
                          csat_column="satisfaction")
    with pytest.raises(SurveyValidationError) as err:
        read_survey(path, params)
    # six bad values (0, 6, 7, 8, 9, x); five shown
    assert err.value.n_rows == 6
    assert err.value.examples == ["'0'", "'6'", "'7'", "'8'", "'9'"]
    assert "satisfaction" in str(err.value) and "1 to 5" in str(err.value)


def test_missing_column_blank_id_and_bad_date(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("customer_id,date,nps\n1,2025-01-01,9\n")
    with pytest.raises(SurveyValidationError, match="'csat': column missing"):
        read_survey(path)
    path.write_text("customer_id,date,nps\n,2025-01-01,9\n")
    with pytest.raises(SurveyValidationError, match="customer id is blank"):
        read_survey(path, SurveyParams(csat_column=None))
    path.write_text("customer_id,date,nps\n1,not a date,9\n")
    with pytest.raises(SurveyValidationError, match="'date': dates cannot be parsed"):
        read_survey(path, SurveyParams(csat_column=None))
    with pytest.raises(ValueError, match="unsupported"):
        read_survey(tmp_path / "s.xlsx")


def test_parquet(tmp_path):
    path = tmp_path / "s.parquet"
    pd.DataFrame(
        {"cid": ["00042", "00043"], "date": pd.to_datetime(["2025-01-01", "2025-01-02"]),
         "nps": [9, 3], "csat": [5.0, None]}
    ).to_parquet(path)
    out = read_survey(path, SurveyParams(customer_id_column="cid"))
    assert out["customer_id"].tolist() == ["00042", "00043"]
    assert out["nps"].tolist() == [9, 3]
    # one promoter, one detractor -> 0
    assert net_promoter_score(out["nps"]) == pytest.approx(0.0)
    numeric = tmp_path / "n.parquet"
    pd.DataFrame({"customer_id": [42], "nps": [9]}).to_parquet(numeric)
    with pytest.raises(SurveyValidationError, match="stored as text"):
        read_survey(numeric, SurveyParams(date_column=None, csat_column=None))
