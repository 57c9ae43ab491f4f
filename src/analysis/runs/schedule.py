"""Running the report pages in the order they need each other, two at a time where they can.

A page needs the pages whose artifacts it reads (:func:`analysis.reporting.pages.needs`). On a machine with two
cores, page 01 runs alongside 02, and 05 alongside 03 and 04: each kernel is one process, so the pages use both
cores. On big data (:data:`SIDE_BY_SIDE_MAX_ROWS`) page 01 waits for page 02 (:func:`waits`): page 02's own
threads already use both cores there, while pages 03 and 04 leave one idle, and page 01, which no page reads,
runs there instead. On very big data (:data:`BESIDE_MAX_ROWS`) the pages run one at a time, for memory. A page
that reads another's artifacts starts as soon as that page says they are written, while it still draws its
charts (:class:`Released`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence

from analysis.errors import ConfigError

#: Above this many purchase rows page 01 does not run beside page 02 but after it, beside pages 03 and 04
#: (:func:`waits`). Measured on 2 cores (bench/report_path.py, alternated, under the same load): 100k customers
#: (1.07M rows) 28.7 and 31.0 s beside 02 against 33.4 and 35.1 s one at a time, the same peak memory; at 1M
#: customers (10.7M rows) page 02's own threads (DuckDB, the model fits, the CLV band) fill both cores: beside
#: it, 01 and 02 only compete (36.4-37.3 s against 37.1-37.6 s one page at a time), while pages 03 and 04 use
#: one core (bench/README.md, "Page 01 beside pages 03 and 04").
SIDE_BY_SIDE_MAX_ROWS = 2_000_000

#: Above this many purchase rows the pages run one at a time (:func:`page_jobs`): two big pages at once need more
#: memory than one. 10M customers (107M rows): page 01 beside 03 and 04 took 288.7 s at a peak of 13.8 GB, one at
#: a time 10.3 GB (the goal: 12 GB); 1M customers (10.7M rows): 2.5-2.8 GB either way.
BESIDE_MAX_ROWS = 30_000_000

#: Set to 1 to run the pages one at a time, to 2 to run them side by side whatever the size of the data.
JOBS_ENV = "RETENTION_KIT_JOBS"


def page_jobs(rows: int = 0) -> int:
    """How many pages run at once: :data:`JOBS_ENV` if set, else 2 on a machine with at least two cores and data of
    at most :data:`BESIDE_MAX_ROWS` purchase rows, else 1."""
    given = os.environ.get(JOBS_ENV, "").strip()
    if given:
        if not given.isdigit() or int(given) < 1:
            raise ConfigError(f"{JOBS_ENV}={given!r}: give the number of report pages to run at once, 1 or more.")
        return int(given)
    return 2 if (os.cpu_count() or 1) >= 2 and rows <= BESIDE_MAX_ROWS else 1


def waits(names: Sequence[str], needs: dict[str, Sequence[str]], rows: int,
          big_data_after: dict[str, Sequence[str]], jobs: int = 2) -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """The order in which :func:`run_in_order` starts the pages and what each waits for: up to
    :data:`SIDE_BY_SIDE_MAX_ROWS` purchase rows, or one page at a time (``jobs`` 1), ``names`` and ``needs`` as they
    are; above, each page of ``big_data_after`` (:attr:`analysis.reporting.pages.Page.big_data_after`) also waits
    for the pages named there (those of ``names``) and starts after the pages that are ready at the same time, so
    that the pages on the way to the last one start first. What a page reads (its step key) does not change. One
    at a time the pages keep their order: at 10M customers, 01 last took the process tree to 12.6 GB (it ran while
    the other kernel held what 03 left), first 10.5 GB."""
    if rows <= SIDE_BY_SIDE_MAX_ROWS or jobs <= 1:
        return list(names), {name: tuple(needs.get(name, ())) for name in names}
    extra = {name: tuple(n for n in big_data_after.get(name, ()) if n in names) for name in names}
    waits_for = {name: tuple(dict.fromkeys((*needs.get(name, ()), *extra[name]))) for name in names}
    return sorted(names, key=lambda name: bool(extra[name])), waits_for


def plan_lines(jobs: int, rows: int, needs: dict[str, Sequence[str]], waits_for: dict[str, Sequence[str]]) -> list[str]:
    """What the console says about how the pages run (``needs``: what each page reads; ``waits_for``: what it waits
    for, :func:`waits`), so that an analyst sees why a page starts after one it does not read, or why the pages run
    one at a time."""
    if jobs <= 1:
        if page_jobs(0) <= 1:  # set so, or one core: not for the size of the data
            return []
        return [f"one page at a time: with {rows:,} purchase rows two pages at once would need more memory"
                f" ({JOBS_ENV}=2: two at a time)"]
    lines = [f"{jobs} pages at a time where one does not need the other's results ({JOBS_ENV}=1: one at a time)"]
    for name, waited in waits_for.items():
        extra = [n for n in waited if n not in needs.get(name, ())]
        if extra:
            lines.append(f"with {rows:,} purchase rows {name} runs after {', '.join(extra)}, whose own threads use"
                         " both cores, beside the pages after it")
    return lines


class Released:
    """Pages whose artifacts are all written while the page itself still runs (it draws its charts): a page that
    waits for such a page only because it reads its artifacts (``reads``, :func:`analysis.reporting.pages.needs`)
    may start then (:func:`run_in_order`). At a million customers page 02 draws its charts for about 1.5 s on one
    core while page 03, which reads its scores, waited for them (bench/README.md). Called with a page's name from
    any thread; :func:`run_in_order` waits on its ``condition``, which a release notifies."""

    def __init__(self, reads: dict[str, Sequence[str]]) -> None:
        self.reads = {name: set(pages) for name, pages in reads.items()}
        self.pages: set[str] = set()
        self.condition = threading.Condition()

    def __call__(self, name: str) -> None:
        with self.condition:
            self.pages.add(name)
            self.condition.notify_all()

    def satisfies(self, name: str, page: str) -> bool:
        """Whether ``page`` has released what ``name`` waits for it for."""
        return page in self.pages and page in self.reads.get(name, ())


def run_in_order(names: Sequence[str], needs: dict[str, Sequence[str]], run_one: Callable[[str], None], jobs: int,
                 abort: Callable[[], None] | None = None, released: Released | None = None) -> None:
    """Call ``run_one(name)`` for every name, each after the names it ``needs`` have finished, at most ``jobs`` at
    once, starting them in the order of ``names``. With ``released``, a name also starts when the ones it needs
    have finished or released what it reads (:class:`Released`); a released one still counts as running.

    With ``jobs`` 1 everything runs in this thread, one after the other. Otherwise each call runs in a thread of
    its own. When one fails, no other starts; the ones running are let finish, and the first failure (in the
    order of ``names``) is raised. When this thread is interrupted (Ctrl-C, SIGTERM), ``abort()`` stops what is
    running (the pages' kernels) before the interruption goes on.
    """
    if jobs <= 1:
        for name in names:
            run_one(name)
        return
    done: set[str] = set()
    failures: dict[str, BaseException] = {}
    running: dict[str, threading.Thread] = {}
    finished = released.condition if released is not None else threading.Condition()

    def work(name: str) -> None:
        try:
            run_one(name)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, raised there
            with finished:
                failures[name] = exc
        finally:
            with finished:
                done.add(name)
                finished.notify_all()

    pending = list(names)

    def ready(name: str) -> bool:
        return all(n in done or (released is not None and released.satisfies(name, n)) for n in needs.get(name, ()))

    try:
        with finished:
            while pending or running:
                for name in list(pending):
                    if failures or len(running) >= jobs:
                        break
                    if ready(name):
                        pending.remove(name)
                        thread = threading.Thread(target=work, args=(name,), name=f"page-{name}", daemon=True)
                        running[name] = thread
                        thread.start()
                if failures and not running:
                    break
                finished.wait()
                for name in [n for n in running if n in done]:
                    running.pop(name).join()
                if pending and not running and not failures and not any(ready(name) for name in pending):
                    raise RuntimeError(f"pages {pending} wait for pages that never run")
    except BaseException:
        if abort is not None:
            abort()
        for thread in list(running.values()):
            thread.join(timeout=60)
        raise
    if failures:
        raise next(failures[n] for n in names if n in failures)
