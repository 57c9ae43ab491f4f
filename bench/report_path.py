"""Benchmark the path users run: the whole ``make report`` (ingest to HTML, every page) at 100k, 1M and 10M
customers, next to lifetimes doing the same modelling work.

Usage (from the project folder)::

    .venv/bin/python bench/report_path.py                        # 100k and 1M customers, 3 repeats
    .venv/bin/python bench/report_path.py --sizes 10m --repeat 1 # opt-in
    .venv/bin/python bench/report_path.py show                   # the tables, from bench/results_report.json

For each size the simulated log of ``bench/run.py`` (cached in ``bench/cache/``) is reported on with a copy of
``params/default.yaml`` that points at it (its scenarios; no measured campaign, whose contact list belongs to
CDNOW). Each repeat is a fresh ``python -m analysis.pipeline run --no-reuse`` into a new folder, exactly what
``make report FRESH=1`` runs: the seconds of every step come from the run's ``manifest.json``, the wall time and
the peak memory (the sampled sum over the process tree: pipeline, Jupyter kernels, Chromium) are measured here.
Then one configuration change (a scenario's cost per contact) is run on the last folder without ``--no-reuse``:
which steps it re-executed, and how long it took.

The ``lifetimes`` way does the modelling work of the report with lifetimes 0.11 as its documentation shows it, in
a fresh process: the calibration/holdout summary and the whole-period summary, BG/NBD, Pareto/NBD and
Gamma-Gamma fits on the calibration period and again on all data, P(alive), expected purchases and CLV.

Results go to ``bench/results_report.json``; see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

from run import PROGRESS, SIZES, _size_label, ensure_log, spawn  # noqa: E402

#: The report's steps, in the order the pipeline runs them.
STEPS = ["ingest", "01_data_and_kpis", "02_clv_models", "03_segments", "04_retention_roi", "05_campaigns", "html"]
LIFETIMES_STEPS = ["load", "summary_calibration", "summary_all", "fit_bgnbd", "fit_pareto", "fit_gamma_gamma",
                   "refit_bgnbd", "refit_pareto", "refit_gamma_gamma", "p_alive", "expected_purchases", "clv"]
HOLDOUT_DAYS = 182
HORIZON_MONTHS = 12
ANNUAL_DISCOUNT_RATE = 0.10


def params_for(log: Path, folder: Path) -> Path:
    """A copy of ``params/default.yaml`` reporting on the simulated ``log``."""
    raw = yaml.safe_load((ROOT / "params" / "default.yaml").read_text(encoding="utf-8"))
    raw["data"].update(path=str(log), date_format=None)
    raw["report"]["title"] = f"Benchmark: {log.name}"
    raw.pop("campaigns", None)  # the bundled contact list belongs to CDNOW
    raw["roi"]["scenarios"] = [s for s in raw["roi"]["scenarios"] if not isinstance(s.get("uplift"), dict)]
    sensitivity = raw["roi"].get("sensitivity") or {}
    if sensitivity.get("scenario") not in {s["name"] for s in raw["roi"]["scenarios"]}:
        sensitivity.pop("scenario", None)
    path = folder / f"bench_{log.stem}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def run_pipeline(params: Path, out: Path, fresh: bool) -> dict:
    """One ``python -m analysis.pipeline run`` in a fresh process: step seconds (manifest), wall, peak memory."""
    cmd = [sys.executable, "-m", "analysis.pipeline", "run", "--params", str(params), "--out", str(out)]
    if fresh:
        cmd.append("--no-reuse")
    load = os.getloadavg()[0]
    run = spawn(cmd, lambda line: line if line.startswith("[") else None)
    if run.returncode != 0:
        raise RuntimeError("the pipeline failed:\n" + run.output[-4000:])
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    steps = {s["step"]: s for s in manifest["steps"]}
    seconds = {name: steps[name]["seconds"] for name in STEPS if name in steps}
    # the HTML step and what is outside the steps (start, manifest, screenshot); when pages ran side by side
    # (analysis.runs.schedule) their seconds overlap, and this is the HTML step's own time
    seconds["html"] = (manifest["duration_seconds"] - sum(s["seconds"] for s in manifest["steps"])
                       if manifest.get("pages_at_once", 1) == 1 else steps["html"]["seconds"])
    return {"seconds": seconds, "wall_seconds": run.wall, "run_seconds": manifest["duration_seconds"],
            "executed": [s["step"] for s in manifest["steps"] if not s.get("reused")],
            "peak_tree_rss_bytes": run.tree_peak, "peak_rss_bytes": run.usage.ru_maxrss * 1024,
            "load_avg_1min_before": load, "screenshot": bool(manifest.get("screenshot"))}


def change_one_cost(params: Path) -> Path:
    """The same configuration with the first scenario's cost per contact raised by 0.01."""
    raw = yaml.safe_load(params.read_text(encoding="utf-8"))
    raw["roi"]["scenarios"][0]["cost_per_contact"] = round(raw["roi"]["scenarios"][0]["cost_per_contact"] + 0.01, 2)
    changed = params.with_name(params.stem + "_cost.yaml")
    changed.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return changed


# ----------------------------------------------------------------------------- the lifetimes way


def lifetimes_way(path: Path, observation_end: str, calibration_end: str) -> dict:
    """The report's modelling work with lifetimes, timed step by step (after the imports)."""
    import numpy as np
    import pyarrow.parquet as pq

    seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def step(name):
        t0 = time.perf_counter()
        yield
        seconds[name] = time.perf_counter() - t0
        print(f"{PROGRESS}lifetimes: {name} {seconds[name]:.1f} s", flush=True)

    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter
        from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

        with step("load"):
            tx = pq.read_table(path).to_pandas(date_as_object=False)
        with step("summary_calibration"):
            cal = calibration_and_holdout_data(tx, "customer_id", "date", calibration_end, observation_end,
                                               freq="D", freq_multiplier=7, monetary_value_col="amount")
        with step("summary_all"):
            s = summary_data_from_transaction_data(tx, "customer_id", "date", monetary_value_col="amount",
                                                   observation_period_end=observation_end, freq="D",
                                                   freq_multiplier=7)
        del tx
        fits = {}
        for prefix, data, f, r, t, m in (("", cal, "frequency_cal", "recency_cal", "T_cal", "monetary_value_cal"),
                                          ("re", s, "frequency", "recency", "T", "monetary_value")):
            with step(prefix + "fit_bgnbd"):
                fits[prefix + "bgnbd"] = BetaGeoFitter().fit(data[f], data[r], data[t])
            with step(prefix + "fit_pareto"):
                fits[prefix + "pareto"] = ParetoNBDFitter().fit(data[f], data[r], data[t])
            repeat = data[(data[f] > 0) & (data[m] > 0)]
            with step(prefix + "fit_gamma_gamma"):
                fits[prefix + "gg"] = GammaGammaFitter().fit(repeat[f], repeat[m])
        best = fits["repareto"]
        with step("p_alive"):
            best.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
        with step("expected_purchases"):
            best.conditional_expected_number_of_purchases_up_to_time(
                HORIZON_MONTHS * 365.25 / 12 / 7, s["frequency"], s["recency"], s["T"])
        monthly = (1 + ANNUAL_DISCOUNT_RATE) ** (1 / 12) - 1
        with step("clv"):
            clv = fits["regg"].customer_lifetime_value(best, s["frequency"], s["recency"], s["T"],
                                                       s["monetary_value"], time=HORIZON_MONTHS,
                                                       discount_rate=monthly, freq="W")
    return {"seconds": seconds, "n_customers": len(s), "total_clv_revenue": float(np.sum(clv))}


def run_lifetimes(path: Path, observation_end: str, calibration_end: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "lifetimes-worker", "--file", str(path),
               "--observation-end", observation_end, "--calibration-end", calibration_end, "--result", str(result)]
        load = os.getloadavg()[0]
        run = spawn(cmd, lambda line: line[len(PROGRESS):] if line.startswith(PROGRESS) else None)
        if run.returncode != 0:
            raise RuntimeError("the lifetimes worker failed:\n" + run.output[-4000:])
        data = json.loads(result.read_text())
    data.update(wall_seconds=run.wall, peak_rss_bytes=run.usage.ru_maxrss * 1024, load_avg_1min_before=load)
    return data


# ----------------------------------------------------------------------------- tables


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarise(results: dict) -> list[str]:
    """Markdown tables: the report's steps per size (medians), and the kit against lifetimes."""
    sizes = [k for k in SIZES if k in results["sizes"]]
    out = ["| step (s), median | " + " | ".join(sizes) + " |", "|---|" + "---:|" * len(sizes)]
    for name in STEPS + ["run (manifest)", "wall (command)"]:
        row = []
        for size in sizes:
            runs = results["sizes"][size]["report"]
            key = {"run (manifest)": "run_seconds", "wall (command)": "wall_seconds"}.get(name)
            value = _median([r[key] if key else r["seconds"].get(name) for r in runs])
            row.append("-" if value is None else f"{value:.1f}")
        out.append(f"| {name} | " + " | ".join(row) + " |")
    peak = [_median([r["peak_tree_rss_bytes"] for r in results["sizes"][s]["report"]]) for s in sizes]
    out.append("| peak memory, process tree (GB) | " + " | ".join(f"{p / 1e9:.2f}" for p in peak) + " |")
    out += ["", "| a scenario's cost changed | " + " | ".join(sizes) + " |", "|---|" + "---:|" * len(sizes)]
    for label, key in (("steps executed", "executed"), ("seconds", "run_seconds")):
        row = []
        for size in sizes:
            change = results["sizes"][size].get("cost_change")
            if change is None:
                row.append("-")
            else:
                row.append(", ".join(change[key]) if key == "executed" else f"{change[key]:.1f}")
        out.append(f"| {label} | " + " | ".join(row) + " |")
    with_lt = [s for s in sizes if results["sizes"][s].get("lifetimes")]
    if with_lt:
        out += ["", "| lifetimes, the report's modelling work (s) | " + " | ".join(with_lt) + " |",
                "|---|" + "---:|" * len(with_lt)]
        for name in LIFETIMES_STEPS + ["total"]:
            row = []
            for size in with_lt:
                runs = results["sizes"][size]["lifetimes"]
                value = _median([sum(r["seconds"].values()) if name == "total" else r["seconds"].get(name)
                                 for r in runs])
                row.append("-" if value is None else f"{value:.1f}")
            out.append(f"| {name} | " + " | ".join(row) + " |")
        row = [f"{_median([r['peak_rss_bytes'] for r in results['sizes'][s]['lifetimes']]) / 1e9:.2f}" for s in with_lt]
        out.append("| peak memory (GB) | " + " | ".join(row) + " |")
    return out


# ----------------------------------------------------------------------------- driver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    w = sub.add_parser("lifetimes-worker", help=argparse.SUPPRESS)
    for name in ("--file", "--observation-end", "--calibration-end", "--result"):
        w.add_argument(name, required=True)
    show = sub.add_parser("show", help="print the tables of a results file")
    show.add_argument("file", type=Path, nargs="?", default=HERE / "results_report.json")
    parser.add_argument("--sizes", default="100k,1m", help="comma-separated, from " + ", ".join(SIZES))
    parser.add_argument("--repeat", type=int, default=3, help="fresh report runs per size; medians are reported")
    parser.add_argument("--lifetimes-max", default="100k",
                        help="largest size for the lifetimes way (none: skip it); its Pareto/NBD fit (Nelder-Mead)"
                             " takes about 27 s at 100k and minutes at 1M")
    parser.add_argument("--cache", type=Path, default=HERE / "cache")
    parser.add_argument("--out", type=Path, default=HERE / "results_report.json")
    args = parser.parse_args(argv)
    if args.command == "lifetimes-worker":
        data = lifetimes_way(Path(args.file), args.observation_end, args.calibration_end)
        Path(args.result).write_text(json.dumps(data))
        return 0
    if args.command == "show":
        print("\n".join(summarise(json.loads(args.file.read_text()))))
        return 0

    results = json.loads(args.out.read_text()) if args.out.exists() else {"sizes": {}}
    results.update(machine={"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
                   date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    limit = SIZES.get(args.lifetimes_max, 0)
    args.cache.mkdir(parents=True, exist_ok=True)
    for label in args.sizes.split(","):
        n = SIZES[label.strip()]
        log, meta = ensure_log(n, args.cache)
        print(f"{_size_label(n)}: {meta['n_transactions']:,} transactions", flush=True)
        entry = {"n_customers": n, "n_transactions": meta["n_transactions"], "report": [], "lifetimes": []}
        with tempfile.TemporaryDirectory(dir=args.cache) as tmp:
            params = params_for(log, Path(tmp))
            out = Path(tmp) / "report"
            for i in range(args.repeat):
                if out.exists():
                    shutil.rmtree(out)
                print(f"  make report FRESH=1, run {i + 1}/{args.repeat}", flush=True)
                entry["report"].append(run_pipeline(params, out, fresh=True))
                print(f"    {entry['report'][-1]['run_seconds']:.1f} s", flush=True)
            print("  the same report after a change of one scenario's cost per contact", flush=True)
            entry["cost_change"] = run_pipeline(change_one_cost(params), out, fresh=False)
            run = json.loads((out / "artifacts" / "run.json").read_text())
        results["sizes"][_size_label(n)] = entry
        args.out.write_text(json.dumps(results, indent=1))
        if n <= limit:
            for i in range(args.repeat):
                print(f"  lifetimes, run {i + 1}/{args.repeat}", flush=True)
                entry["lifetimes"].append(run_lifetimes(log, run["observation_end"], run["calibration_end"]))
        results["sizes"][_size_label(n)] = entry
        args.out.write_text(json.dumps(results, indent=1))
    print("\n".join(summarise(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
