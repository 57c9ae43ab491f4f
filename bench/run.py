"""Benchmark the kit's model stage against the plain-lifetimes way on simulated logs.

Usage (from the project folder)::

    .venv/bin/python bench/run.py                      # 100k and 1M customers, 3 repeats
    .venv/bin/python bench/run.py --sizes 10m --repeat 1
    .venv/bin/python bench/run.py --sizes 100k --repeat 1 --n-draws 0

Transaction logs are simulated once with :mod:`analysis.simulate` (known BG/NBD and
Gamma-Gamma parameters) and cached under ``bench/cache/`` (git-ignored). Every run of
every way is a fresh ``python`` subprocess, so its peak memory (max RSS, from
``os.wait4``) is its own. Steps are timed inside the subprocess, after the imports.
Results go to ``bench/results.json`` and a table is printed; see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))  # works without `pip install -e .` too

SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
SEED = 20240101
TIME_UNIT = "W"
HORIZON_MONTHS = 12
ANNUAL_DISCOUNT_RATE = 0.10
GROSS_MARGIN = 0.30
LEVEL = 0.90
KIT_STEPS = ["summary", "fit_bgnbd", "fit_gamma_gamma", "p_alive", "expected_purchases", "clv"]
LIFETIMES_STEPS = ["load", *KIT_STEPS]
SPARK_STEPS = ["summary", "fit_bgnbd", "fit_gamma_gamma", "clv"]  # plus "startup" (JVM), reported apart
STEPS = {"kit": KIT_STEPS, "lifetimes": LIFETIMES_STEPS, "spark": SPARK_STEPS}
ALL_STEPS = ["startup", *LIFETIMES_STEPS]
PROGRESS = "progress| "


def _size_label(n: int) -> str:
    return next((k for k, v in SIZES.items() if v == n), str(n))


# --------------------------------------------------------------------------------------
# Cached simulated logs
# --------------------------------------------------------------------------------------


def ensure_log(n_customers: int, cache: Path, seed: int = SEED) -> tuple[Path, dict]:
    """The simulated log for ``n_customers`` (written once, reused while its spec is unchanged)."""
    from analysis.simulate import SimulationSpec, write_transactions

    spec = SimulationSpec(n_customers=n_customers, seed=seed)
    path = cache / f"sim_{n_customers}_seed{seed}.parquet"
    meta_path = path.with_name(path.name + ".json")
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in spec.to_dict()} == spec.to_dict():
            return path, meta
    print(f"  simulating {n_customers:,} customers -> {path.relative_to(ROOT)} ...", flush=True)
    t0 = time.perf_counter()
    meta = write_transactions(spec, path)
    print(f"  {meta['n_transactions']:,} transactions in {time.perf_counter() - t0:.1f} s", flush=True)
    return path, meta


# --------------------------------------------------------------------------------------
# The two ways (run in a subprocess: `run.py worker ...`)
# --------------------------------------------------------------------------------------


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def step(self, name: str):
        t0 = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - t0


def horizon_in_units() -> float:
    """12 months in weeks (a month is 365.25/12 days, as in analysis.scoring.clv)."""
    return HORIZON_MONTHS * 365.25 / 12 / 7


def kit_way(path: Path, observation_end: str, n_draws: int, clv_chunk: int | None) -> tuple[dict, dict, "object"]:
    """DuckDB summary from Parquet, fits via analysis.models, scores and CLV via analysis.scoring.clv."""
    import pandas as pd

    from analysis.scoring import clv

    from analysis import models
    from analysis.data.summary import rfm_summary

    timer = _Timer()
    with timer.step("summary"):
        s = rfm_summary(path, observation_end, TIME_UNIT)
    with timer.step("fit_bgnbd"):
        bg = models.fit_model(s, "bgnbd", time_unit=TIME_UNIT)
    with timer.step("fit_gamma_gamma"):
        gg = models.fit_gamma_gamma(s)
    x, tx, T = (s[c].to_numpy() for c in ("frequency", "recency", "T"))
    with timer.step("p_alive"):
        p_alive = bg.p_alive(x, tx, T)
    with timer.step("expected_purchases"):
        expected = bg.conditional_expected_number_of_purchases_up_to_time(horizon_in_units(), x, tx, T)
    kwargs = dict(horizon_months=HORIZON_MONTHS, annual_discount_rate=ANNUAL_DISCOUNT_RATE, gross_margin=GROSS_MARGIN,
                  n_draws=n_draws, level=LEVEL, seed=0)
    with timer.step("clv"):
        if clv_chunk is None or clv_chunk >= len(s):
            result = clv.customer_lifetime_value(s, bg, gg, **kwargs)
            customers, total = result.customers, [result.total_clv, result.total_clv_low, result.total_clv_high]
        else:  # per-customer bands are the same (same seed, same draws); the band of the total is not available
            parts = [clv.customer_lifetime_value(s.iloc[i:i + clv_chunk], bg, gg, **kwargs).customers
                     for i in range(0, len(s), clv_chunk)]
            customers = pd.concat(parts)
            total = [float(customers["clv"].sum()), None, None]
    scores = pd.DataFrame({
        "frequency": s["frequency"], "recency": s["recency"], "T": s["T"], "monetary_value": s["monetary_value"],
        "p_alive": p_alive, "expected_purchases": expected,
        # lifetimes' CLV is revenue (no margin): compare clv / gross_margin
        "clv_revenue": customers["clv"] / GROSS_MARGIN,
        "clv_low": customers["clv_low"], "clv_high": customers["clv_high"],
    })
    info = {
        "n_customers": len(s),
        "bgnbd": bg.params, "gamma_gamma": gg.params,
        "total_clv": total, "clv_chunk_customers": clv_chunk, "n_draws": n_draws,
        "unique_frequency_recency_T": int(s.groupby(["frequency", "recency", "T"]).ngroups),
    }
    return timer.seconds, info, scores


def lifetimes_way(path: Path, observation_end: str) -> tuple[dict, dict, "object"]:
    """pandas + lifetimes as its documentation shows it, on the same file."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter, GammaGammaFitter
        from lifetimes.utils import summary_data_from_transaction_data

        timer = _Timer()
        with timer.step("load"):
            tx_df = pq.read_table(path).to_pandas(date_as_object=False)
        with timer.step("summary"):
            # freq="D" with freq_multiplier=7: weeks of exactly 7 days (freq="W" would be calendar weeks)
            s = summary_data_from_transaction_data(
                tx_df, "customer_id", "date", monetary_value_col="amount",
                observation_period_end=observation_end, freq="D", freq_multiplier=7,
            )
        del tx_df
        with timer.step("fit_bgnbd"):
            bgf = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
        repeat = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
        with timer.step("fit_gamma_gamma"):
            ggf = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
        with timer.step("p_alive"):
            p_alive = bgf.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
        with timer.step("expected_purchases"):
            expected = bgf.conditional_expected_number_of_purchases_up_to_time(
                horizon_in_units(), s["frequency"], s["recency"], s["T"])
        monthly = (1 + ANNUAL_DISCOUNT_RATE) ** (1 / 12) - 1
        with timer.step("clv"):
            clv = ggf.customer_lifetime_value(bgf, s["frequency"], s["recency"], s["T"], s["monetary_value"],
                                              time=HORIZON_MONTHS, discount_rate=monthly, freq="W")
    s.index = s.index.astype(str)
    s.index.name = "customer_id"
    scores = pd.DataFrame({
        "frequency": s["frequency"], "recency": s["recency"], "T": s["T"], "monetary_value": s["monetary_value"],
        "p_alive": np.asarray(p_alive), "expected_purchases": np.asarray(expected), "clv_revenue": np.asarray(clv),
    }, index=s.index)
    info = {
        "n_customers": len(s),
        "bgnbd": {k: float(bgf.params_[k]) for k in ("r", "alpha", "a", "b")},
        "gamma_gamma": {k: float(ggf.params_[k]) for k in ("p", "q", "v")},
        "total_clv": [float(np.sum(clv)) * GROSS_MARGIN, None, None],
    }
    return timer.seconds, info, scores


def spark_way(path: Path, observation_end: str, n_draws: int, want_scores: bool) -> tuple[dict, dict, "object"]:
    """The kit's Spark engine in local mode (local[2]) on the same file."""
    import pandas as pd

    from analysis import spark_engine

    timer = _Timer()
    with timer.step("startup"):
        spark = spark_engine.spark_session("local[2]", app_name="retention-kit-bench",
                                           conf={"spark.driver.memory": "6g", "spark.sql.shuffle.partitions": "8"})
    with timer.step("summary"):
        s = spark_engine.rfm_summary(spark.read.parquet(str(path)), observation_end, TIME_UNIT).cache()
        n_customers = s.count()
    with timer.step("fit_bgnbd"):
        bg = spark_engine.fit_model(s, "bgnbd", time_unit=TIME_UNIT)
    with timer.step("fit_gamma_gamma"):
        gg = spark_engine.fit_gamma_gamma(s)
    kwargs = dict(horizon_months=HORIZON_MONTHS, annual_discount_rate=ANNUAL_DISCOUNT_RATE, gross_margin=GROSS_MARGIN,
                  n_draws=n_draws, level=LEVEL, seed=0)
    with tempfile.TemporaryDirectory() as tmp, timer.step("clv"):
        spark_engine.score_customers(s, bg, gg, **kwargs).write.parquet(str(Path(tmp) / "scores"))
    scores = None
    if want_scores:
        pdf = spark_engine.to_pandas(spark_engine.score_customers(s, bg, gg, **kwargs))
        summary = spark_engine.to_pandas(s.select("customer_id", "frequency", "recency", "T", "monetary_value"))
        scores = summary.join(pdf)
        scores["clv_revenue"] = scores["clv"] / GROSS_MARGIN
        scores = scores.drop(columns=["clv"])
    spark.stop()
    info = {"n_customers": n_customers, "bgnbd": bg.params, "gamma_gamma": gg.params, "n_draws": n_draws,
            "note": "P(alive) and expected purchases are computed inside the clv step (customer_lifetime_value)"}
    return timer.seconds, info, scores


def worker(args: argparse.Namespace) -> int:
    import logging

    handler = logging.StreamHandler(sys.stdout)  # the kit's progress messages (analysis.* loggers)
    handler.setFormatter(logging.Formatter(PROGRESS + "%(name)s: %(message)s"))
    kit_logger = logging.getLogger("analysis")
    kit_logger.addHandler(handler)
    kit_logger.setLevel(logging.INFO)
    if args.way == "kit":
        seconds, info, scores = kit_way(Path(args.file), args.observation_end, args.n_draws, args.clv_chunk)
    elif args.way == "spark":
        seconds, info, scores = spark_way(Path(args.file), args.observation_end, args.n_draws, bool(args.scores))
    else:
        seconds, info, scores = lifetimes_way(Path(args.file), args.observation_end)
    if args.scores:
        scores.sort_index().to_parquet(args.scores)
    Path(args.result).write_text(json.dumps({"seconds": seconds, "info": info}, default=float))
    return 0


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------


def run_way(way: str, path: Path, observation_end: str, opts: argparse.Namespace, scores: Path | None) -> dict:
    """One fresh subprocess; returns its step times, info, wall time and peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "worker", "--way", way, "--file", str(path),
               "--observation-end", observation_end, "--n-draws", str(opts.n_draws), "--result", str(result)]
        if opts.clv_chunk:
            cmd += ["--clv-chunk", str(opts.clv_chunk)]
        if scores:
            cmd += ["--scores", str(scores)]
        load = os.getloadavg()[0]
        run = spawn(cmd, lambda line: line[len(PROGRESS):] if line.startswith(PROGRESS) else None)
        if run.returncode != 0 or not result.exists():
            raise RuntimeError(f"{way} worker failed (exit {run.returncode}):\n{run.output[-3000:]}")
        data = json.loads(result.read_text())
    # ru_maxrss: the worker process itself (exact). The sampled sum over its process tree counts the
    # JVM and Python workers of the spark way too (sampled every 0.2 s, so it may miss short peaks).
    data.update(wall_seconds=run.wall, peak_rss_bytes=run.usage.ru_maxrss * 1024, peak_tree_rss_bytes=run.tree_peak,
                load_avg_1min_before=load)
    return data


@dataclasses.dataclass
class Spawned:
    """A finished subprocess: exit code, its output, wall time, resource usage and sampled tree peak RSS."""

    returncode: int
    output: str
    wall: float
    usage: object
    tree_peak: int


def spawn(cmd: list[str], show) -> Spawned:
    """Run ``cmd`` from the project folder, printing ``show(line)`` for each output line it returns text for
    (the rest is kept for the error message), and measure it (``os.wait4``; tree RSS sampled)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    tree_peak = [0]
    sampler = threading.Thread(target=_sample_tree_rss, args=(proc.pid, tree_peak), daemon=True)
    sampler.start()
    lines = []
    for raw in proc.stdout:  # progress lines as they come
        line = raw.decode(errors="replace").rstrip()
        lines.append(line)
        shown = show(line)
        if shown is not None:
            print("      " + shown, flush=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    sampler.join(timeout=2)
    return Spawned(os.waitstatus_to_exitcode(status), "\n".join(lines), wall, usage, tree_peak[0])


def _sample_tree_rss(pid: int, peak: list[int]) -> None:
    try:
        import psutil
    except ImportError:
        return
    try:
        root = psutil.Process(pid)
        while root.is_running() and root.status() != psutil.STATUS_ZOMBIE:
            total = 0
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            peak[0] = max(peak[0], total)
            time.sleep(0.2)
    except psutil.Error:
        pass


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def compare(kit_scores: Path, lt_scores: Path, kit_info: dict, lt_info: dict) -> dict:
    """How far the two ways are apart: parameters, summaries and scores."""
    import numpy as np
    import pandas as pd

    k = pd.read_parquet(kit_scores)
    li = pd.read_parquet(lt_scores)
    out: dict = {"same_customers": bool(k.index.equals(li.index))}
    li = li.reindex(k.index)
    out["params_max_rel_diff"] = {
        model: max(_rel(kit_info[model][p], lt_info[model][p]) for p in kit_info[model])
        for model in ("bgnbd", "gamma_gamma")
    }
    out["params"] = {"kit": {m: kit_info[m] for m in ("bgnbd", "gamma_gamma")},
                     "lifetimes": {m: lt_info[m] for m in ("bgnbd", "gamma_gamma")}}
    out["summary_max_abs_diff"] = {c: float((k[c] - li[c]).abs().max()) for c in ("frequency", "recency", "T", "monetary_value")}
    scores = {}
    for c in ("p_alive", "expected_purchases", "clv_revenue"):
        a, b = k[c].to_numpy(), li[c].to_numpy()
        ok = np.isfinite(a) & np.isfinite(b)
        rel = np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-12)
        scores[c] = {"correlation": float(np.corrcoef(a[ok], b[ok])[0, 1]), "max_rel_diff": float(rel.max()),
                     "median_rel_diff": float(np.median(rel)), "non_finite_kit": int((~np.isfinite(a)).sum()),
                     "non_finite_lifetimes": int((~np.isfinite(b)).sum())}
    out["scores"] = scores
    return out


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def summarise_runs(runs: list[dict], steps: list[str]) -> dict:
    extra = [k for k in runs[0]["seconds"] if k not in steps]  # e.g. the JVM start of the spark way
    return {
        "step_seconds_median": {s: _median([r["seconds"][s] for r in runs]) for s in [*extra, *steps]},
        "total_seconds_median": _median([sum(r["seconds"][s] for s in steps) for r in runs]),
        "total_seconds_min": min(sum(r["seconds"][s] for s in steps) for r in runs),
        "wall_seconds_median": _median([r["wall_seconds"] for r in runs]),
        "peak_rss_bytes_max": max(r["peak_rss_bytes"] for r in runs),
        "peak_rss_bytes_median": _median([r["peak_rss_bytes"] for r in runs]),
        "peak_tree_rss_bytes_max": max(r.get("peak_tree_rss_bytes", 0) for r in runs),
        "runs": runs,
    }


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: dict) -> None:
    gb = 1024**3
    for label, res in results["sizes"].items():
        ways = res["ways"]
        print(f"\n{label}: {res['n_customers']:,} customers, {res['n_transactions']:,} transactions,"
              f" median of {res['repeat']} run(s), {res.get('n_draws', '?')} CLV draws")
        names = list(ways)
        both = "kit" in ways and "lifetimes" in ways
        print(f"  {'step (s)':<20}" + "".join(f"{w:>12}" for w in names) + (f"{'kit/lifetimes':>15}" if both else ""))
        for step in ALL_STEPS:
            if not any(step in ways[w]["step_seconds_median"] for w in names):
                continue
            row = [ways[w]["step_seconds_median"].get(step) for w in names]
            ratio = ""
            if both:
                k, li = ways["kit"]["step_seconds_median"].get(step, 0.0), ways["lifetimes"]["step_seconds_median"].get(step)
                ratio = f"{_fmt(k / li if li else None, '.3f'):>15}"
            print(f"  {step:<20}" + "".join(f"{_fmt(v):>12}" for v in row) + ratio)
        totals = [ways[w]["total_seconds_median"] for w in names]
        ratio = f"{totals[names.index('kit')] / totals[names.index('lifetimes')]:>15.3f}" if both else ""
        print(f"  {'total':<20}" + "".join(f"{v:>12.2f}" for v in totals) + ratio)
        peaks = [(ways[w]["peak_tree_rss_bytes_max"] if w == "spark" else ways[w]["peak_rss_bytes_max"]) / gb for w in names]
        ratio = f"{peaks[names.index('kit')] / peaks[names.index('lifetimes')]:>15.3f}" if both else ""
        print(f"  {'peak memory (GB)':<20}" + "".join(f"{v:>12.2f}" for v in peaks) + ratio)
        for way, data in ways.items():
            print(f"  summary throughput {way}: {data['summary_transactions_per_second']:,.0f} transactions/s,"
                  f" {data['summary_customers_per_second']:,.0f} customers/s")
        if "skipped" in res:
            print(f"  skipped: {res['skipped']}")
        for other, c in res.get("comparisons", {}).items():
            print(f"  kit vs {other}: parameters max rel. diff BG/NBD {c['params_max_rel_diff']['bgnbd']:.2e},"
                  f" Gamma-Gamma {c['params_max_rel_diff']['gamma_gamma']:.2e};"
                  f" summary max abs. diff {max(c['summary_max_abs_diff'].values()):.2e}")
            for name, v in c["scores"].items():
                print(f"    {name:<20} corr {v['correlation']:.10f}  max rel. diff {v['max_rel_diff']:.2e}"
                      f"  median rel. diff {v['median_rel_diff']:.2e}")


def markdown_table(results: dict) -> str:
    """The results as one Markdown table per size (for bench/README.md)."""
    gb = 1024**3
    out = []
    for label, res in results["sizes"].items():
        ways = res["ways"]
        names = list(ways)
        both = "kit" in ways and "lifetimes" in ways
        out.append(f"**{label}**: {res['n_customers']:,} customers, {res['n_transactions']:,} transactions,"
                   f" {res.get('n_draws', '?')} CLV draws, median of {res['repeat']} run(s)\n")
        out.append("| step (s) | " + " | ".join(names) + (" | kit / lifetimes |" if both else " |"))
        out.append("|---|" + "---:|" * (len(names) + both))
        for step in ALL_STEPS:
            if not any(step in ways[w]["step_seconds_median"] for w in names):
                continue
            cells = [_fmt(ways[w]["step_seconds_median"].get(step)) for w in names]
            if both:
                k, li = ways["kit"]["step_seconds_median"].get(step, 0.0), ways["lifetimes"]["step_seconds_median"].get(step)
                cells.append(_fmt(k / li if li else None, ".2f"))
            out.append(f"| {step} | " + " | ".join(cells) + " |")
        totals = [ways[w]["total_seconds_median"] for w in names]
        peaks = [(ways[w]["peak_tree_rss_bytes_max"] if w == "spark" else ways[w]["peak_rss_bytes_max"]) / gb for w in names]
        tput = [ways[w]["summary_transactions_per_second"] / 1e6 for w in names]
        r = (lambda v: [f"{v[names.index('kit')] / v[names.index('lifetimes')]:.2f}"]) if both else (lambda v: [])
        out.append("| **total** | " + " | ".join(f"**{v:.2f}**" for v in totals) + "".join(f" | **{x}**" for x in r(totals)) + " |")
        out.append("| peak memory (GB) | " + " | ".join(f"{v:.2f}" for v in peaks) + "".join(f" | {x}" for x in r(peaks)) + " |")
        out.append("| summary (M transactions/s) | " + " | ".join(f"{v:.2f}" for v in tput)
                   + "".join(f" | {x}" for x in r(tput)) + " |")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    from analysis.runs.kernels import kernel_environment

    kernel_environment()  # every way's worker runs with the environment of the report's kernels (numbers unchanged)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    w = sub.add_parser("worker", help=argparse.SUPPRESS)
    w.add_argument("--way", choices=["kit", "lifetimes", "spark"], required=True)
    w.add_argument("--file", required=True)
    w.add_argument("--observation-end", required=True)
    w.add_argument("--n-draws", type=int, default=200)
    w.add_argument("--clv-chunk", type=int, default=None)
    w.add_argument("--result", required=True)
    w.add_argument("--scores", default=None)
    parser.add_argument("--sizes", default="100k,1m",
                        help="comma-separated, from 100k, 1m, 10m (10m is opt-in: minutes and ~10 GB)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per way and size; medians are reported")
    parser.add_argument("--ways", default="kit,lifetimes", help="from kit, lifetimes, spark (local[2]; opt-in)")
    parser.add_argument("--lifetimes-max", default="1m",
                        help="largest size the lifetimes way runs on (default 1m; at 10m it would need ~22 GB)")
    parser.add_argument("--n-draws", type=int, default=200, help="CLV band parameter draws (kit default 200; 0 = no band)")
    parser.add_argument("--clv-chunk", type=int, default=None,
                        help="kit: customers per customer_lifetime_value call (default: all at once, which the"
                             " blocked band allows at every size; chunks lose the band of the total)")
    parser.add_argument("--cache", type=Path, default=HERE / "cache")
    parser.add_argument("--out", type=Path, default=HERE / "results.json",
                        help="results file; sizes run now replace their entries, other sizes are kept")
    parser.add_argument("--fresh", action="store_true", help="start a new results file instead of updating it")
    sh = sub.add_parser("show", help="print a results file as Markdown tables")
    sh.add_argument("results", type=Path)
    args = parser.parse_args(argv)
    if args.command == "worker":
        return worker(args)
    if args.command == "show":
        print(markdown_table(json.loads(args.results.read_text())))
        return 0

    labels = [s.strip().lower() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in labels if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {unknown}; choose from {list(SIZES)}")
    ways = [w.strip() for w in args.ways.split(",")]
    args.cache.mkdir(parents=True, exist_ok=True)
    import duckdb
    import numpy
    import pandas

    results = {
        "command": " ".join([Path(sys.executable).name, "bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1)},
        "versions": {"duckdb": duckdb.__version__, "numpy": numpy.__version__, "pandas": pandas.__version__},
        "settings": {"time_unit": TIME_UNIT, "horizon_months": HORIZON_MONTHS, "annual_discount_rate": ANNUAL_DISCOUNT_RATE,
                     "gross_margin": GROSS_MARGIN, "n_draws": args.n_draws, "level": LEVEL, "repeat": args.repeat},
        "sizes": {},
    }
    if args.out.exists() and not args.fresh:  # keep the other sizes' results of earlier runs
        with contextlib.suppress(ValueError, KeyError):
            results["sizes"] = json.loads(args.out.read_text())["sizes"]
    for label in labels:
        n = SIZES[label]
        path, meta = ensure_log(n, args.cache)
        obs_end = meta["observation_end"]
        run_ways = [w for w in ways if not (w == "lifetimes" and n > SIZES[args.lifetimes_max])]
        opts = argparse.Namespace(**vars(args))
        res = {"command": results["command"], "n_draws": args.n_draws,
               "n_customers": n, "n_transactions": meta["n_transactions"], "file": str(path.relative_to(ROOT)),
               "file_bytes": path.stat().st_size, "simulation": meta, "repeat": args.repeat,
               "clv_chunk_customers": opts.clv_chunk, "ways": {}}
        if "lifetimes" in ways and "lifetimes" not in run_ways:
            res["skipped"] = (f"lifetimes way not run at {label} (above --lifetimes-max {args.lifetimes_max}):"
                              " at 1m it takes ~35 s and 2.2 GB and both grow linearly (~22 GB at 10m by"
                              " extrapolation, too close to a 24 GB machine's memory)")
        runs: dict[str, list[dict]] = {w: [] for w in run_ways}
        scores = {w: args.cache / f"scores_{w}_{n}.parquet" for w in run_ways}
        for i in range(args.repeat):
            for way in (run_ways if i % 2 == 0 else run_ways[::-1]):
                print(f"[{label}] run {i + 1}/{args.repeat}: {way} ...", flush=True)
                r = run_way(way, path, obs_end, opts, scores[way] if i == 0 else None)
                print(f"    {sum(r['seconds'][k] for k in STEPS[way]):.1f} s in steps, {r['peak_rss_bytes'] / 1024**3:.2f} GB"
                      f" peak ({r['peak_tree_rss_bytes'] / 1024**3:.2f} GB process tree)", flush=True)
                runs[way].append(r)
        for way, way_runs in runs.items():
            summary = summarise_runs(way_runs, STEPS[way])
            sec = summary["step_seconds_median"]["summary"]
            summary["summary_transactions_per_second"] = meta["n_transactions"] / sec
            summary["summary_customers_per_second"] = n / sec
            summary["info"] = way_runs[0]["info"]
            res["ways"][way] = summary
        if "kit" in runs and "lifetimes" in runs:
            kit, lt = res["ways"]["kit"], res["ways"]["lifetimes"]
            res["ratios_kit_over_lifetimes"] = {
                "total_seconds": kit["total_seconds_median"] / lt["total_seconds_median"],
                "peak_rss": kit["peak_rss_bytes_max"] / lt["peak_rss_bytes_max"],
                "steps": {s: kit["step_seconds_median"].get(s, 0.0) / lt["step_seconds_median"][s] for s in LIFETIMES_STEPS},
            }
        if "kit" in runs:
            res["comparisons"] = {other: compare(scores["kit"], scores[other], res["ways"]["kit"]["info"],
                                                 res["ways"][other]["info"])
                                  for other in runs if other != "kit"}
        results["sizes"][label] = res
        results["finished_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        args.out.write_text(json.dumps(results, indent=2, default=float) + "\n")
    print_table({"sizes": {k: v for k, v in results["sizes"].items() if k in labels}})
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
