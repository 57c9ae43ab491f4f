"""Pages run in the order they need each other, two at a time where they can (analysis.runs.schedule)."""

from __future__ import annotations

import re
import threading
import time

import pytest

from analysis.errors import ConfigError
from analysis.runs import schedule

NEEDS = {"a": (), "b": (), "c": ("b",), "d": ("b", "c"), "e": ("b",)}


def _recorder(seconds: dict[str, float], fail: str | None = None):
    events: list[tuple[str, str]] = []
    lock = threading.Lock()

    def run_one(name: str) -> None:
        with lock:
            events.append(("start", name))
        time.sleep(seconds.get(name, 0.05))
        with lock:
            events.append(("end", name))
        if name == fail:
            raise RuntimeError(f"{name} broke")

    return events, run_one


def test_one_at_a_time_runs_in_the_given_order():
    events, run_one = _recorder({})
    schedule.run_in_order(list(NEEDS), NEEDS, run_one, jobs=1)
    assert events == [(what, n) for n in NEEDS for what in ("start", "end")]


def test_two_at_a_time_start_together_and_each_waits_for_what_it_needs():
    events, run_one = _recorder({"a": 0.3, "b": 0.1, "c": 0.2, "d": 0.1, "e": 0.1})
    schedule.run_in_order(list(NEEDS), NEEDS, run_one, jobs=2)
    at = {(what, n): i for i, (what, n) in enumerate(events)}
    assert events[:2] == [("start", "a"), ("start", "b")]  # nothing needed: both at once
    for name, needed in NEEDS.items():
        for other in needed:
            assert at[("end", other)] < at[("start", name)], (name, other)
    # never more than two at once
    running = 0
    for what, _ in events:
        running += 1 if what == "start" else -1
        assert running <= 2
    assert sorted(n for what, n in events if what == "end") == sorted(NEEDS)


def test_a_failure_starts_nothing_more_lets_the_running_page_finish_and_is_raised():
    events, run_one = _recorder({"a": 0.3, "b": 0.05}, fail="b")
    with pytest.raises(RuntimeError, match="b broke"):
        schedule.run_in_order(list(NEEDS), NEEDS, run_one, jobs=2)
    assert ("end", "a") in events  # let finish
    assert {n for what, n in events if what == "start"} == {"a", "b"}  # c, d, e never started


def test_an_interruption_aborts_what_runs(monkeypatch):
    aborted = threading.Event()

    def run_one(name: str) -> None:
        if name == "a":
            raise KeyboardInterrupt  # as if Ctrl-C reached the main thread while it waits
        aborted.wait(10)

    calls = []

    def abort():
        calls.append(1)
        aborted.set()

    # the interruption must reach the waiting main thread: raise it from the wait itself
    real_wait = threading.Condition.wait

    def wait(self, timeout=None):
        real_wait(self, 0.2)
        raise KeyboardInterrupt

    monkeypatch.setattr(threading.Condition, "wait", wait)
    with pytest.raises(KeyboardInterrupt):
        schedule.run_in_order(["a", "b"], {"a": (), "b": ()}, run_one, jobs=2, abort=abort)
    assert calls == [1] and aborted.is_set()


def test_jobs_two_on_two_cores_and_up_to_very_big_data_else_one_or_as_set(monkeypatch):
    monkeypatch.delenv(schedule.JOBS_ENV, raising=False)
    monkeypatch.setattr(schedule.os, "cpu_count", lambda: 2)
    assert schedule.page_jobs() == 2
    assert schedule.page_jobs(schedule.SIDE_BY_SIDE_MAX_ROWS + 1) == 2  # 01 beside 03 and 04
    assert schedule.page_jobs(schedule.BESIDE_MAX_ROWS) == 2
    assert schedule.page_jobs(schedule.BESIDE_MAX_ROWS + 1) == 1
    monkeypatch.setattr(schedule.os, "cpu_count", lambda: 1)
    assert schedule.page_jobs() == 1
    monkeypatch.setenv(schedule.JOBS_ENV, "3")
    assert schedule.page_jobs() == 3
    monkeypatch.setenv(schedule.JOBS_ENV, "two")
    with pytest.raises(ConfigError, match="RETENTION_KIT_JOBS='two'"):
        schedule.page_jobs()


REPORT = ["01_data_and_kpis", "02_clv_models", "03_segments", "04_retention_roi", "05_campaigns"]


def _report_plan(rows: int):
    from analysis.reporting.pages import PAGES, needs

    after = {stem: needs(stem, REPORT) for stem in REPORT}
    return after, schedule.waits(REPORT, after, rows, {page.stem: page.big_data_after for page in PAGES})


def test_on_small_data_the_pages_wait_only_for_what_they_read():
    after, (order, waits) = _report_plan(schedule.SIDE_BY_SIDE_MAX_ROWS)
    assert order == REPORT and waits == after
    assert waits["01_data_and_kpis"] == () and waits["02_clv_models"] == ()


def test_on_big_data_page_01_runs_after_page_02_beside_pages_03_and_04():
    """Page 02 uses both cores on big data, 03 and 04 one: 01 (read by no page) waits for 02 and starts with 03,
    after it, so the pages on the way to the last one start first; what each page reads does not change."""
    after, (order, waits) = _report_plan(schedule.SIDE_BY_SIDE_MAX_ROWS + 1)
    assert after["01_data_and_kpis"] == ()  # its step key still takes only the ingest's artifacts
    assert waits["01_data_and_kpis"] == ("02_clv_models",)
    assert {k: v for k, v in waits.items() if k != "01_data_and_kpis"} == {
        k: v for k, v in after.items() if k != "01_data_and_kpis"}
    assert order == ["02_clv_models", "03_segments", "04_retention_roi", "05_campaigns", "01_data_and_kpis"]
    events, run_one = _recorder({"02_clv_models": 0.2, "03_segments": 0.3, "04_retention_roi": 0.3,
                                 "01_data_and_kpis": 0.6, "05_campaigns": 0.05})
    schedule.run_in_order(order, waits, run_one, jobs=2)
    assert events[:3] == [("start", "02_clv_models"), ("end", "02_clv_models"), ("start", "03_segments")]
    at = {(what, n): i for i, (what, n) in enumerate(events)}
    assert at[("start", "01_data_and_kpis")] < at[("end", "03_segments")]  # beside 03 (after the short 05)
    assert at[("start", "04_retention_roi")] < at[("end", "01_data_and_kpis")]  # and 04


def test_lines_echoed_by_two_pages_at_once_never_run_into_each_other(capfd):
    """Two pages run side by side and each echoes its progress from its own thread: every line arrives whole,
    on a line of its own (print wrote the text and the line end separately, and two '[2/8] ... [3/8] ...' lines
    once ran together)."""
    import threading

    from analysis.runs import console

    def page(name: str) -> None:
        for i in range(3000):
            console.echo(f"[{name}] {name}: line {i} of the page")

    threads = [threading.Thread(target=page, args=(n,)) for n in ("01_data_and_kpis", "02_clv_models")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = capfd.readouterr().out.splitlines()
    assert len(lines) == 6000
    assert all(re.fullmatch(r"\[(\w+)\] \1: line \d+ of the page", line) for line in lines)


def test_the_console_says_why_a_page_waits_for_one_it_does_not_read_and_why_one_at_a_time(monkeypatch):
    monkeypatch.delenv(schedule.JOBS_ENV, raising=False)
    monkeypatch.setattr(schedule.os, "cpu_count", lambda: 2)
    rows = schedule.SIDE_BY_SIDE_MAX_ROWS
    after, (_, waits) = _report_plan(rows)
    assert schedule.plan_lines(2, rows, after, waits) == [
        "2 pages at a time where one does not need the other's results (RETENTION_KIT_JOBS=1: one at a time)"]
    after, (_, waits) = _report_plan(10_695_972)
    assert schedule.plan_lines(2, 10_695_972, after, waits)[1:] == [
        "with 10,695,972 purchase rows 01_data_and_kpis runs after 02_clv_models, whose own threads use both cores,"
        " beside the pages after it"]
    assert schedule.plan_lines(1, 106_961_003, after, after) == [
        "one page at a time: with 106,961,003 purchase rows two pages at once would need more memory"
        " (RETENTION_KIT_JOBS=2: two at a time)"]
    monkeypatch.setenv(schedule.JOBS_ENV, "1")  # asked for: nothing to explain
    assert schedule.plan_lines(1, 70_000, after, after) == []


def test_a_page_that_released_its_artifacts_lets_its_readers_start_before_it_ends():
    """#13: page 02 writes its artifacts, then draws its charts for seconds on one core; page 03, which reads them,
    starts when they are written (schedule.Released), page 01, which waits for 02 for another reason (big data),
    only at its end; and the released page still counts as one of the two at a time."""
    needs = {"02": (), "03": ("02",), "01": ("02",), "04": ("03",)}
    released = schedule.Released({"02": (), "03": ("02",), "01": (), "04": ("03",)})
    events: list[tuple[str, str]] = []
    lock = threading.Lock()

    def run_one(name: str) -> None:
        with lock:
            events.append(("start", name))
        if name == "02":
            time.sleep(0.1)
            with lock:
                events.append(("release", name))
            released(name)
            time.sleep(0.4)  # its charts
        else:
            time.sleep(0.1)
        with lock:
            events.append(("end", name))

    schedule.run_in_order(list(needs), needs, run_one, jobs=2, released=released)
    at = {(what, n): i for i, (what, n) in enumerate(events)}
    assert at[("release", "02")] < at[("start", "03")] < at[("end", "02")]  # a reader: at the release
    assert at[("end", "02")] < at[("start", "01")]  # waits for 02 for another reason: at its end
    assert at[("end", "03")] < at[("start", "04")]
    running = 0
    for what, _ in events:
        running += {"start": 1, "end": -1}.get(what, 0)
        assert running <= 2
    # without release the reader waits for the end, as before
    events.clear()
    schedule.run_in_order(list(needs), needs, run_one, jobs=2)
    at = {(what, n): i for i, (what, n) in enumerate(events)}
    assert at[("end", "02")] < at[("start", "03")]
