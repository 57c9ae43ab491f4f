"""A full disk and a read-only file system, made for real: a small tmpfs mounted for the test (#18).

Mounting needs root (CI runs as root); elsewhere these tests skip.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT
from test_safety import TEST_KEY


@contextlib.contextmanager
def _tmpfs(size: str):
    folder = Path(tempfile.mkdtemp(prefix="retention-kit-tmpfs-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _run(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis.pipeline", "run", "--params",
                           str(ROOT / "params" / "cdnow_sample.yaml"), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "RETENTION_KIT_PSEUDONYM_KEY": TEST_KEY, "RETENTION_KIT_CHROMIUM": "none"})


def test_a_full_disk_is_one_clear_line_and_the_unfinished_run_is_removed():
    with _tmpfs("1m") as disk:
        result = _run(disk / "report")
        said = result.stdout + result.stderr
        assert result.returncode == 2, said
        assert "No space left on device" in said and "the disk is full: free some space" in said, said
        assert f"the report folder {disk / 'report'}" in said or str(disk) in said, said
        assert "unexpected" not in said and "Traceback" not in said, said
        left = [p.name for p in disk.iterdir() if p.name.startswith((".staging-", ".old-")) or p.name == "report"]
        assert left == [], left
        usage = shutil.disk_usage(disk)
        assert usage.used < usage.total / 2, usage  # the space the run took is given back


def test_a_read_only_reports_folder_is_one_clear_line_and_nothing_changes():
    with _tmpfs("8m") as disk:
        report = disk / "report"
        report.mkdir()
        (report / ".retention-kit-run").write_text("")
        (report / "index.html").write_text("last good")
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        result = _run(report)
        said = result.stdout + result.stderr
        assert result.returncode == 2, said
        assert "the file system is read-only: choose another folder with OUT=" in said and str(disk) in said, said
        assert "unexpected" not in said and "Traceback" not in said, said
        assert (report / "index.html").read_text() == "last good"
        assert sorted(p.name for p in disk.iterdir()) == ["report"]
