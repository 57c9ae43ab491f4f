"""Tests for analysis.business.roi.

Every expected value below is worked out by hand from the tiny table in
``customers()``; the arithmetic is written out next to the assertion.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from analysis.business import roi


# Hand-worked table, gross_margin = 0.5, uplift = 0.2, cost_per_contact = 2, incentive = 10
#
# id    p_alive  exp_purch  avg   value_if_retained          p_lost  retained=0.2*p_lost
# C001  0.5      2.0        100   2.0/0.5*100*0.5 = 200      0.5     0.10
# C002  0.8      4.0        50    4.0/0.8*50*0.5  = 125      0.2     0.04
# C003  0.1      0.1        80    0.1/0.1*80*0.5  = 40       0.9     0.18
# C004  0.9      0.9        20    0.9/0.9*20*0.5  = 10       0.1     0.02
#
# id    incr. margin        cost = 2 + retained*10   profit
# C001  0.10*200 = 20.0     2 + 1.0 = 3.0            17.0
# C002  0.04*125 = 5.0      2 + 0.4 = 2.4            2.6
# C003  0.18*40  = 7.2      2 + 1.8 = 3.8            3.4
# C004  0.02*10  = 0.2      2 + 0.2 = 2.2            -2.0
#
# Ranking by profit: C001 (17.0), C003 (3.4), C002 (2.6), C004 (-2.0)


def customers() -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "customer_id": ["C001", "C002", "C003", "C004"],
            "p_alive": [0.5, 0.8, 0.1, 0.9],
            "expected_purchases": [2.0, 4.0, 0.1, 0.9],
            "expected_avg_value": [100.0, 50.0, 80.0, 20.0],
            "clv": [95.0, 98.0, 3.9, 8.8],
            "value_risk_segment": ["at_risk_high", "loyal_high", "at_risk_low", "loyal_low"],
            "abc_class": ["A", "A", "C", "B"],
        }
    )
    return df.set_index("customer_id")


def scenario(target: dict, **overrides: float) -> roi.Scenario:
    fields = dict(
        name="test",
        target=target,
        cost_per_contact=2.0,
        incentive_cost=10.0,
        uplift=0.2,
        gross_margin=0.5,
        horizon_months=12,
    )
    fields.update(overrides)
    return roi.Scenario.model_validate(fields)


AT_RISK = {"segmentation": "value_risk_segment", "segments": ["at_risk_high", "at_risk_low"]}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ----------------------------------------------------------------- economics


def test_customer_economics_hand_values():
    econ = roi.customer_economics(customers(), scenario({"best_n": 4}))
    assert list(econ.index) == ["C001", "C002", "C003", "C004"]
    assert econ["value_if_retained"].to_dict() == pytest.approx(
        {"C001": 200.0, "C002": 125.0, "C003": 40.0, "C004": 10.0}
    )
    assert econ["expected_retained"].to_dict() == pytest.approx(
        {"C001": 0.10, "C002": 0.04, "C003": 0.18, "C004": 0.02}
    )
    assert econ["expected_incremental_profit"].to_dict() == pytest.approx(
        {"C001": 17.0, "C002": 2.6, "C003": 3.4, "C004": -2.0}
    )


def test_reach_by_group_hand_values():
    """The best 2 by expected profit are C001 (17.0) and C003 (3.4), from the hand values above; web holds
    C001 and C002, shop C003 and C004 (given in reverse order: groups are matched by id)."""
    from analysis.business.segments import characteristic_groups

    chosen = scenario({"best_n": 2})
    groups = characteristic_groups(pd.Series(["shop", "shop", "web", "web"], index=["C004", "C003", "C002", "C001"]))
    reach = roi.reach_by_group(customers(), chosen, groups).set_index("group")
    assert list(reach.index) == ["shop", "web"]
    assert reach["customers"].tolist() == [2, 2] and reach["contacted"].tolist() == [1, 1]
    assert reach["contacted_share"].tolist() == [0.5, 0.5]
    assert reach["expected_net_gain"].to_dict() == pytest.approx({"shop": 3.4, "web": 17.0})
    net_gain = roi.evaluate_scenarios(customers(), roi.RoiParams(scenarios=[chosen]))["net_gain"].iloc[0]
    assert reach["expected_net_gain"].sum() == pytest.approx(net_gain)


def test_p_alive_floor_caps_the_division():
    df = pd.DataFrame(
        {
            "customer_id": ["X1", "X2"],
            "p_alive": [0.005, 0.0],
            "expected_purchases": [0.01, 0.0],
            "expected_avg_value": [100.0, 100.0],
        }
    ).set_index("customer_id")
    econ = roi.customer_economics(df, scenario({"best_n": 1}))
    # X1: 0.01 / max(0.005, 0.01) * 100 * 0.5 = 1 * 50 = 50 (not 0.01/0.005*50 = 100)
    # X2: 0 / 0.01 * 100 * 0.5 = 0
    assert econ["value_if_retained"].to_dict() == pytest.approx({"X1": 50.0, "X2": 0.0})


def test_results_follow_customer_id_not_row_position():
    shuffled = customers().iloc[[2, 0, 3, 1]]
    econ = roi.customer_economics(shuffled, scenario({"best_n": 4}))
    assert econ.loc["C001", "expected_incremental_profit"] == pytest.approx(17.0)
    assert econ.loc["C004", "expected_incremental_profit"] == pytest.approx(-2.0)


# ----------------------------------------------------------------- targeting


def test_best_n_selects_highest_expected_profit():
    ids = roi.select_targets(customers(), scenario({"best_n": 3}))
    # profits 17.0, 3.4, 2.6, -2.0 -> C001, C003, C002
    assert list(ids) == ["C001", "C003", "C002"]


def test_best_n_larger_than_customer_count_takes_everyone():
    ids = roi.select_targets(customers(), scenario({"best_n": 100}))
    assert list(ids) == ["C001", "C003", "C002", "C004"]


def test_segment_targeting():
    ids = roi.select_targets(customers(), scenario(AT_RISK))
    assert list(ids) == ["C001", "C003"]
    ids = roi.select_targets(
        customers(), scenario({"segmentation": "abc_class", "segments": ["A"]})
    )
    # C001 profit 17.0, C002 profit 2.6
    assert list(ids) == ["C001", "C002"]


@pytest.mark.parametrize("ids_sorted", [True, False])
def test_targets_match_a_plain_sort_with_ties(ids_sorted):
    """select_targets sorts only the rows it returns (#13): the best n and a segment's customers must come out in
    the order of a plain sort of every customer by profit (desc), score (desc) and id (asc), also with many tied
    profits (values on a coarse grid, so n often falls inside a tie) and with ids not in order."""
    rng = np.random.default_rng(13)
    n = 2_000
    ids = [f"C{i:05d}" for i in (range(n) if ids_sorted else rng.permutation(n))]
    table = pd.DataFrame({
        "customer_id": ids,
        "p_alive": rng.choice([0.2, 0.5, 0.8], n),
        "expected_purchases": rng.choice([0.5, 1.0, 2.0], n),
        "expected_avg_value": rng.choice([20.0, 50.0], n),
        "clv": 1.0,
        "abc_class": rng.choice(["A", "B", "C"], n),
    }).set_index("customer_id")
    # the same figures as customer_economics, written out: value, p_lost, profit and score
    value = table["expected_purchases"] / table["p_alive"] * table["expected_avg_value"] * 0.5
    p_lost = 1 - table["p_alive"]
    profit = 0.2 * p_lost * value - (2.0 + 0.2 * p_lost * 10.0)
    plain = pd.DataFrame({"profit": profit, "score": p_lost * (value - 10.0), "id": table.index})
    order = plain.sort_values(["profit", "score", "id"], ascending=[False, False, True], kind="mergesort")["id"]
    assert plain["profit"].duplicated().sum() > n - 20  # mostly ties
    for best_n in (1, 7, 500, 1_234, n, n + 5):
        assert list(roi.select_targets(table, scenario({"best_n": best_n}))) == list(order[:best_n])
    in_a = order[table.loc[order, "abc_class"].to_numpy() == "A"]
    chosen = roi.select_targets(table, scenario({"segmentation": "abc_class", "segments": ["A"]}))
    assert list(chosen) == list(in_a)
    curve = roi.targeting_curve(table, scenario({"best_n": 1})).curve  # every customer, in the same order
    assert list(curve.index) == list(order) and curve["n_targeted"].tolist() == list(range(1, n + 1))
    np.testing.assert_allclose(curve["cumulative_net_gain"], plain.set_index("id").loc[order, "profit"].cumsum())


def test_unknown_segment_label_fails_loudly():
    bad = scenario({"segmentation": "value_risk_segment", "segments": ["at_risk_hihg"]})
    with pytest.raises(ValueError, match="at_risk_hihg"):
        roi.select_targets(customers(), bad)


def test_missing_segmentation_column_fails_loudly():
    bad = scenario({"segmentation": "clv_tier", "segments": ["top"]})
    with pytest.raises(ValueError, match="clv_tier"):
        roi.select_targets(customers(), bad)


# ----------------------------------------------------------------- scenario figures


def test_segment_scenario_figures():
    row = roi.evaluate_scenario(customers(), scenario(AT_RISK))
    # contacted: C001, C003
    assert row["customers_targeted"] == 2
    assert row["expected_customers_retained"] == pytest.approx(0.10 + 0.18)  # 0.28
    assert row["incremental_margin"] == pytest.approx(20.0 + 7.2)  # 27.2
    assert row["contact_cost"] == pytest.approx(2 * 2.0)  # 4
    assert row["incentive_cost_total"] == pytest.approx(0.28 * 10)  # 2.8
    assert row["total_cost"] == pytest.approx(4 + 2.8)  # 6.8
    assert row["net_gain"] == pytest.approx(27.2 - 6.8)  # 20.4
    assert row["roi"] == pytest.approx(20.4 / 6.8)  # 3.0
    assert row["cost_per_retained_customer"] == pytest.approx(6.8 / 0.28)  # 24.2857
    # K = 0.5*(200-10) + 0.9*(40-10) = 95 + 27 = 122; u* = n*c/K = 4/122
    assert row["breakeven_uplift"] == pytest.approx(4 / 122)


def test_best_n_scenario_figures():
    row = roi.evaluate_scenario(customers(), scenario({"best_n": 3}))
    # contacted: C001, C003, C002
    assert row["customers_targeted"] == 3
    assert row["expected_customers_retained"] == pytest.approx(0.10 + 0.18 + 0.04)  # 0.32
    assert row["incremental_margin"] == pytest.approx(20.0 + 7.2 + 5.0)  # 32.2
    assert row["total_cost"] == pytest.approx(3 * 2.0 + 0.32 * 10)  # 9.2
    assert row["net_gain"] == pytest.approx(32.2 - 9.2)  # 23.0
    assert row["roi"] == pytest.approx(23.0 / 9.2)  # 2.5
    assert row["cost_per_retained_customer"] == pytest.approx(9.2 / 0.32)  # 28.75


def test_breakeven_uplift_gives_zero_net_gain():
    base = scenario(AT_RISK)
    u_star = roi.evaluate_scenario(customers(), base)["breakeven_uplift"]
    at_break_even = base.model_copy(update={"uplift": u_star})
    row = roi.evaluate_scenario(customers(), at_break_even)
    assert row["net_gain"] == pytest.approx(0.0, abs=1e-9)
    # check by hand too: net = u*K - n*c = (4/122)*122 - 4 = 0
    assert u_star * 122 - 2 * 2.0 == pytest.approx(0.0, abs=1e-12)


def test_breakeven_nan_when_no_uplift_can_pay():
    # incentive 1000 > every value_if_retained -> K < 0 -> never breaks even
    row = roi.evaluate_scenario(customers(), scenario(AT_RISK, incentive_cost=1000.0))
    assert np.isnan(row["breakeven_uplift"])


def test_evaluate_scenarios_one_row_per_scenario():
    params = roi.RoiParams(
        scenarios=[
            scenario(AT_RISK).model_copy(update={"name": "at_risk"}),
            scenario({"best_n": 3}).model_copy(update={"name": "best_3"}),
        ]
    )
    table = roi.evaluate_scenarios(customers(), params)
    assert list(table.index) == ["at_risk", "best_3"]
    assert table.index.name == "scenario"
    assert table.loc["at_risk", "net_gain"] == pytest.approx(20.4)
    assert table.loc["best_3", "net_gain"] == pytest.approx(23.0)
    assert table.loc["best_3", "target"] == "best 3 by expected incremental profit"
    # the targets ranked once beforehand (as page 04 does) give the same hand-checked figures
    targets = {s.name: roi.select_targets(customers(), s) for s in params.scenarios}
    pd.testing.assert_frame_equal(roi.evaluate_scenarios(customers(), params, targets), table)


def test_scenario_targets_contact_list():
    targets = roi.scenario_targets(customers(), scenario({"best_n": 2}))
    assert targets.index.name == "customer_id"
    assert list(targets.index) == ["C001", "C003"]
    assert list(targets["rank"]) == [1, 2]
    assert {"value_risk_segment", "abc_class", "p_alive", "clv"} <= set(targets.columns)
    assert targets.loc["C003", "clv"] == 3.9  # carried over by id, unchanged
    assert targets["expected_incremental_profit"].tolist() == pytest.approx([17.0, 3.4])
    given = roi.scenario_targets(customers(), scenario({"best_n": 2}), pd.Index(["C001", "C003"], name="customer_id"))
    pd.testing.assert_frame_equal(given, targets)


# ----------------------------------------------------------------- cost per retained


def test_cost_per_retained_customer_100k_over_1000_is_100():
    assert roi.cost_per_retained_customer(100_000, 1_000) == pytest.approx(100.0)


def test_historical_cost_per_retained():
    params = roi.RoiParams(historical={"retention_spend": 100_000, "customers_retained": 1_000})
    assert roi.historical_cost_per_retained(params) == pytest.approx(100.0)
    assert roi.historical_cost_per_retained(roi.RoiParams()) is None


# ----------------------------------------------------------------- sensitivity, curve


def test_sensitivity_grid_hand_values():
    grid = roi.sensitivity_grid(customers(), scenario(AT_RISK), [0.0, 0.1], [0.0, 2.0])
    # net = u*K - n*c with K = 122, n = 2
    expected = pd.DataFrame(
        [[0.0, -4.0], [12.2, 8.2]],
        index=pd.Index([0.0, 0.1], name="uplift"),
        columns=pd.Index([0.0, 2.0], name="cost_per_contact"),
    )
    pd.testing.assert_frame_equal(grid, expected)


def test_targeting_curve_argmax():
    result = roi.targeting_curve(customers(), scenario({"best_n": 1}))
    # cumulative: 17.0, 17+3.4 = 20.4, 20.4+2.6 = 23.0, 23.0-2.0 = 21.0 -> best 3
    assert list(result.curve.index) == ["C001", "C003", "C002", "C004"]
    assert result.curve["cumulative_net_gain"].tolist() == pytest.approx([17.0, 20.4, 23.0, 21.0])
    assert result.best_n == 3
    assert result.max_net_gain == pytest.approx(23.0)


def test_targeting_curve_zero_when_everyone_loses_money():
    # cost per contact 100 exceeds every incremental margin (max 20) -> contact nobody
    result = roi.targeting_curve(customers(), scenario({"best_n": 1}, cost_per_contact=100.0))
    assert result.best_n == 0
    assert result.max_net_gain == 0.0


# ----------------------------------------------------------------- config


def test_default_params_are_valid_and_roundtrip():
    params = roi.RoiParams()
    assert 2 <= len(params.scenarios) <= 3
    again = roi.RoiParams.model_validate(params.model_dump())
    assert again == params
    assert params.sensitivity_scenario() is params.scenarios[0]


def test_yaml_shaped_config_parses_both_target_kinds():
    params = roi.RoiParams.model_validate(
        {
            "scenarios": [
                {"name": "a", "target": AT_RISK, "cost_per_contact": 1, "uplift": 0.1},
                {"name": "b", "target": {"best_n": 10}, "cost_per_contact": 1, "uplift": 0.1},
            ],
            "sensitivity": {"scenario": "b", "uplifts": [0.1, 0.2], "costs_per_contact": [1, 2]},
        }
    )
    assert isinstance(params.scenarios[0].target, roi.SegmentTarget)
    assert isinstance(params.scenarios[1].target, roi.BestNTarget)
    assert params.sensitivity_scenario().name == "b"


@pytest.mark.parametrize(
    "change",
    [
        {"name": "Not a slug!"},
        {"uplift": 1.5},
        {"cost_per_contact": -1},
        {"gross_margin": 0},
        {"surprise": 1},
        {"target": {"best_n": 0}},
        {"target": {"best_n": 5, "segments": ["x"]}},
    ],
)
def test_scenario_rejects_bad_values(change):
    fields = dict(name="ok", target={"best_n": 5}, cost_per_contact=1.0, uplift=0.1)
    fields.update(change)
    with pytest.raises(ValidationError):
        roi.Scenario.model_validate(fields)


def test_params_reject_duplicate_names_and_unknown_sensitivity_scenario():
    s = {"name": "same", "target": {"best_n": 5}, "cost_per_contact": 1, "uplift": 0.1}
    with pytest.raises(ValidationError, match="unique"):
        roi.RoiParams.model_validate({"scenarios": [s, s]})
    with pytest.raises(ValidationError, match="nope"):
        roi.RoiParams.model_validate({"scenarios": [s], "sensitivity": {"scenario": "nope"}})
    with pytest.raises(ValidationError):
        roi.RoiParams.model_validate({"sensitivity": {"uplifts": [0.2, 0.1]}})


# ----------------------------------------------------------------- input validation


def test_rejects_numeric_customer_ids():
    df = customers().reset_index(drop=True)
    df.index = pd.Index([1, 2, 3, 4], name="customer_id")
    with pytest.raises(ValueError, match="strings"):
        roi.customer_economics(df, scenario({"best_n": 1}))


def test_rejects_missing_column_and_bad_p_alive():
    with pytest.raises(ValueError, match="expected_avg_value"):
        roi.customer_economics(
            customers().drop(columns="expected_avg_value"), scenario({"best_n": 1})
        )
    bad = customers()
    bad.loc["C002", "p_alive"] = 1.2
    with pytest.raises(ValueError, match="p_alive.*1 of 4"):
        roi.customer_economics(bad, scenario({"best_n": 1}))


def test_formula_text_mentions_key_terms():
    text = roi.FORMULA_TEXT
    for phrase in ("1 - probability", "divided by P(alive)", "Break-even uplift", "ROI"):
        assert phrase in text


# ----------------------------------------------------------------- plots


def test_plots_return_axes_with_labels_and_currency():
    params = roi.RoiParams(
        scenarios=[
            scenario(AT_RISK).model_copy(update={"name": "at_risk"}),
            scenario({"best_n": 3}).model_copy(update={"name": "best_3"}),
        ]
    )
    table = roi.evaluate_scenarios(customers(), params)
    ax = roi.plot_scenario_comparison(table, currency="€")
    assert ax.get_title() and "€" in ax.get_ylabel() and ax.get_xlabel()

    grid = roi.sensitivity_grid(customers(), scenario(AT_RISK), [0.0, 0.05, 0.1], [0.0, 2.0, 4.0])
    ax = roi.plot_sensitivity(grid, scenario_name="at_risk")
    assert "at_risk" in ax.get_title() and "$" in ax.get_xlabel() and ax.get_ylabel()
    assert ax.collections  # heatmap (and break-even contour) drawn

    fig, given = plt.subplots()
    curve = roi.targeting_curve(customers(), scenario({"best_n": 1}))
    ax = roi.plot_targeting_curve(curve, ax=given)
    assert ax is given
    assert "$" in ax.get_ylabel() and ax.get_xlabel() and ax.get_title()
    fig.canvas.draw()
    assert ax.yaxis.get_major_formatter()(1234.0, 0) == "$1,234"


def test_a_scenario_label_is_what_readers_see():
    """The name stays the id (file names); the label goes into roi.csv and onto the chart's axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plain = roi.Scenario(name="email_best_5000", target=roi.BestNTarget(best_n=2), cost_per_contact=0.1, uplift=0.1)
    labelled = plain.model_copy(update={"name": "voucher", "label": "Voucher for the best customers"})
    assert (plain.title, labelled.title) == ("email_best_5000", "Voucher for the best customers")
    table = pd.DataFrame({"label": ["email_best_5000", "Voucher for the best customers", "Voucher for the best customers"],
                          "net_gain": [10.0, -5.0, 3.0], "roi": [0.5, -0.2, 0.1]},
                         index=pd.Index(["email_best_5000", "voucher", "voucher_b"], name="scenario"))
    fig, ax = plt.subplots()
    roi.plot_scenario_comparison(table, ax=ax)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    # wrapped at 16 characters: "Voucher for the" (15) fits, one more word would not
    assert labels == ["email_best_5000", "Voucher for the\nbest customers", "Voucher for the\nbest customers"]
    assert len(ax.patches) == 3  # one bar each, even with the same label twice
    plt.close(fig)


def test_a_long_curve_is_drawn_through_its_envelope_and_a_short_one_point_by_point():
    """A million customers' targeting curve is drawn through each run's first, lowest, highest and last point:
    every run of consecutive points keeps its range (the drawn line covers the same pixels), the ends and the
    peak are kept, and the points stay in order. CDNOW-sized curves are drawn as they are."""
    rng = np.random.default_rng(7)
    n = 1_000_001
    x = np.arange(n)
    y = np.cumsum(rng.normal(size=n))
    ex, ey = roi.line_envelope(x, y, buckets=1_000)
    assert len(ex) <= 4 * 1_000 and np.all(np.diff(ex) > 0)
    assert ex[0] == 0 and ex[-1] == n - 1 and y[ex].tolist() == ey.tolist()
    assert ey.max() == y.max() and ey.min() == y.min()
    size = -(-n // 1_000)
    for start in (0, size * 500, size * 999):  # a run at the start, the middle and the end: same range
        run = slice(start, min(start + size, n))
        inside = (ex >= run.start) & (ex < run.stop)
        assert ey[inside].min() == y[run].min() and ey[inside].max() == y[run].max()
    short = np.arange(23_571, dtype=float)
    sx, sy = roi.line_envelope(short, short ** 0.5)
    assert len(sx) == 23_571
