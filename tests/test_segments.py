"""Tests for analysis.business.segments on tiny handmade customers.

Every expected value below is worked out by hand in the comments; none is
copied from the code's output.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from analysis.business.segments import (  # noqa: E402
    DEFAULT_VALUE_RISK_ACTIONS,
    RFM_SEGMENT_GRID,
    RFM_SEGMENTS,
    SEGMENTATIONS,
    VALUE_RISK_SEGMENTS,
    SegmentParams,
    abc_classes,
    assign_segments,
    at_risk_high_value,
    clv_tier_labels,
    clv_tiers,
    p_alive_bands,
    plot_rfm_segment_sizes,
    plot_value_risk_heatmap,
    plot_value_vs_customer_share,
    rank_scores,
    rfm_segment_names,
    segment_profiles,
)

END = pd.Timestamp("2024-12-31")

# Ten handmade customers (ids keep leading zeros).
#
# id     days  n_purch revenue  clv  p_alive exp_purch
ROWS = [
    ("00001", 5, 20, 4500, 900, 0.95, 4.0),
    ("00002", 10, 1, 100, 300, 0.90, 2.0),
    ("00003", 20, 10, 1500, 400, 0.45, 1.0),
    ("00004", 40, 6, 800, 300, 0.50, 1.5),
    ("00005", 60, 6, 1000, 300, 0.60, 1.0),
    ("00006", 90, 1, 150, 40, 0.30, 0.2),
    ("00007", 120, 15, 1600, 500, 0.20, 0.5),
    ("00008", 200, 4, 300, 120, 0.10, 0.1),
    ("00009", 300, 1, 0, 20, 0.05, 0.0),
    ("00010", 300, 2, 50, 120, 0.70, 0.5),
]
# Totals: revenue 10,000; clv 3,000.


def make_customers(rows=ROWS) -> pd.DataFrame:
    ids, days, n, revenue, clv, p_alive, expected = zip(*rows)
    df = pd.DataFrame(
        {
            "days_since_last": np.array(days, dtype="int64"),
            "n_purchases": n,
            "revenue": np.array(revenue, dtype=float),
            "clv": np.array(clv, dtype=float),
            "p_alive": p_alive,
            "expected_purchases": expected,
        },
        index=pd.Index(ids, name="customer_id", dtype=object),
    )
    df["last_purchase"] = END - pd.to_timedelta(df["days_since_last"], unit="D")
    df["first_purchase"] = pd.Timestamp("2023-01-01")
    return df


@pytest.fixture
def customers() -> pd.DataFrame:
    return make_customers()


@pytest.fixture
def segmented(customers) -> pd.DataFrame:
    return assign_segments(customers, SegmentParams(), END)


# --------------------------------------------------------------------------
# rank_scores: score = ceil(5 * (r - 0.5) / n), r = average rank
# --------------------------------------------------------------------------


def test_rank_scores_five_distinct_values_are_quintiles():
    # ranks 1..5 -> (r - .5)/5 = .1 .3 .5 .7 .9 -> x5 = .5 1.5 2.5 3.5 4.5 -> ceil 1..5
    s = pd.Series([10, 20, 30, 40, 50], index=list("abcde"))
    assert rank_scores(s).tolist() == [1, 2, 3, 4, 5]


def test_rank_scores_ten_values_two_per_score():
    # (2r - 1)/4 for r = 1..10: .25 .75 1.25 1.75 2.25 2.75 3.25 3.75 4.25 4.75
    s = pd.Series(range(1, 11), index=[f"c{i:02d}" for i in range(10)])
    assert rank_scores(s).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_rank_scores_ties_and_exact_boundary_lower_is_better():
    # days 10, 20, 20, 40, 100 (fewer is better): ranks on -days are 5, 3.5, 3.5, 2, 1
    # 5*(r-.5)/5 = r - .5: 4.5 -> 5; 3.0 exactly -> 3 (boundary takes the lower score);
    # 1.5 -> 2; 0.5 -> 1
    s = pd.Series([10, 20, 20, 40, 100], index=list("abcde"))
    assert rank_scores(s, higher_is_better=False).tolist() == [5, 3, 3, 2, 1]


def test_rank_scores_single_customer_and_all_equal_get_middle_score():
    # n = 1: r = 1 -> 5 * .5 / 1 = 2.5 -> 3
    assert rank_scores(pd.Series([7.0], index=["00042"])).tolist() == [3]
    # four equal values: r = 2.5 each -> 5 * 2 / 4 = 2.5 -> 3
    assert rank_scores(pd.Series([1, 1, 1, 1], index=list("abcd"))).tolist() == [3, 3, 3, 3]


def test_rank_scores_two_customers_and_other_bins():
    # n = 2: 5 * .5/2 = 1.25 -> 2; 5 * 1.5/2 = 3.75 -> 4
    assert rank_scores(pd.Series([1, 2], index=["a", "b"])).tolist() == [2, 4]
    # bins = 3, n = 3: 3 * (r - .5)/3 = .5, 1.5, 2.5 -> 1, 2, 3
    assert rank_scores(pd.Series([5, 1, 3], index=list("abc")), bins=3).tolist() == [3, 1, 2]


def test_rank_scores_keeps_index_and_rejects_missing():
    s = pd.Series([3.0, 1.0], index=pd.Index(["00002", "00001"], name="customer_id"))
    out = rank_scores(s)
    assert out.index.equals(s.index)
    with pytest.raises(ValueError, match="missing"):
        rank_scores(pd.Series([1.0, np.nan], index=["a", "b"]))


# --------------------------------------------------------------------------
# Named RFM segments
# --------------------------------------------------------------------------


def test_rfm_grid_covers_every_cell_with_known_names():
    assert sorted(RFM_SEGMENT_GRID) == [1, 2, 3, 4, 5]
    names = {name for row in RFM_SEGMENT_GRID.values() for name in row}
    assert names == set(RFM_SEGMENTS)  # all 11 named segments used, nothing else


def test_rfm_segment_names_floor_of_fm_average():
    idx = list("abcde")
    r = pd.Series([5, 5, 1, 2, 3], index=idx)
    f = pd.Series([1, 4, 5, 1, 3], index=idx)
    m = pd.Series([2, 5, 4, 2, 3], index=idx)
    # a: FM = floor(1.5) = 1, R5 -> New;   b: floor(4.5) = 4, R5 -> Champions
    # c: floor(4.5) = 4, R1 -> At risk;    d: floor(1.5) = 1, R2 -> Hibernating
    # e: FM 3, R3 -> Need attention
    out = rfm_segment_names(r, f, m)
    assert out.astype(str).tolist() == ["New", "Champions", "At risk", "Hibernating", "Need attention"]


def test_rfm_scores_and_segments_on_handmade_customers(segmented):
    # R (days, fewer better; 00009/00010 tie at 300 days, ranks 1,2 -> 1.5 -> 5*1/10=.5 -> 1):
    #   ranks on -days: 00001 10, 00002 9, 00003 8, 00004 7, 00005 6, 00006 5, 00007 4,
    #   00008 3 -> scores ceil((2r-1)/4): 5 5 4 4 3 3 2 2, then 1 1
    # F (n_purchases): 1 x3 (00002, 00006, 00009) ranks 1-3 avg 2 -> ceil(3/4)=1;
    #   2 (00010) r4 -> ceil(7/4)=2; 4 (00008) r5 -> ceil(9/4)=3;
    #   6 x2 (00004, 00005) r6,7 avg 6.5 -> 12/4 = 3 exactly -> 3;
    #   10 (00003) r8 -> 4; 15 (00007) r9 -> 5; 20 (00001) r10 -> 5
    # M (revenue): 0 r1 ->1, 50 r2 ->1, 100 r3 ->2, 150 r4 ->2, 300 r5 ->3, 800 r6 ->3,
    #   1000 r7 ->4, 1500 r8 ->4, 1600 r9 ->5, 4500 r10 ->5
    expected = {
        #        R  F  M  FM=floor((F+M)/2) -> segment
        "00001": (5, 5, 5, "Champions"),  # FM 5
        "00002": (5, 1, 2, "New"),  # FM 1
        "00003": (4, 4, 4, "Loyal"),  # FM 4
        "00004": (4, 3, 3, "Potential loyalists"),  # FM 3
        "00005": (3, 3, 4, "Need attention"),  # FM 3
        "00006": (3, 1, 2, "About to sleep"),  # FM 1
        "00007": (2, 5, 5, "Can't lose them"),  # FM 5
        "00008": (2, 3, 3, "At risk"),  # FM 3
        "00009": (1, 1, 1, "Lost"),  # FM 1
        "00010": (1, 2, 1, "Lost"),  # FM 1
    }
    for cid, (r, f, m, name) in expected.items():
        row = segmented.loc[cid]
        assert (row["rfm_r"], row["rfm_f"], row["rfm_m"]) == (r, f, m), cid
        assert row["rfm_segment"] == name, cid


def test_rfm_bins_other_than_five_keeps_quintile_segments(customers):
    out = assign_segments(customers, SegmentParams(rfm_bins=2), END)
    # 2 bins, n = 10: score = ceil(2 * (r - .5) / 10): ranks 1..5 -> 1, ranks 6..10 -> 2
    # R ranks: 00001..00005 have ranks 10..6 -> 2; the rest -> 1
    assert out["rfm_r"].tolist() == [2, 2, 2, 2, 2, 1, 1, 1, 1, 1]
    assert out.loc["00007", "rfm_segment"] == "Can't lose them"  # grid still on 1-5 scores


# --------------------------------------------------------------------------
# ABC
# --------------------------------------------------------------------------


def test_abc_exact_thresholds_go_to_the_next_class():
    # 80, 15, 5 of 100: before = 0, .80, .95 -> A, B, C
    rev = pd.Series([80.0, 15.0, 5.0], index=["x", "y", "z"])
    assert abc_classes(rev).astype(str).tolist() == ["A", "B", "C"]


def test_abc_customer_crossing_the_line_stays_in_the_class():
    # 90, 10: the first crosses 80 % on its own -> A; the second has .90 before -> B
    rev = pd.Series([10.0, 90.0], index=["s", "t"])
    assert abc_classes(rev).astype(str).tolist() == ["B", "A"]
    # 70, 25, 5: before = 0, .70 (< .80 -> A), .95 -> C
    rev = pd.Series([70.0, 25.0, 5.0], index=["a", "b", "c"])
    assert abc_classes(rev).astype(str).tolist() == ["A", "A", "C"]


def test_abc_equal_revenue_split_by_customer_id():
    # 70 (d), then three 10s sorted by id a, b, c: before .70 -> A (a), .80 -> B (b), .90 -> B (c)
    rev = pd.Series([10.0, 10.0, 10.0, 70.0], index=["c", "a", "b", "d"])
    assert abc_classes(rev).to_dict() == {"c": "B", "a": "A", "b": "B", "d": "A"}


def test_abc_zero_revenue_and_tiny_data():
    assert abc_classes(pd.Series([5.0], index=["00042"])).tolist() == ["A"]
    assert abc_classes(pd.Series([0.0], index=["00042"])).tolist() == ["C"]
    assert abc_classes(pd.Series([0.0, 0.0], index=["a", "b"])).tolist() == ["C", "C"]
    # negative revenue (net returns) is C; shares over positive revenue 100: before 0 -> A
    assert abc_classes(pd.Series([-5.0, 100.0], index=["a", "b"])).tolist() == ["C", "A"]


def test_abc_on_handmade_customers(segmented):
    # revenue sorted: 4500 (00001), 1600 (00007), 1500 (00003), 1000 (00005), 800 (00004),
    # 300 (00008), 150 (00006), 100 (00002), 50 (00010), 0 (00009); total 10,000
    # before: 0, .45, .61, .76 -> A (00005 crosses .80); .86, .94 -> B; .97, .985, .995 -> C;
    # 00009 has no revenue -> C
    expected = {
        "00001": "A", "00007": "A", "00003": "A", "00005": "A",
        "00004": "B", "00008": "B",
        "00006": "C", "00002": "C", "00010": "C", "00009": "C",
    }
    assert segmented["abc_class"].astype(str).to_dict() == expected


# --------------------------------------------------------------------------
# CLV tiers, P(alive) bands, value x risk
# --------------------------------------------------------------------------


def test_clv_tier_labels():
    assert clv_tier_labels() == ("Top 10%", "Next 40%", "Bottom 50%")
    assert clv_tier_labels(0.2, 0.3) == ("Top 20%", "Next 30%", "Bottom 50%")


def test_clv_tiers_counts_and_ties():
    # n = 15: ceil(1.5) = 2 top, ceil(7.5) = 8 -> 6 next, 7 bottom
    clv = pd.Series(np.arange(15, 0, -1, dtype=float), index=[f"c{i:02d}" for i in range(15)])
    tiers = clv_tiers(clv).astype(str)
    assert tiers.value_counts().to_dict() == {"Bottom 50%": 7, "Next 40%": 6, "Top 10%": 2}
    # ties at the top boundary: n = 4 -> 1 top (ceil .4), ceil(2.0) = 2 upper; all equal,
    # so by id: a top, b next, c and d bottom
    tie = pd.Series([1.0, 1.0, 1.0, 1.0], index=["d", "b", "c", "a"])
    assert clv_tiers(tie).astype(str).to_dict() == {
        "d": "Bottom 50%", "b": "Next 40%", "c": "Bottom 50%", "a": "Top 10%",
    }


def test_clv_tier_of_single_customer():
    # ceil(1 * .1) = 1 -> the only customer is in the top tier
    assert clv_tiers(pd.Series([3.0], index=["00042"])).astype(str).tolist() == ["Top 10%"]


def test_p_alive_band_threshold_is_strict():
    p = pd.Series([0.49, 0.5, 0.51], index=list("abc"))
    assert p_alive_bands(p).astype(str).tolist() == ["at risk", "likely to stay", "likely to stay"]


def test_value_risk_on_handmade_customers(segmented):
    # clv sorted desc, ties by id: 900 (00001) | 500 (00007), 400 (00003), 300 (00002),
    # 300 (00004) | 300 (00005), 120 (00008), 120 (00010), 40 (00006), 20 (00009)
    # n = 10: 1 top, positions 1-4 next, 5-9 bottom (the 300 tie is split by id)
    tiers = {
        "00001": "Top 10%",
        "00007": "Next 40%", "00003": "Next 40%", "00002": "Next 40%", "00004": "Next 40%",
        "00005": "Bottom 50%", "00008": "Bottom 50%", "00010": "Bottom 50%",
        "00006": "Bottom 50%", "00009": "Bottom 50%",
    }
    assert segmented["clv_tier"].astype(str).to_dict() == tiers
    # p_alive < .5 -> at risk (00004 has exactly .5 -> active)
    expected = {
        "00001": "High value, likely to stay",
        "00002": "Medium value, likely to stay",
        "00003": "Medium value, at risk",
        "00004": "Medium value, likely to stay",
        "00005": "Low value, likely to stay",
        "00006": "Low value, at risk",
        "00007": "Medium value, at risk",
        "00008": "Low value, at risk",
        "00009": "Low value, at risk",
        "00010": "Low value, likely to stay",
    }
    assert segmented["value_risk_segment"].astype(str).to_dict() == expected
    assert segmented.loc["00001", "value_risk_action"] == "Reward"
    assert segmented.loc["00006", "value_risk_action"] == "Let go"


def test_at_risk_high_value_list(customers):
    params = SegmentParams(clv_top_share=0.3, clv_next_share=0.4)
    # top 30 % = ceil(3) = 3 customers: 00001 (900, p .95), 00007 (500, p .20),
    # 00003 (400, p .45); at risk (< .5): 00007 and 00003, by clv desc
    out = at_risk_high_value(assign_segments(customers, params, END))
    assert out.index.tolist() == ["00007", "00003"]
    assert out.index.name == "customer_id"
    assert list(out.columns) == ["clv", "p_alive", "last_purchase", "expected_purchases"]
    assert out["clv"].tolist() == [500.0, 400.0]
    assert out.loc["00007", "last_purchase"] == pd.Timestamp("2024-09-02")  # 120 days before
    # computed on the fly from the raw table gives the same list
    assert at_risk_high_value(customers, params).index.tolist() == ["00007", "00003"]
    # with default tiers the one top customer is active -> empty list
    assert at_risk_high_value(customers).empty


# --------------------------------------------------------------------------
# Whole table: one segment per customer, tiny data, input checks
# --------------------------------------------------------------------------


def test_every_customer_in_exactly_one_segment(segmented, customers):
    assert segmented.index.equals(customers.index)
    for col in SEGMENTATIONS:
        assert segmented[col].notna().all(), col
        assert set(segmented[col].astype(str)) <= set(segmented[col].cat.categories), col
    assert set(segmented["value_risk_segment"].cat.categories) == set(VALUE_RISK_SEGMENTS)


def test_single_customer():
    one = make_customers([("00042", 3, 2, 50.0, 10.0, 0.8, 1.0)])
    out = assign_segments(one, SegmentParams(), END)
    row = out.loc["00042"]
    # R = F = M = 3 (middle score) -> FM 3, R 3 -> Need attention; only revenue -> A;
    # ceil(.1) = 1 -> top tier; p .8 -> active
    assert (row["rfm_r"], row["rfm_f"], row["rfm_m"]) == (3, 3, 3)
    assert row["rfm_segment"] == "Need attention"
    assert row["abc_class"] == "A"
    assert row["clv_tier"] == "Top 10%"
    assert row["value_risk_segment"] == "High value, likely to stay"


def test_all_customers_equal():
    same = make_customers([(cid, 10, 2, 100.0, 50.0, 0.6, 1.0) for cid in ("c", "a", "b")])
    out = assign_segments(same, SegmentParams(), END)
    # ranks 2 each -> 5 * 1.5 / 3 = 2.5 -> 3 for R, F, M -> Need attention
    assert set(out["rfm_segment"].astype(str)) == {"Need attention"}
    # revenue 100 each; by id a (0 before), b (1/3), c (2/3) -> all A
    assert out["abc_class"].astype(str).tolist() == ["A", "A", "A"]
    # n = 3: top ceil(.3) = 1 (a), upper ceil(1.5) = 2 (b), c bottom
    assert out["clv_tier"].astype(str).to_dict() == {"a": "Top 10%", "b": "Next 40%", "c": "Bottom 50%"}


def test_input_checks(customers):
    with pytest.raises(ValueError, match="days_since_last disagrees"):
        assign_segments(customers, SegmentParams(), END + pd.Timedelta(days=1))
    with pytest.raises(ValueError, match="after observation_end"):
        assign_segments(customers.drop(columns="days_since_last"), SegmentParams(), "2024-12-01")
    with pytest.raises(ValueError, match="Required column clv missing"):
        assign_segments(customers.drop(columns="clv"), SegmentParams(), END)
    numeric = customers.reset_index(drop=True)
    numeric.index.name = "customer_id"
    with pytest.raises(ValueError, match="must be text"):
        assign_segments(numeric, SegmentParams(), END)
    gap = customers.copy()
    gap.loc["00003", "p_alive"] = np.nan
    with pytest.raises(ValueError, match="p_alive has 1 missing values, at row 3 of 10") as caught:
        assign_segments(gap, SegmentParams(), END)
    assert "00003" not in str(caught.value)  # where, not who: no customer ids in a message


def test_order_of_rows_does_not_matter(customers):
    a = assign_segments(customers, SegmentParams(), END)
    b = assign_segments(customers.iloc[::-1], SegmentParams(), END).loc[a.index]
    pd.testing.assert_frame_equal(a, b)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 400),
            st.integers(1, 30),
            st.sampled_from([0.0, 10.0, 25.5, 100.0, 1000.0]),
            st.sampled_from([0.0, 5.0, 50.0, 500.0]),
            st.sampled_from([0.0, 0.25, 0.5, 0.99]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_random_tables_one_segment_each_and_shares_sum_to_one(rows):
    data = make_customers(
        [(f"{i:05d}", d, n, rev, clv, p, 1.0) for i, (d, n, rev, clv, p) in enumerate(rows)]
    )
    out = assign_segments(data, SegmentParams(), END)
    for col in SEGMENTATIONS:
        assert out[col].notna().all()
    assert out[["rfm_r", "rfm_f", "rfm_m"]].isin([1, 2, 3, 4, 5]).all().all()
    prof = segment_profiles(out)
    sums = prof.groupby("segmentation")[["customers", "customer_share"]].sum()
    assert (sums["customers"] == len(data)).all()
    assert np.allclose(sums["customer_share"], 1.0)


# --------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------


def test_profiles_abc_by_hand(segmented):
    prof = segment_profiles(segmented)
    abc = prof[prof["segmentation"] == "abc_class"].set_index("segment")
    assert abc.index.tolist() == ["A", "B", "C"]
    # A: 00001, 00007, 00003, 00005
    a = abc.loc["A"]
    assert a["customers"] == 4
    assert a["customer_share"] == pytest.approx(0.4)
    assert a["revenue"] == pytest.approx(4500 + 1600 + 1500 + 1000)  # 8,600
    assert a["revenue_share"] == pytest.approx(0.86)
    assert a["expected_value"] == pytest.approx(900 + 500 + 400 + 300)  # 2,100
    assert a["expected_value_share"] == pytest.approx(0.70)
    assert a["avg_clv"] == pytest.approx(525.0)
    assert a["avg_p_alive"] == pytest.approx((0.95 + 0.20 + 0.45 + 0.60) / 4)  # .55
    assert a["avg_expected_purchases"] == pytest.approx((4.0 + 0.5 + 1.0 + 1.0) / 4)
    assert a["avg_order_value"] == pytest.approx(8600 / (20 + 15 + 10 + 6))
    assert a["avg_days_since_last"] == pytest.approx((5 + 120 + 20 + 60) / 4)
    # B: 00004, 00008 -> revenue 1,100, clv 420; C: 00006, 00002, 00010, 00009 -> 300, 480
    assert abc.loc["B", "revenue"] == pytest.approx(1100)
    assert abc.loc["C", "revenue"] == pytest.approx(300)
    assert abc.loc["B", "expected_value"] == pytest.approx(420)
    assert abc.loc["C", "expected_value"] == pytest.approx(480)


def test_profiles_abc_revenue_adds_up_to_total(segmented):
    prof = segment_profiles(segmented)
    for name, rows in prof.groupby("segmentation"):
        assert rows["revenue"].sum() == pytest.approx(10_000), name
        assert rows["expected_value"].sum() == pytest.approx(3_000), name
        for share in ("customer_share", "revenue_share", "expected_value_share"):
            assert rows[share].sum() == pytest.approx(1.0), (name, share)
    assert set(prof["segmentation"]) == set(SEGMENTATIONS)
    assert "serving_cost" not in prof


def test_profiles_with_cost_to_serve(segmented):
    cost = {
        "High value, likely to stay": 120.0,
        "High value, at risk": 60.0,
        "Medium value, likely to stay": 24.0,
        "Medium value, at risk": 12.0,
        "Low value, likely to stay": 6.0,
        "Low value, at risk": 0.0,
    }
    before = segmented.copy()
    prof = segment_profiles(segmented, cost_to_serve=cost, horizon_months=6)
    pd.testing.assert_frame_equal(segmented, before)  # the serving cost is not added to the caller's table
    vr = prof[prof["segmentation"] == "value_risk_segment"].set_index("segment")
    # six months = half a year of cost per customer
    # High active: 00001 -> 60; profit 900 - 60
    assert vr.loc["High value, likely to stay", "serving_cost"] == pytest.approx(60)
    assert vr.loc["High value, likely to stay", "expected_profit"] == pytest.approx(840)
    # Medium active: 00002, 00004 -> 2 * 12 = 24; clv 600 -> 576
    assert vr.loc["Medium value, likely to stay", "serving_cost"] == pytest.approx(24)
    assert vr.loc["Medium value, likely to stay", "expected_profit"] == pytest.approx(576)
    # Medium at risk: 00003, 00007 -> 2 * 6 = 12; clv 900 -> 888
    assert vr.loc["Medium value, at risk", "expected_profit"] == pytest.approx(888)
    assert "High value, at risk" not in vr.index  # empty segments are left out
    # costs follow the customers into the other segmentations:
    # A = 00001 (60) + 00007 (6) + 00003 (6) + 00005 (3) = 75
    abc = prof[prof["segmentation"] == "abc_class"].set_index("segment")
    assert abc.loc["A", "serving_cost"] == pytest.approx(75)
    assert abc.loc["A", "expected_profit"] == pytest.approx(2100 - 75)
    with pytest.raises(ValueError, match="horizon_months"):
        segment_profiles(segmented, cost_to_serve=cost)
    with pytest.raises(ValueError, match="no cost"):
        segment_profiles(segmented, cost_to_serve={"High value, likely to stay": 1.0}, horizon_months=12)


# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------


def test_params_defaults_and_validation():
    p = SegmentParams()
    assert (p.rfm_bins, p.abc_a_share, p.abc_b_share) == (5, 0.80, 0.95)
    assert (p.clv_top_share, p.clv_next_share, p.p_alive_at_risk_below) == (0.10, 0.40, 0.5)
    assert p.value_risk_actions == DEFAULT_VALUE_RISK_ACTIONS
    assert p.cost_to_serve is None and p.survey is None
    with pytest.raises(ValidationError):
        SegmentParams(rfm_bin=5)  # typo: unknown key
    with pytest.raises(ValidationError, match="abc_a_share"):
        SegmentParams(abc_a_share=0.9, abc_b_share=0.8)
    with pytest.raises(ValidationError, match="bottom tier"):
        SegmentParams(clv_top_share=0.5, clv_next_share=0.5)
    with pytest.raises(ValidationError, match="missing"):
        SegmentParams(cost_to_serve={"High value, likely to stay": 10.0})
    with pytest.raises(ValidationError, match="unknown"):
        SegmentParams(value_risk_actions={**DEFAULT_VALUE_RISK_ACTIONS, "VIP": "x"})
    nested = SegmentParams.model_validate({"survey": {"path": "s.csv", "csat_column": None}})
    assert nested.survey.nps_column == "nps" and nested.survey.csat_column is None


# --------------------------------------------------------------------------
# Charts
# --------------------------------------------------------------------------


def test_plots_return_axes_with_labels(segmented):
    prof = segment_profiles(segmented)
    for ax in (
        plot_value_vs_customer_share(prof),
        plot_value_risk_heatmap(segmented),
        plot_rfm_segment_sizes(segmented),
    ):
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    texts = [t.get_text() for t in ax.texts]  # RFM sizes: Lost has 2 customers
    assert " 2" in texts
    fig, ax = plt.subplots()
    assert plot_value_risk_heatmap(segmented, currency="$", ax=ax) is ax
    cells = {t.get_text() for t in ax.texts}
    # High value, likely to stay: 00001 (900); Low value, at risk: 00006, 00008, 00009 = 180
    assert "1 customer\n$900" in cells
    assert "3 customers\n$180" in cells
    plt.close("all")


# --------------------------------------------------------------------------
# The registry: adding a segmentation is one entry (#16)
# --------------------------------------------------------------------------


def test_the_registry_is_what_the_customer_table_and_the_run_folder_hold(segmented, customers):
    from analysis.business.segments import REGISTRY, SEGMENT_TABLE_COLUMNS
    from analysis.runs import runfolder

    assert list(segmented.columns) == [*customers.columns, *SEGMENT_TABLE_COLUMNS]
    assert runfolder.CUSTOMER_COLUMNS == runfolder.SCORE_COLUMNS + SEGMENT_TABLE_COLUMNS, (
        "runfolder.CUSTOMER_COLUMNS must list the columns of segments.REGISTRY")
    assert SEGMENTATIONS == tuple(s.column for s in REGISTRY)
    assert all(s.column in SEGMENT_TABLE_COLUMNS for s in REGISTRY)


def test_a_new_registry_entry_reaches_the_table_the_profiles_and_the_contact_lists(customers, monkeypatch):
    """A segmentation by order size, added as one entry: by hand, customers with an average order (revenue /
    purchases) of 50 or more are 'Large orders', the others 'Small orders'."""
    from analysis.business import roi, segments

    def order_size(table, params, observation_end):
        average = table["revenue"] / table["n_purchases"]
        labels = pd.Categorical(["Large orders" if a >= 50 else "Small orders" for a in average],
                                categories=["Large orders", "Small orders"], ordered=True)
        return pd.DataFrame({"order_size": labels}, index=table.index)

    entry = segments.Segmentation("order_size", "order size", ("order_size",), order_size)
    monkeypatch.setattr(segments, "REGISTRY", (*segments.REGISTRY, entry))
    table = segments.assign_segments(customers, SegmentParams(), END)
    average = customers["revenue"] / customers["n_purchases"]
    expected = ["Large orders" if a >= 50 else "Small orders" for a in average]
    assert table["order_size"].astype(str).tolist() == expected
    profiles = segments.segment_profiles(table)
    sizes = profiles[profiles["segmentation"] == "order_size"].set_index("segment")["customers"]
    assert sizes.to_dict() == {s: expected.count(s) for s in dict.fromkeys(sorted(expected))}
    assert roi.contact_list_segments()[-1] == "order_size"


def test_assign_segments_leaves_its_input_alone(customers):
    """assign_segments shares the input's columns instead of copying them (#13): the input table keeps its
    columns and values, also when it already has segment columns that are set again."""
    before = customers.copy()
    assign_segments(customers, SegmentParams(), END)
    pd.testing.assert_frame_equal(customers, before)
    with_old = customers.assign(rfm_segment="stale", clv_tier="stale")
    kept = with_old.copy()
    out = assign_segments(with_old, SegmentParams(), END)
    pd.testing.assert_frame_equal(with_old, kept)
    assert (out["clv_tier"] != "stale").all() and (out["rfm_segment"] != "stale").all()
