"""A change to the configuration re-runs only the steps that read the changed sections (#13).

Each notebook records the configuration sections it reads (analysis.config.recording); a step's key takes
only the sections analysis.runs.steps.STEP_SECTIONS lists for it, and a notebook that reads another section
stops the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from analysis.runs import steps
from analysis.config import SECTIONS, load_params, recording, section_digests
from analysis.errors import KitError
from conftest import ROOT, SAMPLE


def test_recording_notes_each_section_read_and_a_whole_dump_as_all(tmp_path):
    record = tmp_path / "logs" / "page.sections.json"
    params = recording(load_params(ROOT / "params" / "default.yaml"), record)
    assert json.loads(record.read_text()) == []
    assert params.report.language == "en" and params.roi.scenarios
    assert json.loads(record.read_text()) == ["report", "roi"]
    params.model_dump()
    assert json.loads(record.read_text()) == sorted(SECTIONS)
    assert type(params).__name__ == "RunParams" and isinstance(params, type(load_params(ROOT / "params" / "default.yaml")))


def test_a_changed_value_changes_the_digest_of_its_section_only(tmp_path):
    text = (ROOT / "params" / "default.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text.replace("cost_per_contact: 0.10", "cost_per_contact: 0.15", 1)
                                     + "\n# a comment changes nothing\n")
    a, b = (section_digests(load_params(tmp_path / n)) for n in ("a.yaml", "b.yaml"))
    assert [s for s in SECTIONS if a[s] != b[s]] == ["roi"]


def test_a_notebook_reading_an_undeclared_section_stops_the_run(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "03_segments.sections.json").write_text(json.dumps(["clv", "roi", "segments"]))
    with pytest.raises(KitError, match=r"Notebook 03_segments read the configuration section\(s\) \['roi'\].*pages.PAGES"):
        steps.check_sections_read(tmp_path, "03_segments")
    (tmp_path / "logs" / "03_segments.sections.json").write_text(json.dumps(["clv", "segments"]))
    steps.check_sections_read(tmp_path, "03_segments")
    assert set(steps.step_sections("99_new_page")) == set(SECTIONS)  # an unlisted notebook depends on all


@pytest.mark.slow
def test_a_campaign_cost_reruns_only_the_campaign_pages(tmp_path):
    raw = yaml.safe_load((ROOT / "params" / "cdnow_sample.yaml").read_text())
    raw["data"]["path"] = str(SAMPLE / "cdnow_sample.csv")
    raw["models"]["n_draws"] = 30
    params = tmp_path / "params.yaml"
    out = tmp_path / "run"
    env = {**os.environ, "RETENTION_KIT_CHROMIUM": "none"}

    def run() -> subprocess.CompletedProcess:
        params.write_text(yaml.safe_dump(raw, sort_keys=False))
        result = subprocess.run([sys.executable, "-m", "analysis.pipeline", "run", "--params", str(params), "--out",
                                 str(out)], cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result

    run()
    before = json.loads((out / "manifest.json").read_text())
    raw["roi"]["scenarios"][0]["cost_per_contact"] = raw["roi"]["scenarios"][0]["cost_per_contact"] + 1.0
    result = run()
    after = json.loads((out / "manifest.json").read_text())
    reused = {s["step"]: s["reused"] for s in after["steps"] if "key" in s}
    assert reused == {"ingest": True, "01_data_and_kpis": True, "02_clv_models": True, "03_segments": True,
                      "04_retention_roi": False, "05_campaigns": False}, reused
    assert "04_retention_roi: executing with papermill (changed in the configuration: roi)" in result.stdout
    assert "03_segments: unchanged, reused" in result.stdout
    changed = {k for k in after["artifacts"] if after["artifacts"][k] != before["artifacts"].get(k)}
    assert "artifacts/roi.csv" in changed
    assert not {k for k in changed if k.startswith(("artifacts/customers", "artifacts/model", "artifacts/kpi"))}

    raw["report"]["language"] = "nl"  # the words of every page: every notebook runs again, the ingest not
    run()
    reused = {s["step"]: s["reused"] for s in json.loads((out / "manifest.json").read_text())["steps"] if "key" in s}
    assert reused["ingest"] and not any(v for k, v in reused.items() if k != "ingest"), reused
