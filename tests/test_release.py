"""A page that has written its artifacts lets the pages that read them start while it draws its charts (#13): the
page says so on its log (analysis.reporting.nb.Run.artifacts_written), the pipeline hears it while following the
log (analysis.runs.kernels), hashes the artifacts for the readers' keys (analysis.runs.steps.Steps.release) and
starts them (analysis.runs.schedule.Released, tested in test_schedule.py)."""

from __future__ import annotations

import logging
import time

import pytest

from analysis.errors import StepFailed
from analysis.runs import incremental, kernels
from analysis.runs.runfolder import ARTIFACTS_WRITTEN
from analysis.runs.steps import Steps


def _steps(tmp_path):
    (tmp_path / "artifacts").mkdir()
    steps = Steps(tmp_path, incremental.Reuse(None, enabled=False), render_only=False)
    steps.side_by_side = True
    return steps


def test_released_artifacts_are_hashed_for_the_readers_and_recorded_at_the_end(tmp_path):
    steps = _steps(tmp_path)
    seen = {}

    def page_02():
        (tmp_path / "artifacts" / "model.json").write_text('{"a": 1}')
        (tmp_path / "artifacts" / "tracking.csv").write_text("t\n1\n")
        steps.release("02_clv_models")
        seen["while"] = steps.artifacts_of(("ingest", "02_clv_models"))
        (tmp_path / "logs").mkdir()
        (tmp_path / "logs" / "02_clv_models.log").write_text("charts drawn\n")  # not an artifact: may follow

    steps.run("02_clv_models", "key", page_02, "[3/8] 02_clv_models: executing with papermill")
    sha = incremental.sha256_file
    expected = {"artifacts/model.json": sha(tmp_path / "artifacts" / "model.json"),
                "artifacts/tracking.csv": sha(tmp_path / "artifacts" / "tracking.csv")}
    assert seen["while"] == expected
    assert steps.artifacts_of(["02_clv_models"]) == expected  # from the record now


def test_an_artifact_changed_after_the_release_stops_the_run(tmp_path):
    steps = _steps(tmp_path)

    def page_02():
        (tmp_path / "artifacts" / "model.json").write_text('{"a": 1}')
        steps.release("02_clv_models")
        (tmp_path / "artifacts" / "model.json").write_text('{"a": 2}')

    with pytest.raises(StepFailed, match=r"02_clv_models changed artifacts/model\.json after"):
        steps.run("02_clv_models", "key", page_02, "[3/8] 02_clv_models: executing with papermill")


def test_the_log_follower_calls_the_release_once_on_the_page_s_line(tmp_path, capsys):
    log = tmp_path / "02_clv_models.log"
    log.write_text("")
    calls = []
    handler = logging.FileHandler(log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("analysis.reporting.nb")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        with kernels._progress_from(log, "02_clv_models: ", interval=0.02, on_release=lambda: calls.append(1)):
            logger.info("model stage: scoring")
            time.sleep(0.1)
            assert calls == []
            logger.info(ARTIFACTS_WRITTEN)
            for _ in range(100):
                if calls:
                    break
                time.sleep(0.02)
            assert calls == [1]  # while the page still runs
            logger.info(ARTIFACTS_WRITTEN)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
        handler.close()
    assert calls == [1]
    out = capsys.readouterr().out
    assert f"02_clv_models: {ARTIFACTS_WRITTEN}" in out
