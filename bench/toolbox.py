"""Benchmark the analyst's model toolbox at scale: every registered purchase model's fit, DERT, covariates
and BG/BB, on the simulated logs of ``bench/run.py``.

Usage (from the project folder)::

    .venv/bin/python bench/toolbox.py                       # 100k and 1M customers, 3 repeats
    .venv/bin/python bench/toolbox.py --sizes 100k --repeat 1

Each (size, step) runs in a fresh ``python`` subprocess (its own peak memory, from ``os.wait4``); the time is
measured inside it, after the imports and the summary (which ``bench/run.py`` times). GGompertz/NBD uses
numerical integration and is run up to ``--slow-max`` customers (default 1M; before issue #17's segment sums it
took many minutes at 1M and the default was 100k). The covariate fits (a 0/1 column: per combination of
categories; a standard normal column: per customer; both with the analytic gradient) run at every size. Results
go to ``bench/results_toolbox.json``; medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))

STEPS = ["fit_bgnbd", "fit_pareto", "fit_mbgnbd", "fit_ggompertz", "dert_bgnbd", "dert_pareto", "covariates_pareto",
         "covariates_pareto_normal", "covariates_bgnbd_normal", "bgbb_summary", "bgbb_fit"]
SLOW = {"fit_ggompertz"}


def worker(step: str, size: int, out: str) -> int:
    import numpy as np
    import pandas as pd

    from analysis import models
    from analysis.data.summary import rfm_summary
    from run import SEED, TIME_UNIT, ensure_log

    path, meta = ensure_log(size, HERE / "cache")
    info: dict = {}
    if step.startswith("bgbb"):
        from analysis.models import bgbb

        # one chance a year for 6 years, as the donations data: one row per donation
        rng = np.random.default_rng(SEED)
        p, theta = rng.beta(1.2, 0.75, size), rng.beta(0.66, 2.78, size)
        alive = np.ones(size, dtype=bool)
        ids, years = [np.arange(size)], [np.zeros(size, dtype=int)]
        for year in range(1, 7):
            alive &= rng.random(size) >= theta
            buy = alive & (rng.random(size) < p)
            ids.append(np.flatnonzero(buy))
            years.append(np.full(int(buy.sum()), year))
        log = pd.DataFrame({"customer_id": np.concatenate(ids),
                            "date": pd.to_datetime(1995 + np.concatenate(years), format="%Y")})
        t0 = time.perf_counter()
        history = bgbb.summary_by_opportunities(log, period="Y", observation_end="2001-12-31")
        summary_s = time.perf_counter() - t0
        if step == "bgbb_summary":
            seconds = summary_s
            info = {"rows": len(log)}
        else:
            grouped = history.groupby(["frequency", "recency", "n"]).size().rename("count").reset_index()
            t0 = time.perf_counter()
            fit = bgbb.fit(grouped, weights="count")
            seconds = time.perf_counter() - t0
            info = {"params": fit.params, "distinct_histories": len(grouped)}
    else:
        s = rfm_summary(path, meta["observation_end"], TIME_UNIT)
        x, tx, T = (s[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        kind, name = step.split("_", 1)
        if kind == "fit":
            t0 = time.perf_counter()
            try:
                fit = models.fit_model(s, name, time_unit=TIME_UNIT)
                info = {"params": fit.params}
            except models.ModelFitError as exc:
                info = {"error": str(exc)[:200]}
            seconds = time.perf_counter() - t0
        elif kind == "dert":
            fit = models.fit_model(s, name, time_unit=TIME_UNIT)
            t0 = time.perf_counter()
            values = models.dert(name, fit.params, 0.10, x, tx, T, time_unit=TIME_UNIT)
            seconds = time.perf_counter() - t0
            info = {"total": float(values.sum())}
        else:  # covariates drawn independently of buying (their effects should come out near 0): a 0/1 column, or
            # with "_normal" a standard normal one (continuous: every customer has their own parameters)
            from analysis.models.covariates import fit_with_covariates

            name, _, variant = name.partition("_")
            rng = np.random.default_rng(SEED)
            if variant == "normal":
                cov = pd.DataFrame({"z": rng.standard_normal(len(s))}, index=s.index)
            else:
                cov = pd.DataFrame({"online": (rng.random(len(s)) < 0.5).astype(float)}, index=s.index)
            t0 = time.perf_counter()
            fit = fit_with_covariates(s, name, cov, time_unit=TIME_UNIT)
            seconds = time.perf_counter() - t0
            info = {"gamma": fit.gamma, "gamma_ci": fit.gamma_ci}
    Path(out).write_text(json.dumps({"seconds": seconds, "info": info}, default=float))
    return 0


def run_step(step: str, size: int) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        out = tmp.name
    proc = subprocess.Popen([sys.executable, __file__, "worker", "--step", step, "--size", str(size), "--out", out])
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{step} at {size:,} customers failed (exit status {status})")
    result = json.loads(Path(out).read_text())
    os.unlink(out)
    result["peak_gb"] = usage.ru_maxrss / 1024**2
    return result


def main(argv: list[str] | None = None) -> int:
    from run import SIZES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    w = sub.add_parser("worker", help=argparse.SUPPRESS)
    w.add_argument("--step", required=True)
    w.add_argument("--size", type=int, required=True)
    w.add_argument("--out", required=True)
    parser.add_argument("--sizes", default="100k,1m")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--slow-max", default="1m", help="largest size for GGompertz/NBD")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help="comma-separated steps to run; with fewer than all, the other results of --out are kept")
    parser.add_argument("--out", default=str(HERE / "results_toolbox.json"))
    args = parser.parse_args(argv)
    if args.command == "worker":
        return worker(args.step, args.size, args.out)
    slow_max = SIZES[args.slow_max]
    steps = [step for step in args.steps.split(",") if step]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown step(s) {', '.join(unknown)}; the steps are {', '.join(STEPS)}")
    kept = (json.loads(Path(args.out).read_text()).get("sizes", {})
            if set(steps) != set(STEPS) and Path(args.out).exists() else {})
    results: dict = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                 "load_before": os.getloadavg()}, "sizes": kept}
    print(f"{'size':>6} {'step':<20} {'median s':>9} {'peak GB':>8}  note")
    for label in args.sizes.split(","):
        size = SIZES[label]
        rows = results["sizes"].setdefault(label, {})
        for step in steps:
            if step in SLOW and size > slow_max:
                rows[step] = {"skipped": f"above --slow-max {args.slow_max}"}
                print(f"{label:>6} {step:<20} {'-':>9} {'-':>8}  skipped (above --slow-max {args.slow_max})")
                continue
            runs = [run_step(step, size) for _ in range(args.repeat)]
            median = statistics.median(r["seconds"] for r in runs)
            peak = max(r["peak_gb"] for r in runs)
            rows[step] = {"median_seconds": median, "runs": [r["seconds"] for r in runs], "peak_gb": peak,
                          "info": runs[-1]["info"]}
            note = runs[-1]["info"].get("error", "")[:60] if isinstance(runs[-1]["info"], dict) else ""
            print(f"{label:>6} {step:<20} {median:>9.2f} {peak:>8.2f}  {note}", flush=True)
    Path(args.out).write_text(json.dumps(results, indent=1, default=float) + "\n")
    print(f"results: {Path(args.out).relative_to(ROOT) if Path(args.out).is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
