"""A new user's own data: a daily web shop, the apparel retailer of CLVTools, degenerate logs.

The web-shop log (``tests/webshop.py``) is made here: customers arrive every day for two
years, return goods (negative amounts), write Dutch numbers, and some arrive exactly on the
days the reports split the data. It runs through ``make -j2 backfill`` for every month end with
``params/default.yaml`` copied and only its ``data:`` section edited. Expected values come from
the generator or from independent computations on the raw file (a stack per customer for the
returns), never from the kit's own output.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, SAMPLE
from webshop import HOLDOUT_DAYS, month_ends, params_for, write_webshop
from analysis.runs import steps

pytestmark = pytest.mark.slow

TEST_KEY = "own-data-test-key-0123456789"
APPAREL = ROOT.parent / "shared" / "peer-data" / "clvtools_0.12.1_apparelTrans.csv"


def _env() -> dict[str, str]:
    return {**os.environ, "RETENTION_KIT_PSEUDONYM_KEY": TEST_KEY, "RETENTION_KIT_CHROMIUM": "none"}


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _pipeline(params: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis.pipeline", "run", "--params", str(params), "--out", str(out),
                           *extra], cwd=ROOT, capture_output=True, text=True, timeout=600, env=_env())


def _assert_one_clear_outcome(result: subprocess.CompletedProcess) -> None:
    """A report, or one clear message: never a traceback or a raw numpy repr."""
    text = result.stdout + result.stderr
    assert "Traceback" not in text and "np.float64" not in text, text[-3000:]
    if result.returncode != 0:
        assert result.returncode == 2, text[-3000:]
        errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR:")]
        assert len(errors) == 1, text[-3000:]


# ---------------------------------------------------------------- the web shop, every month end


@pytest.fixture(scope="module")
def webshop(tmp_path_factory):
    folder = tmp_path_factory.mktemp("webshop")
    shop = write_webshop(folder / "bestellingen.csv")
    params = folder / "mine.yaml"
    params.write_text(params_for(shop, ROOT / "params" / "default.yaml"), encoding="utf-8")
    reports = folder / "reports"
    result = subprocess.run(["make", "--no-print-directory", "-j2", "backfill", f"FROM={shop.start}",
                             f"TO={shop.end}", "EVERY=month", f"PARAMS={params}", f"REPORTS={reports}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=1800, env=_env())
    return {"shop": shop, "params": params, "reports": reports, "result": result}


def _raw(shop) -> pd.DataFrame:
    raw = pd.read_csv(shop.path, sep=";", dtype=str)
    raw["date"] = pd.to_datetime(raw["orderdatum"], format="%d-%m-%Y").dt.date
    raw["amount"] = raw["bedrag"].str.replace(".", "", regex=False).str.replace(",", ".", regex=False).astype(float)
    return raw.rename(columns={"klantnummer": "customer_id"})


def _netted_by_hand(raw: pd.DataFrame, as_of: dt.date) -> dict[str, list[tuple[dt.date, float]]]:
    """Purchase days left per customer after the returns, with an explicit stack (latest purchase first)."""
    out = {}
    days = raw[raw["date"] <= as_of].groupby(["customer_id", "date"])["amount"].sum().round(6)
    for cid, group in days.groupby(level=0):
        stack: list[list] = []
        for (_, date), total in group.items():
            if total >= 0:
                stack.append([date, total])
                continue
            owed = -total
            while owed > 1e-9 and stack:
                take = min(owed, stack[-1][1])
                stack[-1][1] -= take
                owed -= take
                if stack[-1][1] <= 1e-9:
                    stack.pop()
        out[cid] = [(d, a) for d, a in stack if a > 1e-9]
    return out


def _dates(shop) -> tuple[list[dt.date], list[dt.date]]:
    """Month ends with enough history (90 days of calibration before the 182-day holdout), and the earlier ones."""
    first = _raw(shop)["date"].min()
    earliest = first + dt.timedelta(days=90 + HOLDOUT_DAYS)
    ends = month_ends(shop.start, shop.end)
    return [d for d in ends if d >= earliest], [d for d in ends if d < earliest]


def test_every_month_end_with_enough_history_gets_a_report(webshop):
    result, reports = webshop["result"], webshop["reports"]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    _assert_one_clear_outcome(result)
    made, early = _dates(webshop["shop"])
    assert len(made) >= 12
    for date in made:
        assert (reports / date.isoformat() / "manifest.json").is_file(), date
        for page in ("index.html", "01_data_and_kpis.html", "02_clv_models.html", "03_segments.html",
                     "04_retention_roi.html"):
            assert (reports / date.isoformat() / page).is_file(), (date, page)
    for date in early:  # one line each, no folder
        assert not (reports / date.isoformat()).exists()
        lines = [line for line in result.stdout.splitlines() if line.startswith(f"{date} skipped: Not enough history")]
        assert len(lines) == 1, (date, result.stdout[-3000:])


def test_revenue_is_net_of_returns_netted_against_earlier_purchases(webshop):
    shop, reports = webshop["shop"], webshop["reports"]
    raw = _raw(shop)
    for date in _dates(shop)[0][::4]:
        kept = _netted_by_hand(raw, date)
        kpis = _json(reports / date.isoformat() / "artifacts" / "kpis.json")
        assert kpis["revenue"] == pytest.approx(sum(a for days in kept.values() for _, a in days), rel=1e-9)
        assert kpis["customers"] == sum(1 for days in kept.values() if days)


def test_customers_arriving_on_the_split_days_are_scored(webshop):
    shop, reports = webshop["shop"], webshop["reports"]
    kept = _netted_by_hand(_raw(shop), shop.end)
    for date in _dates(shop)[0]:
        run = reports / date.isoformat()
        dates = _json(run / "artifacts" / "run.json")
        customers = pd.read_parquet(run / "artifacts" / "customers.parquet").set_index("customer_id")
        for split in ("calibration_end", "observation_end"):
            arrived = [c for c in shop.split_day_customers.get(dates[split], [])
                       if kept.get(c) and kept[c][0][0].isoformat() == dates[split]]
            quality = _json(run / "artifacts" / "data_quality.json")["first_purchase_on_split_days"]
            assert quality[split] >= len(arrived)
            for cid in arrived:  # in the customer table, with a finite score
                assert np.isfinite(customers.loc[cid, "p_alive"]) and np.isfinite(customers.loc[cid, "clv"])


def test_silent_one_time_buyers_are_not_called_likely_to_stay(webshop):
    shop, reports = webshop["shop"], webshop["reports"]
    run = reports / shop.end.isoformat() if (reports / shop.end.isoformat()).is_dir() else \
        reports / _dates(shop)[0][-1].isoformat()
    model = _json(run / "artifacts" / "model.json")
    assert model["final"]["model"] in ("pareto", "mbgnbd")
    customers = pd.read_parquet(run / "artifacts" / "customers.parquet")
    silent = customers[(customers["frequency"] == 0) & (customers["days_since_last"] > 365)]
    recent = customers[(customers["frequency"] >= 3) & (customers["days_since_last"] < 30)]
    assert len(silent) > 50 and len(recent) > 20
    assert silent["p_alive"].max() < recent["p_alive"].median()
    assert (silent["value_risk_segment"].astype(str).str.endswith("at risk")).mean() > 0.9


def test_the_web_shop_is_a_series_of_its_own(webshop):
    reports = webshop["reports"]
    index = (reports / "index.html").read_text(encoding="utf-8")
    made, _ = _dates(webshop["shop"])
    for date in made:
        assert date.isoformat() in index
    assert "1998-" not in index
    assert os.readlink(reports / "latest") == made[-1].isoformat()


# ---------------------------------------------------------------- the apparel retailer (CLVTools)


@pytest.mark.parametrize("weeks", [40, 52, 104])
def test_apparel_retailer_gets_a_complete_report(weeks, tmp_path):
    if not APPAREL.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{APPAREL} is missing: CI runs with a copy of shared/ beside the project")
        pytest.skip("the CLVTools apparel data are not beside the project (../shared/peer-data)")
    raw = pd.read_csv(APPAREL)
    first = pd.Timestamp(raw["Date"].min()).date()
    params = tmp_path / f"apparel_{weeks}.yaml"
    params.write_text(yaml.safe_dump({
        "data": {"path": str(APPAREL), "columns": {"customer_id": "Id", "date": "Date", "amount": "Price"}},
        "period": {"calibration_end": (first + dt.timedelta(weeks=weeks)).isoformat(),
                   "observation_end": raw["Date"].max(), "time_unit": "W"},
        "models": {"n_draws": 50},
    }))
    result = _pipeline(params, tmp_path / "run")
    assert result.returncode == 0, result.stdout[-4000:]
    run = tmp_path / "run"
    assert (run / "index.html").is_file() and (run / "04_retention_roi.html").is_file()
    model = _json(run / "artifacts" / "model.json")
    customers = pd.read_parquet(run / "artifacts" / "customers.parquet")
    assert len(customers) == raw["Id"].nunique()
    assert np.isfinite(customers[["p_alive", "clv"]].to_numpy()).all()
    page = (run / "02_clv_models.html").read_text(encoding="utf-8")
    for name, reason in model["not_converged"].items():  # a model that was not identified is named, in words
        assert {"bgnbd": "BG/NBD", "pareto": "Pareto/NBD", "mbgnbd": "MBG/NBD"}[name] in page
    assert "Traceback" not in page


# ---------------------------------------------------------------- degenerate logs


def _degenerate_logs(folder: Path) -> dict[str, Path]:
    start = dt.date(2022, 1, 3)
    day = lambda n: (start + dt.timedelta(days=n)).isoformat()  # noqa: E731
    logs = {
        "no repeat buyers": [(f"C{i}", day(int(i * 1.3)), 20 + i % 7) for i in range(400)],
        "one customer": [("C1", day(7 * k), 25.0) for k in range(60)],
        "all purchases on one day": [(f"C{i}", day(100), 10 + i % 5) for i in range(300)],
        "every customer buys exactly weekly": [(f"C{i}", day(i % 60 + 7 * k), 30.0) for i in range(200)
                                               for k in range(int((600 - i % 60) / 7))],
    }
    files = {}
    for name, rows in logs.items():
        path = folder / (name.replace(" ", "_") + ".csv")
        pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).to_csv(path, index=False)
        files[name] = path
    # legitimate data (simulated BG/NBD buyers, CDNOW-like) that a penalizer of 10 would flatten
    from analysis.simulate import SimulationSpec, write_transactions

    files["penalizer 10"] = folder / "simulated.parquet"
    write_transactions(SimulationSpec(n_customers=2000, seed=5, start=dt.date(2022, 1, 3)), files["penalizer 10"])
    return files


@pytest.mark.parametrize("case", ["no repeat buyers", "one customer", "all purchases on one day",
                                  "every customer buys exactly weekly", "penalizer 10"])
def test_degenerate_logs_get_a_report_or_one_clear_message(case, tmp_path):
    data = _degenerate_logs(tmp_path)[case]
    raw = {"data": {"path": str(data)}, "models": {"n_draws": 50}}
    if case == "penalizer 10":
        raw["models"]["penalizer"] = 10.0
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    result = _pipeline(params, tmp_path / "run")
    _assert_one_clear_outcome(result)
    if case == "penalizer 10":  # legitimate data with a strong penalty still gets its report
        assert result.returncode == 0, result.stdout[-3000:]
    if case in ("no repeat buyers", "one customer", "every customer buys exactly weekly"):
        # no purchase model can be fitted: the pages that do not need one are still published, and say why
        assert result.returncode == 0, result.stdout[-3000:]
        run = tmp_path / "run"
        assert _json(run / "artifacts" / "model.json")["unavailable"]
        assert "Repeat purchase rate" in (run / "index.html").read_text()
        assert (run / "artifacts" / "kpis.json").is_file() and (run / "01_data_and_kpis.html").is_file()
        page = (run / "02_clv_models.html").read_text()
        assert "No purchase model could be fitted on these data" in page and "Traceback" not in page
        assert "PageEnds" not in page and "An Exception was encountered" not in page


# ---------------------------------------------------------------- CDNOW: one meaning of "likely to stay"


def test_cdnow_one_time_buyers_from_1997_are_less_likely_to_stay_than_recent_repeat_buyers(tmp_path):
    from analysis.scoring import modelstage
    from analysis.config import load_params
    from analysis.data.ingest import ingest_transactions
    from analysis.data.summary import rfm_summary

    params = load_params(ROOT / "params" / "default.yaml")
    params = params.model_copy(update={"data": params.data.model_copy(update={"path": SAMPLE / "cdnow_master.csv"}),
                                       "models": params.models.model_copy(update={"n_draws": 20})})
    purchases = tmp_path / "purchases.parquet"
    quality = ingest_transactions(params.data, purchases)
    dates = steps.resolve_dates(params, quality.observation_end, quality.first_date)
    customers = rfm_summary(purchases, dates["observation_end"], "W")
    stage = modelstage.run_model_stage(purchases, customers, dates, params)
    assert stage.final.name in ("pareto", "mbgnbd")
    scores = customers.join(stage.clv.customers[["p_alive"]])
    one_time_1997 = scores[(scores["frequency"] == 0) & (scores["last_purchase"] < pd.Timestamp("1997-04-01"))]
    recent_repeat = scores[(scores["frequency"] >= 2) & (scores["days_since_last"] <= 30)]
    assert len(one_time_1997) > 5000 and len(recent_repeat) > 200
    assert one_time_1997["p_alive"].median() < 0.5 * recent_repeat["p_alive"].median()


def test_the_model_stage_side_by_side_gives_what_one_piece_after_another_gives(tmp_path, monkeypatch):
    """On this machine's engine the two summaries are made side by side, the fits run side by side and the residual
    value is computed beside the scores; every number is the one the pieces give one after the other."""
    import threading

    from analysis.scoring import clv, modelstage
    from analysis.config import load_params
    from analysis.data.ingest import ingest_transactions
    from analysis.data.summary import calibration_holdout_summary, rfm_summary

    raw = (ROOT / "params" / "cdnow_sample.yaml").read_text()
    raw = raw.replace("path: data/sample/", f"path: {ROOT / 'data' / 'sample'}/").replace("n_draws: 200", "n_draws: 20")
    (tmp_path / "p.yaml").write_text(raw)
    params = load_params(tmp_path / "p.yaml")
    purchases = tmp_path / "purchases.parquet"
    quality = ingest_transactions(params.data, purchases)
    dates = steps.resolve_dates(params, quality.observation_end, quality.first_date)
    customers, calibration = modelstage.summaries(purchases, dates, params)
    pd.testing.assert_frame_equal(customers, rfm_summary(purchases, dates["observation_end"], dates["time_unit"]))
    pd.testing.assert_frame_equal(calibration, calibration_holdout_summary(
        purchases, dates["calibration_end"], dates["observation_end"], dates["time_unit"]))
    # above SUMMARIES_SIDE_BY_SIDE_MAX_ROWS (for memory) one after the other, in this thread, with the same result
    threads = []
    made = modelstage.calibration_holdout_summary
    monkeypatch.setattr(modelstage, "calibration_holdout_summary",
                        lambda *a, **k: threads.append(threading.current_thread().name) or made(*a, **k))
    monkeypatch.setattr(modelstage, "SUMMARIES_SIDE_BY_SIDE_MAX_ROWS", 0)
    pd.testing.assert_frame_equal(modelstage.summaries(purchases, dates, params)[1], calibration)
    monkeypatch.undo()
    assert threads == [threading.current_thread().name]
    stage = modelstage.run_model_stage(purchases, customers, dates, params, calibration=calibration)

    monkeypatch.setattr(modelstage._DuckDBStage, "parallel", False)  # one piece after the other
    alone = modelstage.run_model_stage(purchases, customers, dates, params)
    assert stage.final.name == alone.final.name and stage.final.params == alone.final.params
    pd.testing.assert_frame_equal(stage.clv.customers, alone.clv.customers, check_exact=True)
    assert stage.residual_total == alone.residual_total == clv.residual_value(
        customers, alone.final, alone.final_gamma_gamma, annual_discount_rate=params.clv.annual_discount_rate,
        gross_margin=params.clv.gross_margin)
    assert stage.residual_total > stage.clv.total_clv > 0
    pd.testing.assert_frame_equal(stage.tracking, alone.tracking, check_exact=True)
