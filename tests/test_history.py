"""Tests of analysis.runs.history: the "since last report" comparison and the KPI trend.

Two real run folders are built once (module fixture) by running the pipeline on the
bundled CDNOW data with the observation end a month apart (1998-05-31 and 1998-06-30).
Every expected value is computed here independently of the module: KPI deltas from the
two ``kpis.json`` files, the migration matrix with a pandas crosstab of the two customer
tables, the forecast with ``lifetimes``' BG/NBD, the actual purchases from the raw CSV.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.runs import history
from analysis.config import load_params
from analysis.reporting.nb import fmt_pct
from analysis.business.segments import VALUE_RISK_SEGMENTS

ROOT = Path(__file__).resolve().parents[1]
RAW_CSV = ROOT / "data" / "sample" / "cdnow_master.csv"
PREVIOUS_END, CURRENT_END = dt.date(1998, 5, 31), dt.date(1998, 6, 30)
DATES = {PREVIOUS_END: dt.date(1997, 8, 31), CURRENT_END: dt.date(1997, 9, 30)}


def _params_file(folder: Path, observation_end: dt.date) -> Path:
    raw = yaml.safe_load((ROOT / "params" / "default.yaml").read_text(encoding="utf-8"))
    raw["data"]["path"] = str(ROOT / raw["data"]["path"])
    raw["period"]["observation_end"] = observation_end.isoformat()
    raw["period"]["calibration_end"] = DATES[observation_end].isoformat()
    raw["models"]["model"] = "bgnbd"  # the forecast is checked against lifetimes' BG/NBD
    path = folder / f"params_{observation_end}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _state(folder: Path) -> dict[str, tuple[int, str]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two pipeline runs a month apart (run in parallel), and the comparison of the second with the first."""
    base = tmp_path_factory.mktemp("history")
    folders = {end: base / "reports" / end.isoformat() for end in DATES}
    params_files = {end: _params_file(base, end) for end in DATES}
    procs = {end: subprocess.Popen([sys.executable, "-m", "analysis.pipeline", "run", "--params", str(params_files[end]),
                                    "--out", str(folders[end])], cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
             for end in DATES}
    for end, proc in procs.items():
        output, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, output
    previous, current = folders[PREVIOUS_END], folders[CURRENT_END]
    params = load_params(params_files[CURRENT_END])
    before = _state(previous)
    comparison = history.compare_runs(current, previous, params)
    return {"previous": previous, "current": current, "params": params, "comparison": comparison,
            "previous_state_before": before, "base": base}


def _customers(run_dir: Path) -> pd.DataFrame:
    df = pd.read_parquet(run_dir / "artifacts" / "customers.parquet")
    return df.astype({"customer_id": str, "value_risk_segment": str}).set_index("customer_id")


def _json(run_dir: Path, name: str) -> dict:
    return json.loads((run_dir / "artifacts" / name).read_text(encoding="utf-8"))


def _with_language(params, language: str):
    return params.model_copy(update={"report": params.report.model_copy(update={"language": language})})


# ------------------------------------------------------------------ comparison


def test_kpi_deltas_are_the_differences_of_the_kpis_files(runs):
    prev_kpis, cur_kpis = _json(runs["previous"], "kpis.json"), _json(runs["current"], "kpis.json")
    prev_total, cur_total = (_json(runs[k], "model.json")["clv"]["total"] for k in ("previous", "current"))
    rows = {row["kpi"]: row for row in runs["comparison"]["kpis"]}
    keys = ["customers", "active_customers", "repeat_purchase_rate", "retention_rate", "churn_rate",
            "revenue_per_buyer", "average_order_value"]
    assert list(rows) == keys + ["total_expected_value"]
    for key in keys:
        assert rows[key]["previous"] == float(prev_kpis[key])
        assert rows[key]["current"] == float(cur_kpis[key])
        assert rows[key]["delta"] == float(cur_kpis[key]) - float(prev_kpis[key])
    assert rows["total_expected_value"]["delta"] == cur_total - prev_total
    # bundled data, hand-checked: the cohort does not grow; churn rose, which is bad news
    assert rows["customers"]["direction"] == "same" and rows["customers"]["good"] is None
    churn = cur_kpis["churn_rate"] - prev_kpis["churn_rate"]
    assert rows["churn_rate"]["direction"] == ("up" if churn > 0 else "down")
    assert rows["churn_rate"]["good"] is (churn < 0)
    retention = rows["retention_rate"]
    assert retention["good"] is (retention["delta"] > 0)
    assert retention["sentence"] == (
        f"Retention rate {'rose' if retention['delta'] > 0 else 'fell'} by {100 * abs(retention['delta']):.1f} points"
        f" to {fmt_pct(cur_kpis['retention_rate'])} (was {fmt_pct(prev_kpis['retention_rate'])}).")


def test_migration_matches_a_crosstab_of_the_two_customer_tables(runs):
    prev, cur = _customers(runs["previous"]), _customers(runs["current"])
    both = prev[["value_risk_segment", "clv"]].merge(cur[["value_risk_segment", "clv"]], left_index=True,
                                                     right_index=True, suffixes=("_prev", "_cur"))
    segments = list(VALUE_RISK_SEGMENTS)
    counts = pd.crosstab(both["value_risk_segment_prev"], both["value_risk_segment_cur"]).reindex(
        index=segments, columns=segments, fill_value=0)
    value_prev = pd.crosstab(both["value_risk_segment_prev"], both["value_risk_segment_cur"], values=both["clv_prev"],
                             aggfunc="sum").reindex(index=segments, columns=segments).fillna(0.0)
    value_cur = pd.crosstab(both["value_risk_segment_prev"], both["value_risk_segment_cur"], values=both["clv_cur"],
                            aggfunc="sum").reindex(index=segments, columns=segments).fillna(0.0)
    migration = runs["comparison"]["migration"]
    assert migration["customers_in_both"] == len(both)
    assert migration["customers_missing"] == len(prev.index.difference(cur.index))
    assert migration["new_customers"]["count"] == len(cur.index.difference(prev.index))
    for f in segments:
        for t in segments:
            assert migration["counts"][f][t] == counts.loc[f, t], (f, t)
            assert migration["value_previous"][f][t] == pytest.approx(value_prev.loc[f, t], rel=1e-9, abs=1e-9)
            assert migration["value_current"][f][t] == pytest.approx(value_cur.loc[f, t], rel=1e-9, abs=1e-9)
        # rows add up to the previous run's segment counts of the customers present in both
        in_both = int((prev.loc[prev.index.isin(cur.index), "value_risk_segment"] == f).sum())
        assert sum(migration["counts"][f].values()) == in_both == migration["previous_counts"][f]
    diagonal = int(np.trace(counts.to_numpy()))
    assert migration["stayed"] == diagonal

    long = pd.read_csv(runs["current"] / "artifacts" / "migration.csv")
    assert list(long.columns) == ["from_segment", "to_segment", "customers", "value_previous", "value_current"]
    assert len(long) == len(segments) ** 2
    wide = long.pivot(index="from_segment", columns="to_segment", values="customers").reindex(
        index=segments, columns=segments)
    assert (wide.to_numpy() == counts.to_numpy()).all()


def test_newly_at_risk_matches_a_hand_filter(runs):
    prev, cur = _customers(runs["previous"]), _customers(runs["current"])
    threshold = runs["params"].segments.p_alive_at_risk_below
    both = cur.join(prev[["p_alive"]].rename(columns={"p_alive": "p_prev"}), how="inner")
    hand = both[both["value_risk_segment"].isin(["High value, likely to stay", "High value, at risk"])
                & (both["p_prev"] >= threshold) & (both["p_alive"] < threshold)]
    result = runs["comparison"]["newly_at_risk"]
    assert len(hand) > 0  # the bundled data has some: the test would be empty otherwise
    assert result["count"] == len(hand)
    assert result["clv"] == pytest.approx(hand["clv"].sum(), rel=1e-12)
    assert result["threshold"] == threshold
    table = pd.read_csv(runs["current"] / "artifacts" / "newly_at_risk.csv", dtype={"customer_id": str})
    assert list(table.columns) == ["customer_id", "previous_p_alive", "p_alive", "clv", "value_risk_segment"]
    assert set(table["customer_id"]) == set(hand.index)
    top = hand.sort_values("clv", ascending=False).head(history.TOP_AT_RISK)
    assert [r["customer_id"] for r in result["top"]] == list(top.index)


def test_forecast_matches_lifetimes_bgnbd(runs):
    from lifetimes import BetaGeoFitter

    model = _json(runs["previous"], "model.json")["final"]
    assert model["model"] == "bgnbd"
    prev = _customers(runs["previous"])
    with warnings.catch_warnings():  # lifetimes changes the global warning filters
        bgf = BetaGeoFitter()
        bgf.params_ = pd.Series({k: model["params"][k] for k in ("r", "alpha", "a", "b")})
        weeks = (CURRENT_END - PREVIOUS_END).days / 7
        expected = bgf.conditional_expected_number_of_purchases_up_to_time(
            weeks, prev["frequency"], prev["recency"], prev["T"])
    forecast = runs["comparison"]["forecast"]
    assert forecast["horizon"] == pytest.approx(30 / 7)
    assert forecast["customers"] == len(prev)
    assert forecast["forecast"] == pytest.approx(float(np.sum(expected)), rel=1e-6)
    by_segment = pd.Series(np.asarray(expected), index=prev.index).groupby(prev["value_risk_segment"]).sum()
    for row in forecast["by_segment"]:
        assert row["forecast"] == pytest.approx(by_segment.get(row["previous_segment"], 0.0), rel=1e-6)


def test_actual_purchases_are_counted_from_the_raw_file(runs):
    # params/default.yaml: returns drop (negative amounts out), zero amounts keep; one purchase per customer-day
    raw = pd.read_csv(RAW_CSV, dtype={"customer_id": str, "date": str})
    raw["day"] = pd.to_datetime(raw["date"], format="%Y%m%d").dt.date
    window = raw[(raw["day"] > PREVIOUS_END) & (raw["day"] <= CURRENT_END) & (raw["amount"] >= 0)]
    days = window[["customer_id", "day"]].drop_duplicates()
    prev = _customers(runs["previous"])
    known = days[days["customer_id"].isin(prev.index)]
    forecast = runs["comparison"]["forecast"]
    assert forecast["actual"] == len(known)
    assert forecast["new_customers_purchase_days"] == len(days) - len(known)
    per_segment = known["customer_id"].map(prev["value_risk_segment"]).value_counts()
    for row in forecast["by_segment"]:
        assert row["actual"] == per_segment.get(row["previous_segment"], 0)
        assert row["customers"] == int((prev["value_risk_segment"] == row["previous_segment"]).sum())
    assert forecast["error_pct"] == pytest.approx((forecast["forecast"] - len(known)) / len(known))
    table = pd.read_csv(runs["current"] / "artifacts" / "forecast_vs_actual.csv")
    assert list(table.columns) == ["previous_segment", "customers", "forecast", "actual"]
    assert table["actual"].sum() == len(known)


def test_roi_scenarios_side_by_side(runs):
    prev = pd.read_csv(runs["previous"] / "artifacts" / "roi.csv").set_index("scenario")
    cur = pd.read_csv(runs["current"] / "artifacts" / "roi.csv").set_index("scenario")
    rows = runs["comparison"]["roi"]
    assert [r["scenario"] for r in rows] == [s for s in cur.index if s in prev.index]
    for r in rows:
        assert r["customers_targeted_previous"] == prev.loc[r["scenario"], "customers_targeted"]
        assert r["customers_targeted_current"] == cur.loc[r["scenario"], "customers_targeted"]
        assert r["net_gain_previous"] == pytest.approx(prev.loc[r["scenario"], "net_gain"])
        assert r["net_gain_current"] == pytest.approx(cur.loc[r["scenario"], "net_gain"])


def test_previous_run_identified_and_never_written(runs):
    comparison = runs["comparison"]
    assert _state(runs["previous"]) == runs["previous_state_before"]
    assert comparison["previous"]["observation_end"] == "1998-05-31"
    assert comparison["previous"]["folder"] == "1998-05-31"
    assert comparison["current"]["observation_end"] == "1998-06-30"
    assert comparison["days_between"] == 30
    for name in ("kpis.json", "model.json", "customers.parquet"):
        digest = hashlib.sha256((runs["previous"] / "artifacts" / name).read_bytes()).hexdigest()
        assert comparison["previous"]["artifacts_sha256"][name] == digest


def test_since_last_json_is_the_returned_dict(runs):
    text = (runs["current"] / "artifacts" / "since_last.json").read_text(encoding="utf-8")
    assert json.loads(text) == runs["comparison"]
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    assert set(runs["comparison"]) == {"previous", "current", "days_between", "period", "kpis", "migration",
                                       "newly_at_risk", "forecast", "roi"}


def test_customers_only_in_the_current_run_are_new_and_left_out_of_the_forecast(runs, tmp_path):
    """A previous run that lacks 100 customers: they count as new, and their purchases are not forecast."""
    previous = tmp_path / "1998-05-31"
    (previous / "artifacts").mkdir(parents=True)
    for p in (runs["previous"] / "artifacts").iterdir():
        (previous / "artifacts" / p.name).write_bytes(p.read_bytes())
    customers = pd.read_parquet(previous / "artifacts" / "customers.parquet")
    dropped = customers.sort_values("customer_id")["customer_id"].astype(str).iloc[:100]
    customers[~customers["customer_id"].astype(str).isin(dropped)].to_parquet(
        previous / "artifacts" / "customers.parquet", index=False)
    current = tmp_path / "current"
    (current / "artifacts").mkdir(parents=True)
    for p in (runs["current"] / "artifacts").iterdir():
        (current / "artifacts" / p.name).write_bytes(p.read_bytes())

    result = history.compare_runs(current, previous, runs["params"])
    cur = _customers(current)
    assert result["migration"]["new_customers"]["count"] == 100
    assert result["migration"]["customers_in_both"] == len(cur) - 100
    assert result["migration"]["new_customers"]["clv"] == pytest.approx(cur.loc[list(dropped), "clv"].sum())
    by_segment = cur.loc[list(dropped), "value_risk_segment"].value_counts()
    assert result["migration"]["new_customers"]["by_segment"] == {s: int(by_segment.get(s, 0)) for s in VALUE_RISK_SEGMENTS}
    purchases = pd.read_parquet(current / "artifacts" / "purchases.parquet").astype({"customer_id": str})
    day = pd.to_datetime(purchases["date"]).dt.date
    in_window = purchases[(day > PREVIOUS_END) & (day <= CURRENT_END)]
    from_new = int(in_window["customer_id"].isin(dropped).sum())
    assert result["forecast"]["new_customers_purchase_days"] == from_new
    assert result["forecast"]["actual"] == runs["comparison"]["forecast"]["actual"] - from_new
    assert result["forecast"]["customers"] == len(cur) - 100


def test_missing_artifact_is_a_clear_error(runs, tmp_path):
    (tmp_path / "empty" / "artifacts").mkdir(parents=True)
    with pytest.raises(history.RunArtifactError, match="run.json is missing"):
        history.compare_runs(runs["current"], tmp_path / "empty", runs["params"])


# ------------------------------------------------------------------ trend


def test_kpi_trend_one_row_per_run_oldest_first(runs):
    trend = history.kpi_trend([runs["current"], runs["previous"]])
    assert list(trend.columns) == ["observation_end", "customers", "active_customers", "retention_rate", "churn_rate",
                                   "revenue_per_buyer", "total_expected_value"]  # the catalogue's order
    assert list(trend["observation_end"].dt.date) == [PREVIOUS_END, CURRENT_END]
    for i, key in enumerate(("previous", "current")):
        kpis = _json(runs[key], "kpis.json")
        assert trend.loc[i, "retention_rate"] == kpis["retention_rate"]
        assert trend.loc[i, "active_customers"] == kpis["active_customers"]
        assert trend.loc[i, "total_expected_value"] == _json(runs[key], "model.json")["clv"]["total"]


@pytest.mark.parametrize("n_runs", [1, 2])
def test_plot_kpi_trend_four_panels(runs, n_runs):
    from matplotlib.figure import Figure

    trend = history.kpi_trend([runs["previous"], runs["current"]][:n_runs])
    fig = history.plot_kpi_trend(trend, currency="€")
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == ["Retention rate", "Churn rate", "Active customers",
                                                   "Total expected customer value"]
    for ax in fig.axes:
        assert len(ax.lines[0].get_xdata()) == n_runs
        assert ax.lines[0].get_marker() == "o"
    fig.canvas.draw()
    assert fig.axes[0].yaxis.get_major_formatter()(0.3, 0).endswith("%")
    assert fig.axes[2].yaxis.get_major_formatter()(3300, 0) == "3,300"
    assert fig.axes[3].yaxis.get_major_formatter()(236975, 0) == "€236,975"
    dutch = history.plot_kpi_trend(trend, lang="nl")
    assert dutch.axes[0].get_title() == "Klantbehoud (retentie)"
    assert dutch.axes[3].get_xlabel() == "rapportdatum (gegevens tot en met)"


# ------------------------------------------------------------------ HTML


@pytest.mark.parametrize("stage", history.STAGES)
def test_section_html_is_self_contained(runs, stage):
    trend = history.kpi_trend([runs["previous"], runs["current"]])
    out = history.section_html(runs["comparison"], stage, runs["params"], trend=trend)
    assert out.startswith('<section class="kit-since"><style>') and out.endswith("</section>")
    assert "Since the last report (1998-05-31)" in out
    lowered = out.lower()
    assert "<script" not in lowered and "http://" not in lowered and "https://" not in lowered
    assert "<link" not in lowered and "@import" not in lowered
    if stage in ("summary", "01_data_and_kpis"):
        assert '<img src="data:image/png;base64,' in out and 'alt="' in out
        assert "\u25b2" in out and "\u25bc" in out and "\u25a0" in out  # rose, fell, unchanged (customers)
        assert "ks-good" in out and "ks-bad" in out
        assert "Retention rate fell by" in out or "Retention rate rose by" in out
    if stage in ("summary", "03_segments"):
        assert "How customers moved between segments" in out
    if stage in ("summary", "02_clv_models"):
        actual = runs["comparison"]["forecast"]["actual"]
        assert f"{actual:,}" in out and "new since then are not part of this check" in out
    if stage == "04_retention_roi":
        assert "Protect high-value customers at risk" in out and "Newly at risk" in out


def test_section_html_ids_only_through_the_pseudonym(runs):
    top = runs["comparison"]["newly_at_risk"]["top"]
    real = [r["customer_id"] for r in top]
    with_ids = history.section_html(runs["comparison"], "03_segments", runs["params"], pseudonym=lambda c: f"c_x{c}y")
    assert all(f"c_x{c}y" in with_ids for c in real)
    without = history.section_html(runs["comparison"], "03_segments", runs["params"])
    assert not any(f">{c}<" in without for c in real)
    for stage in ("summary", "04_retention_roi"):  # the list is shown on the segments page only
        assert not any(f">{c}<" in history.section_html(runs["comparison"], stage, runs["params"]) for c in real)


def test_section_html_escapes_text(runs):
    comparison = copy.deepcopy(runs["comparison"])
    comparison["roi"][0]["label"] = '<img src=x onerror="alert(1)">'  # the label is what the section shows
    out = history.section_html(comparison, "04_retention_roi", runs["params"])
    assert "<img src=x" not in out and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in out
    with_ids = history.section_html(runs["comparison"], "03_segments", runs["params"], pseudonym=lambda c: "<b>&</b>")
    assert "<b>&</b>" not in with_ids and "&lt;b&gt;&amp;&lt;/b&gt;" in with_ids


def test_section_html_in_dutch(runs):
    dutch = _with_language(runs["params"], "nl")
    out = history.section_html(runs["comparison"], "summary", dutch)
    assert "Sinds het vorige rapport (1998-05-31)" in out
    assert "Klantbehoud (retentie): " in out and "procentpunt" in out
    assert "Hoe klanten tussen segmenten verschoven" in out and "Hoge waarde, blijft waarschijnlijk" in out
    assert "Since the last report" not in out and "points" not in out


def test_section_html_first_report(runs):
    trend = history.kpi_trend([runs["previous"]])
    out = history.section_html(None, "summary", runs["params"], trend=trend)
    assert "This is the first report in the series: there is no earlier report to compare with." in out
    # one report in the series: no chart of one dot per figure, a line that says when the chart comes
    assert "<img" not in out and "charted from the second report of the series on" in out
    two = history.kpi_trend([runs["previous"], runs["current"]])
    assert '<img src="data:image/png;base64,' in history.section_html(None, "summary", runs["params"], trend=two)
    assert "<img" not in history.section_html(None, "03_segments", runs["params"], trend=trend)
    dutch = history.section_html(None, "02_clv_models", _with_language(runs["params"], "nl"))
    assert "Dit is het eerste rapport in de reeks" in dutch
    with pytest.raises(ValueError, match="Unknown stage"):
        history.section_html(None, "05_nonsense", runs["params"])
