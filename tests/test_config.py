from __future__ import annotations

import pytest

from analysis.config import load_params
from analysis.errors import ConfigError
from conftest import ROOT


def test_shipped_configurations_load():
    for path in (ROOT / "params").glob("*.yaml"):
        params = load_params(path)
        assert params.data.path


def test_unknown_key_is_an_error(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("data:\n  path: x.csv\nclv:\n  horizon_month: 12\n")
    with pytest.raises(ConfigError, match=r"clv.horizon_month: unknown key"):
        load_params(path)


def test_calibration_after_observation_end_is_an_error(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("data:\n  path: x.csv\nperiod:\n  observation_end: 2020-01-01\n  calibration_end: 2020-02-01\n")
    with pytest.raises(ConfigError, match="calibration_end"):
        load_params(path)


def test_negative_horizon_and_missing_file(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("data:\n  path: x.csv\nclv:\n  horizon_months: -3\n")
    with pytest.raises(ConfigError, match="horizon_months"):
        load_params(path)
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")


def test_scenario_horizon_must_match_the_clv_horizon(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "data:\n  path: x.csv\nclv:\n  horizon_months: 24\nroi:\n  scenarios:\n"
        "    - {name: s1, target: {best_n: 10}, cost_per_contact: 1, uplift: 0.1, horizon_months: 12}\n"
    )
    with pytest.raises(ConfigError, match="horizon"):
        load_params(path)
