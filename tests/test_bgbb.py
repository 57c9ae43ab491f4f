"""BG/BB for discrete-time data against the published donations results.

Expected values: Fader, Hardie & Shang (2010), "Customer-base analysis in a discrete-time noncontractual
setting", Marketing Science 29(6): the estimates and log-likelihood of section 4 (alpha 1.204, beta 0.750,
gamma 0.657, delta 2.783, LL -33,225.6) and Table 6 (P(alive in 2002)); Hardie's BG/BB spreadsheet
(brucehardie.com/notes/010, the "Conditional Expectations (II)" total 12,884.2 and the in-sample fit cells
C18/C24, 3,454.9 and 1,253.1), as lifetimes' tests quote them. The data are the 1995 cohort of 11,104
first-time donors with 6 later opportunities, shipped with lifetimes (``load_donations``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln

from analysis.errors import ModelFitError
from analysis.models import bgbb


@pytest.fixture(scope="module")
def donations() -> pd.DataFrame:
    from lifetimes.datasets import load_donations

    return load_donations().rename(columns={"periods": "n"})


@pytest.fixture(scope="module")
def fitted(donations) -> bgbb.BGBBFit:
    return bgbb.fit(donations, weights="weights")


def test_the_fit_reproduces_the_published_estimates_and_log_likelihood(fitted):
    expected = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
    for k, v in expected.items():
        assert fitted.params[k] == pytest.approx(v, abs=0.0015), k
    assert fitted.loglik == pytest.approx(-33225.6, abs=0.05)
    assert fitted.n_customers == 11104
    for k, (low, high) in fitted.ci.items():
        assert low < fitted.params[k] < high


def test_weighted_rows_and_one_row_per_donor_give_the_same_fit(donations, fitted):
    one_per_donor = donations.loc[donations.index.repeat(donations["weights"])].drop(columns="weights")
    one_per_donor.index = pd.Index(range(len(one_per_donor)), name="customer_id")
    again = bgbb.fit(one_per_donor)
    for k in bgbb.PARAMS:
        assert again.params[k] == pytest.approx(fitted.params[k], rel=1e-6)


def test_p_alive_in_2002_matches_table_6(donations, fitted):
    # Table 6: last donation in 1995 with no repeat (x = 0), 2 repeats last in 1999 (x = 2, t_x = 4), every year
    pa = fitted.p_alive([0, 2, 6], [0, 4, 6], [6, 6, 6], m=1)
    np.testing.assert_allclose(pa, [0.11, 0.59, 0.93], atol=0.005)


def test_conditional_expectations_total_matches_hardies_sheet(donations, fitted):
    per_donor = fitted.conditional_expected_transactions(5, donations["frequency"], donations["recency"], donations["n"])
    assert float(per_donor @ donations["weights"]) == pytest.approx(12884.2, abs=0.1)


def test_distribution_of_repeat_donations_matches_the_in_sample_fit(donations, fitted):
    pmf = fitted.transactions_pmf(6)
    expected_donors = pmf * donations["weights"].sum()
    assert expected_donors[0] == pytest.approx(3454.9, abs=0.1)
    assert expected_donors[6] == pytest.approx(1253.1, abs=0.1)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    # its mean is the unconditional expectation, eq. 7 (two different formulas)
    assert float(np.arange(7) @ pmf) == pytest.approx(float(fitted.expected_transactions(6)), rel=1e-10)


def test_likelihood_of_one_history_by_hand():
    # x = 1, t_x = 1, n = 2, alpha = beta = gamma = delta = 1: alive through both opportunities and bought in
    # the first only, or dropped out before the second. By the beta integrals (uniform p and theta):
    # alive: E[p (1-p)] E[(1-theta)^2] = 1/6 * 1/3; dead before opportunity 2: E[p] * E[theta (1-theta)] = 1/2 * 1/6
    by_hand = 1 / 6 * 1 / 3 + 1 / 2 * 1 / 6
    assert float(np.exp(bgbb.log_likelihood([1, 1, 1, 1], 1, 1, 2))[0]) == pytest.approx(by_hand, rel=1e-12)
    # the general form, for a history with two drop-out points
    a, b, g, d, x, tx, n = 1.3, 0.7, 0.6, 2.5, 2, 3, 5
    direct = np.exp(betaln(a + x, b + n - x) - betaln(a, b) + betaln(g, d + n) - betaln(g, d)) + sum(
        np.exp(betaln(a + x, b + tx - x + i) - betaln(a, b) + betaln(g + 1, d + tx + i) - betaln(g, d))
        for i in range(n - tx))
    assert float(np.exp(bgbb.log_likelihood([a, b, g, d], x, tx, n))[0]) == pytest.approx(direct, rel=1e-12)


def test_dert_is_the_discounted_sum_of_expected_transactions(donations, fitted):
    # an independent route: transactions expected at each later opportunity (differences of eq. 13), each
    # discounted by (1 + d)^-k, summed far enough that the rest is negligible
    d = 0.10
    x, tx, n = donations["frequency"], donations["recency"], donations["n"]
    cumulative = [np.zeros(len(x))] + [fitted.conditional_expected_transactions(k, x, tx, n) for k in range(1, 1500)]
    summed = sum((cumulative[k] - cumulative[k - 1]) / (1 + d) ** k for k in range(1, 1500))
    np.testing.assert_allclose(fitted.dert(d, x, tx, n), summed, rtol=1e-9)
    with pytest.raises(ValueError, match="discount_rate"):
        fitted.dert(0.0, x, tx, n)


def test_summary_by_opportunities_from_a_transaction_log():
    log = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "c", "c", "d"],
        "date": ["2019-03-01", "2019-11-30", "2021-02-02", "2021-06-06", "2020-05-05", "2019-01-01", "2023-01-01",
                 "2022-12-31"],
    })
    got = bgbb.summary_by_opportunities(log, period="Y", observation_end="2022-12-31")
    # a: first 2019, bought again in 2021 (twice: counts once); b: only 2020; c: the 2023 gift is after the end;
    # d: first purchase on the last day (no opportunity yet)
    expected = pd.DataFrame({"frequency": [1, 0, 0, 0], "recency": [2, 0, 0, 0], "n": [3, 2, 3, 0]},
                            index=pd.Index(["a", "b", "c", "d"], name="customer_id"))
    pd.testing.assert_frame_equal(got, expected)
    quarterly = bgbb.summary_by_opportunities(log, period="Q", observation_end="2022-12-31")
    assert quarterly.loc["a"].tolist() == [3, 9, 15]  # 2019Q1 -> 2019Q4 (3), 2021Q1 (8), 2021Q2 (9); end 2022Q4
    with pytest.raises(ValueError, match="period must be one of"):
        bgbb.summary_by_opportunities(log, period="D")


def test_impossible_histories_and_data_without_repeat_buyers_are_refused():
    with pytest.raises(ValueError, match="impossible"):
        bgbb.log_likelihood([1, 1, 1, 1], [3], [2], [6])  # x > t_x
    with pytest.raises(ValueError, match="impossible"):
        bgbb.log_likelihood([1, 1, 1, 1], [1], [7], [6])  # t_x > n
    nobody = pd.DataFrame({"frequency": [0, 0], "recency": [0, 0], "n": [4, 4]},
                          index=pd.Index([1, 2], name="customer_id"))
    with pytest.raises(ModelFitError, match="second opportunity"):
        bgbb.fit(nobody)
