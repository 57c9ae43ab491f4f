"""The stage functions of the pages (analysis.runs.stages) when the model page could not fit a model (#16).

The pages end themselves; what matters for the pages after them is what each writes before it returns."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis.config import load_params
from analysis.reporting.nb import Run
from analysis.runs import stages
from conftest import ROOT


def _run_without_model(tmp_path) -> Run:
    run = Run(tmp_path)
    run.artifacts.mkdir(parents=True)
    (run.artifacts / "model.json").write_text(json.dumps({"unavailable": "No purchase model could be fitted."}))
    customers = pd.DataFrame({"frequency": [0, 2], "recency": [0.0, 3.0], "T": [5.0, 6.0]},
                             index=pd.Index(["007", "A"], name="customer_id"))
    run.write_customers(customers, "customers_02_scores.parquet")
    return run


def test_without_a_model_segments_write_the_customers_unsegmented_and_roi_writes_nothing(tmp_path):
    params = load_params(ROOT / "params" / "default.yaml")
    run = _run_without_model(tmp_path)
    assert stages.segments(params, run, {"observation_end": "1998-06-30"}) is None
    written = run.read_customers()
    assert written.index.tolist() == ["007", "A"] and list(written.columns) == ["frequency", "recency", "T"]
    assert stages.retention_roi(params, run) is None
    assert sorted(p.name for p in run.artifacts.iterdir()) == ["customers.parquet", "customers_02_scores.parquet",
                                                               "model.json"]


def test_without_campaigns_the_campaign_page_writes_nothing(tmp_path):
    params = load_params(ROOT / "params" / "default.yaml").model_copy(update={"campaigns": []})
    run = _run_without_model(tmp_path)
    assert stages.campaigns(params, run, {"observation_end": "1998-06-30"}) is None
    assert not (run.artifacts / "campaigns.csv").exists()


def test_a_customer_table_reads_back_as_it_was_written(tmp_path):
    """write_customers and read_customers no longer copy the table (#13): what is read back is the table written,
    column types and the text ids (leading zeros kept) included; also only some columns, and ids that another tool
    stored as numbers (read as text)."""
    import numpy as np

    run = Run(tmp_path)
    run.artifacts.mkdir(parents=True)
    customers = pd.DataFrame({
        "clv": [1.5, np.nan, 3.25], "n_purchases": np.array([1, 2, 3], dtype=np.int64),
        "segment": pd.Categorical(["low", "high", "low"], categories=["high", "low"], ordered=True),
        "last_purchase": pd.to_datetime(["1997-01-01", "1998-06-30", "1997-12-31"]),
        "action": ["call", None, "mail"], "active": [True, False, True],
    }, index=pd.Index(["007", "A", "10"], name="customer_id"))
    run.write_customers(customers, "t.parquet")
    pd.testing.assert_frame_equal(run.read_customers("t.parquet"), customers)
    pd.testing.assert_frame_equal(run.read_customers("t.parquet", columns=["segment", "clv"]),
                                  customers[["segment", "clv"]])
    with pytest.raises(ValueError, match="customer_id"):
        run.write_customers(customers.assign(customer_id=1), "u.parquet")
    customers.reset_index().assign(customer_id=[7, 1, 10]).to_parquet(run.artifacts / "n.parquet", index=False)
    assert run.read_customers("n.parquet").index.tolist() == ["7", "1", "10"]
