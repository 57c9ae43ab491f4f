"""Every "what to try" a configuration can follow is tested by following it: the outcome changes.

Each case takes a refused input from the bad-input corpus, checks that the message gives the
advice, applies exactly that advice to the configuration (nothing else) and requires the file to
be read. Advice that asks for a different file (fill in ids, remove footer lines) is checked in
tests/test_bad_inputs.py; here it is the settings a user can change.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.runs import steps
from analysis import models
from analysis.config import DataParams
from analysis.errors import DataValidationError, KitError
from analysis.data.ingest import ingest_transactions
from conftest import ROOT

BAD = ROOT / "tests" / "bad_inputs"
TODAY = dt.date(2024, 1, 1)

# file, settings before, the advice in the message (regex), the settings the advice names
CASES = [
    ("decimal_comma_not_configured.csv", {}, r"Set data.decimal to ','", {"decimal": ","}),
    ("thousands_separator.csv", {}, r"set data.thousands: ','", {"thousands": ","}),
    ("thousands_separator_decimal_comma.csv", {"decimal": ",", "delimiter": ";"}, r"set data.thousands: '.'",
     {"thousands": "."}),
    ("wrong_delimiter.csv", {"delimiter": ","}, r"Set data.delimiter to ';'", {"delimiter": ";"}),
    ("negative_amounts.csv", {"returns": "error"}, r"Set data.returns to 'drop' or 'net'", {"returns": "net"}),
    ("csv_named_parquet.parquet", {}, r"set data.format: csv", {"format": "csv"}),
]


def _read(path: Path, tmp_path: Path, settings: dict):
    return ingest_transactions(DataParams(path=path, **settings), tmp_path / "purchases.parquet", today=TODAY)


@pytest.mark.parametrize("name, before, advice, fix", CASES, ids=[c[0] for c in CASES])
def test_following_the_advice_reads_the_file(tmp_path, name, before, advice, fix):
    with pytest.raises(KitError) as err:
        _read(BAD / name, tmp_path, before)
    assert re.search(advice, str(err.value)), str(err.value)
    quality = _read(BAD / name, tmp_path, {**before, **fix})
    assert quality.rows_used > 0


def test_following_the_date_format_advice_reads_the_file(tmp_path):
    path = tmp_path / "days_first.csv"
    path.write_text("customer_id,date,amount\nA,31/01/2020,1\nB,15/02/2020,2\n")
    with pytest.raises(DataValidationError, match="Set data.date_format in the run configuration to match the file"):
        _read(path, tmp_path, {})
    assert _read(path, tmp_path, {"date_format": "%d/%m/%Y"}).first_date == "2020-01-31"


def test_following_the_penalizer_advice_of_a_model_fit_changes_the_outcome():
    # customers who all drop out at the same rate (0.03 a week): Pareto/NBD's spread of drop-out rates is
    # not identified, the likelihood is flat along s/beta = 0.03 and the unpenalised fit has no curvature
    # there; the advice (a small penalizer) gives a fit with usable estimates
    rng = np.random.default_rng(2)
    n = 600
    T, lam, life = rng.uniform(30, 80, n), rng.gamma(1.5, 0.2, n), rng.exponential(1 / 0.03, n)
    rows = []
    for Ti, li, lf in zip(T, lam, life):
        end = min(Ti, lf)
        times = np.sort(rng.uniform(0, end, rng.poisson(li * end)))
        rows.append((float(len(times)), float(times[-1]) if len(times) else 0.0, Ti))
    summary = pd.DataFrame(rows, columns=["frequency", "recency", "T"],
                           index=pd.Index([f"c{i}" for i in range(n)], name="customer_id")).round(3)
    with pytest.raises(models.ModelFitError) as err:
        models.fit_model(summary, "pareto", time_unit="W")
    assert "fit with a small penalizer (e.g. penalizer=0.001)" in str(err.value)
    fit = models.fit_model(summary, "pareto", time_unit="W", penalizer=0.001)
    assert all(np.isfinite(v) and v > 0 for v in fit.params.values())
    assert fit.params["s"] / fit.params["beta"] == pytest.approx(0.03, rel=0.5)  # the common drop-out rate


def test_the_spend_model_is_fitted_without_the_purchase_models_penalty(tmp_path):
    # models.penalizer is for the purchase models; on the spend model lifetimes' penalty acts in the currency
    # unit and pulls q below 1 (CDNOW sample: penalizer 0.01 gives q = 0.96), so neither the pipeline nor the
    # Spark job applies it there, and no spend-model message advises it
    from analysis.scoring import modelstage
    from analysis.config import load_params
    from analysis.data.summary import rfm_summary

    raw = (ROOT / "params" / "cdnow_sample.yaml").read_text().replace("penalizer: 0.0", "penalizer: 0.01")
    raw = raw.replace("path: data/sample/", f"path: {ROOT / 'data' / 'sample'}/").replace("n_draws: 200", "n_draws: 20")
    (tmp_path / "p.yaml").write_text(raw)
    params = load_params(tmp_path / "p.yaml")
    assert params.models.penalizer == 0.01
    purchases = tmp_path / "purchases.parquet"
    quality = ingest_transactions(params.data, purchases)
    dates = steps.resolve_dates(params, quality.observation_end, quality.first_date)
    customers = rfm_summary(purchases, dates["observation_end"], "W")
    stage = modelstage.run_model_stage(purchases, customers, dates, params)
    assert stage.final_gamma_gamma.params == pytest.approx(models.fit_gamma_gamma(customers).params, rel=1e-12)
    with pytest.raises(models.ModelFitError) as err:
        models.fit_gamma_gamma(customers, penalizer=0.01)
    assert "q = 0.963 is <= 1" in str(err.value) and "A penalizer does not help here" in str(err.value)
    assert "small penalizer" not in modelstage.SPEND_ADVICE
