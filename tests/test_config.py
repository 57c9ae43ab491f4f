from __future__ import annotations

from pathlib import Path

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


def test_a_report_language_without_a_catalogue_names_the_languages_there_are(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("data:\n  path: x.csv\nreport:\n  language: de\n")
    with pytest.raises(ConfigError, match=r"report.language must be one of en, nl .*got 'de'"):
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


def _write(tmp_path, text: str | bytes, name: str = "p.yaml"):
    path = tmp_path / name
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


def test_a_key_given_twice_is_an_error(tmp_path):
    path = _write(tmp_path, "data:\n  path: x.csv\nperiod:\n  time_unit: D\nperiod:\n  time_unit: W\n")
    with pytest.raises(ConfigError, match=r"the key 'period' is given twice \(lines 3 and 5\)"):
        load_params(path)


def test_an_observation_end_in_the_future_is_an_error(tmp_path):
    path = _write(tmp_path, "data:\n  path: x.csv\nperiod:\n  observation_end: 2999-01-01\n")
    with pytest.raises(ConfigError, match=r"observation_end \(2999-01-01\) is after today"):
        load_params(path)


def test_home_folder_in_the_data_path_is_expanded(tmp_path):
    path = _write(tmp_path, "data:\n  path: ~/exports/tx.csv\n")
    assert load_params(path).data.path == Path.home() / "exports" / "tx.csv"


@pytest.mark.parametrize("content, fragment", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not a text file"),
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ("data:\n  path: x.csv\n  timezone: Mars/Olympus\n", "unknown time zone 'Mars/Olympus'"),
])
def test_unreadable_configurations_get_one_clear_message(tmp_path, content, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_params(_write(tmp_path, content))


def test_a_folder_as_configuration_is_named(tmp_path):
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        load_params(tmp_path)
