"""BG/BB on the model page (``models.discrete``): a yearly donation drive simulated from known BG/BB parameters.

The donors are simulated as Fader, Hardie & Shang (2010) describe them, with the parameters they estimated on the
1995 donor cohort (alpha 1.204, beta 0.750, gamma 0.657, delta 2.783): each donor has their own chance p of giving
in a year and theta of dropping out at the start of a year; the first gift is in 1995, the log ends in 2006, the
calibration in 2001. The simulation goes on to 2011 unseen, so what the page forecasts is checked against what the
same donors then do. Some donors give twice in a year (on two days), a known number of times. Expected values come
from the simulation, never from the kit's output.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.config import load_params
from analysis.errors import ConfigError
from analysis.scoring import discrete

TRUE = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
FIRST, CALIBRATION, LAST, UNSEEN = 1995, 2001, 2006, 2011


@dataclass
class Donors:
    """The simulated log (up to LAST) and what is known of each donor."""

    log: pd.DataFrame
    years: dict[str, list[int]]
    """Every year each donor gave in, FIRST to UNSEEN (the log holds those up to LAST)."""
    alive_next: dict[str, bool]
    """Still a donor at the first opportunity after LAST (before it, each alive donor may drop out)."""
    twice: int
    """Donor-years up to LAST with gifts on two days."""


def simulate_donors(n: int = 4000, seed: int = 1995, twice_share: float = 0.02) -> Donors:
    """Donors with their own chances of giving and of dropping out (the true parameters), and their own average
    gift (gamma(6, 8), about 48) around which their gifts vary. The days and amounts come from a generator of their
    own, so the giving years do not depend on how the log is written."""
    rng, days_and_amounts = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    p = rng.beta(TRUE["alpha"], TRUE["beta"], n)
    theta = rng.beta(TRUE["gamma"], TRUE["delta"], n)
    rows, years, alive_next, twice = [], {}, {}, 0
    for i in range(n):
        donor, alive, gave = f"D{i:05d}", True, [FIRST]
        for year in range(FIRST + 1, UNSEEN + 1):
            if alive and rng.random() < theta[i]:
                alive = False
            if year == LAST + 1:
                alive_next[donor] = alive
            if alive and rng.random() < p[i]:
                gave.append(year)
        years[donor] = gave
        other = days_and_amounts
        average = other.gamma(6.0, 8.0)
        for year in (y for y in gave if y <= LAST):
            day = dt.date(year, 1, 1) + dt.timedelta(days=int(other.integers(0, 360)))
            days = [day, day + dt.timedelta(days=3)] if other.random() < twice_share else [day]  # twice: another day
            rows += [(donor, d.isoformat(), round(float(other.gamma(10.0, average / 10.0)), 2)) for d in days]
            twice += len(days) - 1
    log = pd.DataFrame(rows, columns=["customer_id", "date", "amount"])
    return Donors(log=log, years=years, alive_next=alive_next, twice=twice)


@pytest.fixture(scope="module")
def donors() -> Donors:
    return simulate_donors()


@pytest.fixture(scope="module")
def stage(donors) -> discrete.DiscreteStage:
    log = donors.log.assign(date=pd.to_datetime(donors.log["date"]))
    return discrete.run_discrete_stage(log, dt.date(CALIBRATION, 12, 31), dt.date(LAST, 12, 31), "Y", 5)


def _holdout_actual(donors: Donors) -> int:
    return sum(sum(CALIBRATION < y <= LAST for y in gave) for gave in donors.years.values())


def _unseen(donors: Donors) -> int:
    return sum(sum(LAST < y <= UNSEEN for y in gave) for gave in donors.years.values())


# ---------------------------------------------------------------- the stage, on the simulated log


def test_histories_and_holdout_counts_are_the_simulated_ones(donors, stage):
    cal = stage.calibration
    for donor in ("D00000", "D00001", "D00002", "D00123", "D03999"):
        repeat = [y for y in donors.years[donor] if FIRST < y <= CALIBRATION]
        assert cal.loc[donor, "frequency"] == len(repeat), donor
        assert cal.loc[donor, "recency"] == (max(repeat) - FIRST if repeat else 0), donor
        assert cal.loc[donor, "n"] == CALIBRATION - FIRST, donor
        assert cal.loc[donor, "actual"] == sum(CALIBRATION < y <= LAST for y in donors.years[donor]), donor
    assert int(cal["actual"].sum()) == _holdout_actual(donors)
    assert stage.holdout_periods == LAST - CALIBRATION
    assert stage.multi_purchase_periods == donors.twice
    assert stage.purchase_periods == sum(sum(y <= LAST for y in gave) for gave in donors.years.values())
    assert stage.fits_discrete_view  # 2% of the donor-years


def test_the_fit_recovers_the_simulated_parameters(stage):
    # each 95% interval holds the true value (gamma and delta one by one only loosely: their intervals are wide), and
    # the mean chances of giving in a year, alpha / (alpha + beta) = 0.616, and of dropping out at the start of one,
    # gamma / (gamma + delta) = 0.191, are within 3 points
    for fit in (stage.fit, stage.final):
        for key, value in TRUE.items():
            low, high = fit.ci[key]
            assert low < value < high, (key, fit.params[key], fit.ci[key])
        p = fit.params
        assert p["alpha"] / (p["alpha"] + p["beta"]) == pytest.approx(0.616, abs=0.03)
        assert p["gamma"] / (p["gamma"] + p["delta"]) == pytest.approx(0.191, abs=0.03)


def test_the_holdout_forecast_and_the_forecast_beyond_the_log_come_true(donors, stage):
    actual = _holdout_actual(donors)
    assert float(stage.calibration["expected"].sum()) == pytest.approx(actual, rel=0.05)
    by_bin = stage.holdout_table()
    assert list(by_bin["bin"]) == [str(x) for x in range(CALIBRATION - FIRST + 1)]  # at most 6 repeat years
    assert by_bin["actual"].sum() == actual and by_bin["customers"].sum() == len(donors.years)
    # still a donor in 2007, and the gifts of 2007-2011, as the simulation went on
    assert float(stage.customers["p_alive"].mean()) == pytest.approx(np.mean(list(donors.alive_next.values())),
                                                                     abs=0.03)
    assert float(stage.customers["expected_transactions"].sum()) == pytest.approx(_unseen(donors), rel=0.1)


def test_buying_on_several_days_a_year_is_counted_and_said_not_to_fit(donors):
    # every donor gives on a second day of each of their years: BG/BB counts each year once
    log = donors.log.assign(date=pd.to_datetime(donors.log["date"]))
    doubled = pd.concat([log, log.assign(date=log["date"] + pd.Timedelta(days=1))])
    stage = discrete.run_discrete_stage(doubled, dt.date(CALIBRATION, 12, 31), dt.date(LAST, 12, 31), "Y", 5)
    years = sum(sum(y <= LAST for y in gave) for gave in donors.years.values())
    assert stage.purchase_periods == years and stage.multi_purchase_periods == years
    assert not stage.fits_discrete_view


def test_without_a_whole_period_after_the_calibration_end_there_is_no_holdout_check(donors):
    log = donors.log.assign(date=pd.to_datetime(donors.log["date"]))
    stage = discrete.run_discrete_stage(log, dt.date(LAST, 6, 30), dt.date(LAST, 12, 31), "Y", 1)
    assert stage.holdout_periods == 0 and stage.calibration is None and stage.fit is None
    assert stage.final is not None and len(stage.customers) == len(donors.years)


def test_the_horizon_defaults_to_the_clv_horizon_in_periods():
    assert [discrete.horizon_periods(p, None, 12) for p in "YQMW"] == [1, 4, 12, 52]
    assert discrete.horizon_periods("Y", None, 6) == 1 and discrete.horizon_periods("Q", 3, 12) == 3


# ---------------------------------------------------------------- the configuration


@pytest.mark.parametrize("value", ["{period: D}", "{period: year}", "{period: y}"])
def test_a_period_bad_gets_one_clear_error_naming_the_key_and_the_choices(value, tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(f"data: {{path: donations.csv}}\nmodels:\n  discrete: {value}\n")
    with pytest.raises(ConfigError) as err:
        load_params(path)
    assert "models.discrete.period" in str(err.value)
    assert "Y (year), Q (quarter), M (month) or W (week)" in str(err.value)


def test_the_period_alone_is_enough_and_off_is_the_default(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("data: {path: donations.csv}\nmodels:\n  discrete: Y\n")
    assert load_params(path).models.discrete.period == "Y"
    path.write_text("data: {path: donations.csv}\n")
    assert load_params(path).models.discrete is None


# ---------------------------------------------------------------- the model page, in English and in Dutch


def _text(page: str) -> str:
    from test_locale_pages import _visible_text

    return re.sub(r"\s+", " ", _visible_text(page))


def _number(text: str, lang: str) -> float:
    thousands, decimal = (",", ".") if lang == "en" else (".", ",")
    return float(text.replace(thousands, "").replace(decimal, "."))


def test_the_model_page_asks_about_one_chance_a_year_only_when_nearly_everyone_bought_once_a_year(donors, tmp_path):
    """94% of the simulated donors who gave again gave no more gifts after their first than calendar years from
    their first gift to their last (2% of donor-years have a second gift): the continuous models' page says BG/BB
    is made for such data. The daily web shop's customers buy
    several times a year: no note."""
    from analysis.data.ingest import ingest_transactions
    from analysis.data.summary import rfm_summary
    from analysis.reporting import fmt
    from analysis.scoring.modelstage import once_a_year_note
    from webshop import params_for, write_webshop

    log = donors.log.assign(date=pd.to_datetime(donors.log["date"]))
    summary = rfm_summary(log, f"{LAST}-12-31", "W")
    days = log.drop_duplicates(["customer_id", "date"]).groupby("customer_id")["date"]  # counted here by hand
    repeats, years = days.size() - 1, days.max().dt.year - days.min().dt.year
    repeat = repeats.index[repeats > 0]
    once = [d for d in repeat if repeats[d] <= years[d]]
    with fmt.using("en"):
        note = once_a_year_note(summary, bgbb_shown=False)
        assert note.startswith(f"Of the {len(repeat):,} customers who bought again, {round(100 * len(once) / len(repeat))}%"
                               " bought again no more often than once a year")
        assert "models.discrete: Y" in note
        assert "further down this page" in once_a_year_note(summary, bgbb_shown=True)
        shop = write_webshop(tmp_path / "shop.csv")
        (tmp_path / "shop.yaml").write_text(params_for(shop, Path(__file__).resolve().parents[1] / "params" / "default.yaml"),
                                             encoding="utf-8")
        ingest_transactions(load_params(tmp_path / "shop.yaml").data, tmp_path / "purchases.parquet")
        shop_summary = rfm_summary(tmp_path / "purchases.parquet", shop.end, "D")
        assert (shop_summary["frequency"] >= 1).sum() > 500 and once_a_year_note(shop_summary, bgbb_shown=False) is None
    with fmt.using("nl"):
        assert once_a_year_note(summary, bgbb_shown=False).startswith("Van de ")


@pytest.mark.slow
def test_the_model_page_shows_bgbb_in_plain_words_in_english_and_dutch(donors, tmp_path):
    from test_locale_pages import ENGLISH_NUMBER, ENGLISH_WORDS, _prose
    from test_own_data import _env
    from analysis.runs import runfolder

    # in Dutch, a yearly renewal at a fixed fee: the spend model cannot be fitted (every amount is the same), so the
    # page has no purchase model, says so, and still shows BG/BB, which needs neither
    donors.log.to_csv(tmp_path / "en.csv", index=False)
    donors.log.assign(amount=50.0).to_csv(tmp_path / "nl.csv", index=False)
    pages, runs = {}, {}
    for lang in ("en", "nl"):
        params = tmp_path / f"params_{lang}.yaml"
        params.write_text(yaml.safe_dump({
            "data": {"path": str(tmp_path / f"{lang}.csv")},
            "period": {"observation_end": f"{LAST}-12-31", "calibration_end": f"{CALIBRATION}-12-31"},
            "models": {"n_draws": 20, "discrete": {"period": "Y", "horizon_periods": 5}},
            "report": {"language": lang}}))
        runs[lang] = tmp_path / f"run_{lang}"
        result = subprocess.run([sys.executable, "-m", "analysis.pipeline", "run", "--params", str(params), "--out",
                                 str(runs[lang])], capture_output=True, text=True, timeout=900, env=_env())
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        pages[lang] = (runs[lang] / "02_clv_models.html").read_text(encoding="utf-8")

    english = _text(pages["en"])
    assert "One chance to buy per year: the BG/BB model" in english
    # the continuous models above it: the page says they are not made for one chance a year (94% of the donors)
    assert re.search(r"Of the [\d,]+ customers who bought again, 9\d% bought again no more often than once a year", english)
    assert "the BG/BB model further down this page is" in english
    check = re.search(r"in the 5 years it had not seen, BG/BB expected ([\d,]+) repeat purchases from the customers who"
                      r" had bought by Dec 31, 2001; ([\d,]+) happened", english)
    assert check, english[english.find("One chance"):][:1500]
    expected, actual = (_number(v, "en") for v in check.groups())
    assert actual == _holdout_actual(donors) and expected == pytest.approx(actual, rel=0.05)
    multi = re.search(r"Of the ([\d,]+) times a customer bought in a year, ([\d,]+) \(", english)
    assert multi and _number(multi.group(2), "en") == donors.twice
    for key, value in TRUE.items():  # the analysts' table: all data, with the interval
        row = re.search(rf"all data, up to Dec 31, 2006 {key} ([\d.]+) ([\d.]+) - ([\d.]+)", english)
        assert row, key
        low, high = float(row.group(2)), float(row.group(3))
        assert low < value < high, key
    means = re.search(r"on average alpha / \(alpha \+ beta\) = (\d+)%\); .*?on average gamma / \(gamma \+ delta\) ="
                      r" (\d+)%\), on all data", english)
    assert means and abs(int(means.group(1)) - 61.6) <= 3 and abs(int(means.group(2)) - 19.1) <= 3
    scored = pd.read_parquet(runs["en"] / "artifacts" / "customers_02_bgbb.parquet")
    assert list(scored.columns) == ["customer_id", "frequency", "recency", "n", "p_alive", "expected_transactions"]
    assert len(scored) == len(donors.years) and scored["n"].eq(LAST - FIRST).all()
    recorded = json.loads((runs["en"] / "artifacts" / "model.json").read_text())["discrete"]
    assert recorded["holdout"]["actual"] == actual and recorded["multi_purchase_periods"] == donors.twice
    assert not runfolder.check_run(runs["en"])

    dutch = _text(pages["nl"])
    assert "Op deze gegevens kon geen aankoopmodel worden geschat" in dutch
    # the note does not deny the chance of staying that BG/BB then gives each customer
    assert "De kans dat een klant nog klant is, komt van het BG/BB-model hieronder" in dutch
    assert "geen kans op blijven per klant" not in dutch
    assert json.loads((runs["nl"] / "artifacts" / "model.json").read_text())["unavailable"]
    assert dutch.find("Op deze gegevens kon geen") < dutch.find("Eén kans om te kopen per jaar: het BG/BB-model")
    assert f"het werden er {int(actual):,}".replace(",", ".") in dutch
    assert "BG/BB: geschatte parameters en de toetsing" in dutch
    assert not runfolder.check_run(runs["nl"])
    # the BG/BB section and its analysts' part, in Dutch words and Dutch numbers (the note before it is the
    # kit's note of a page without a purchase model)
    prose = re.sub(r"\s+", " ", _prose(pages["nl"]))
    section = prose[prose.find("Eén kans"):]
    assert len(section) > 1500
    english_words = sorted({w for w in re.findall(r"[A-Za-z']+", section) if w.lower() in ENGLISH_WORDS})
    assert not english_words, section
    assert not ENGLISH_NUMBER.search(section), section
