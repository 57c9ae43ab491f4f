"""Simulated transaction logs against the models' own expectations.

Expected values are derived by hand from the model definitions, not taken from the
simulator: given lambda and p, a BG/NBD customer makes E[X(t) | lambda, p] =
(1 - exp(-lambda p t)) / p repeat purchases in (0, t] (a geometric number of Poisson
purchases); averaging over lambda ~ Gamma(r, alpha) gives (1 - (alpha / (alpha + p t))^r) / p,
and the remaining average over p ~ Beta(a, b) is done here by quadrature (FHL 2005a,
eq. (9) is its closed form).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy import integrate, stats

from analysis.simulate import (
    BENCH_BGNBD,
    BENCH_GAMMA_GAMMA,
    SimulationSpec,
    expected_repeat_purchases,
    simulate_transactions,
    write_transactions,
)
from analysis.data.summary import rfm_summary

CDNOW_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # FHL (2005a), weeks


def expected_by_quadrature(params: dict, t: float) -> float:
    """E[X(t)] = integral over p ~ Beta(a, b) of (1 - (alpha / (alpha + p t))^r) / p."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))

    def integrand(p: float) -> float:
        # (1 - (alpha/(alpha+pt))^r)/p, written with expm1/log1p so that it stays accurate as p -> 0
        return -np.expm1(-r * np.log1p(p * t / alpha)) / p * stats.beta.pdf(p, a, b)

    value, _ = integrate.quad(integrand, 0.0, 1.0, limit=200)
    return value


def repeat_counts(table) -> pd.Series:
    df = table.to_pandas()
    return df.groupby("customer_id").size() - 1


@pytest.mark.parametrize("params", [CDNOW_BGNBD, BENCH_BGNBD])
def test_closed_form_matches_the_hand_derivation(params):
    for t in (1.0, 39.0, 78.0):
        assert expected_repeat_purchases(params, t) == pytest.approx(expected_by_quadrature(params, t), rel=1e-6)


@pytest.mark.parametrize("params", [CDNOW_BGNBD, BENCH_BGNBD])
def test_mean_repeat_purchases_one_cohort(params):
    """All customers start on the same day, so every T is 78 weeks."""
    spec = SimulationSpec(n_customers=40_000, bgnbd=params, acquisition_days=1, observation_days=547, seed=7)
    counts = repeat_counts(simulate_transactions(spec))
    assert len(counts) == 40_000
    expected = expected_by_quadrature(params, 78.0)
    se = counts.std() / np.sqrt(len(counts))
    assert abs(counts.mean() - expected) < 4 * se, (counts.mean(), expected, se)


def test_mean_repeat_purchases_spread_acquisition():
    """Acquisition spread over 12 weeks: the mean count matches the mean of E[X(T_i)]."""
    spec = SimulationSpec(n_customers=40_000, bgnbd=CDNOW_BGNBD, seed=11)
    df = simulate_transactions(spec).to_pandas()
    first = df.groupby("customer_id")["date"].min()
    T_weeks = (pd.Timestamp(spec.observation_end) - pd.to_datetime(first)).dt.days / 7.0
    assert T_weeks.min() >= (546 - 84) / 7 and T_weeks.max() <= 545 / 7
    diff = (df.groupby("customer_id").size() - 1) - expected_repeat_purchases(CDNOW_BGNBD, T_weeks.to_numpy())
    assert abs(diff.mean()) < 4 * diff.std() / np.sqrt(len(diff))


def test_mean_spend_is_the_gamma_gamma_population_mean():
    """First purchases (one per customer, independent): mean p v / (q - 1)."""
    spec = SimulationSpec(n_customers=40_000, seed=3)
    first = simulate_transactions(spec).to_pandas().groupby("customer_id")["amount"].first()
    p, q, v = (BENCH_GAMMA_GAMMA[k] for k in ("p", "q", "v"))
    assert abs(first.mean() - p * v / (q - 1)) < 4 * first.std() / np.sqrt(len(first))
    assert first.min() >= 0.01


def test_same_seed_same_log_and_other_seed_other_log():
    spec = SimulationSpec(n_customers=2_000, seed=5, chunk_customers=700)
    assert simulate_transactions(spec).equals(simulate_transactions(spec))
    other = SimulationSpec(n_customers=2_000, seed=6, chunk_customers=700)
    assert not simulate_transactions(spec).equals(simulate_transactions(other))


def test_written_file_is_the_log_in_chunks(tmp_path):
    spec = SimulationSpec(n_customers=2_500, seed=5, chunk_customers=1_000, id_width=5)
    meta = write_transactions(spec, tmp_path / "log.parquet", row_group_size=4_000)
    table = pq.read_table(tmp_path / "log.parquet")
    assert table.equals(simulate_transactions(spec))
    assert meta["n_transactions"] == table.num_rows
    assert (tmp_path / "log.parquet.json").exists() and not (tmp_path / "log.parquet.tmp").exists()
    assert [f.name for f in table.schema] == ["customer_id", "date", "amount"]
    df = table.to_pandas()
    assert df["customer_id"].iloc[0] == "00000" and df["customer_id"].nunique() == 2_500
    assert df["date"].min() >= spec.start and df["date"].max() <= spec.observation_end
    assert df.equals(df.sort_values(["customer_id", "date"], kind="stable"))


def test_summary_of_a_simulated_log(tmp_path):
    """T in weeks is the time from the first purchase to the end; recency <= T."""
    spec = SimulationSpec(n_customers=3_000, seed=9)
    write_transactions(spec, tmp_path / "log.parquet")
    s = rfm_summary(tmp_path / "log.parquet", spec.observation_end, "W")
    assert len(s) == 3_000
    first = pd.to_datetime(s["first_purchase"])
    assert np.allclose(s["T"], (pd.Timestamp(spec.observation_end) - first).dt.days / 7)
    assert (s["recency"] <= s["T"]).all() and (s["frequency"] >= 0).all()


def test_invalid_specs_are_refused():
    with pytest.raises(ValueError, match="n_customers"):
        SimulationSpec(n_customers=0)
    with pytest.raises(ValueError, match="missing"):
        SimulationSpec(n_customers=10, bgnbd={"r": 1.0})
    with pytest.raises(ValueError, match="id_width"):
        SimulationSpec(n_customers=1000, id_width=2)
    assert SimulationSpec(n_customers=1, start=dt.date(2020, 1, 1), acquisition_days=5, observation_days=10).observation_end == dt.date(2020, 1, 10)
