"""Time-invariant covariates (Fader & Hardie 2007, note 019): known effects recovered from customers simulated
from the models' definitions, written out here (gamma-distributed purchase rates, exponential or
purchase-triggered drop-out), not from the kit's code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import models
from analysis.models.covariates import fit_with_covariates

Z = 3.0  # intervals of +-3 standard errors: every one of up to 9 estimates inside with about 98% probability


def _covariates(rng, size):
    channel = (rng.random(size) < 0.4).astype(float)  # e.g. acquired online (1) or in the shop (0)
    value = rng.normal(0.0, 1.0, size)  # e.g. the first order's value, standardised
    return pd.DataFrame({"channel": channel, "value": value}, index=pd.Index(range(size), name="customer_id"))


def _summary(x, tx, T, index):
    return pd.DataFrame({"frequency": x.astype(float), "recency": np.round(tx, 1), "T": T}, index=index)


def _check(fit, truth_params, truth_gamma):
    for k, v in truth_params.items():
        low, high = fit.ci[k]
        assert low < v < high, (k, v, fit.params[k], fit.ci[k])
    for process, coefficients in truth_gamma.items():
        for c, g in coefficients.items():
            low, high = fit.gamma_ci[process][c]
            assert low < g < high, (process, c, g, fit.gamma[process][c], (low, high))


def test_pareto_nbd_recovers_covariate_effects_on_buying_and_dropping_out():
    rng = np.random.default_rng(19)
    size = 4000
    cov = _covariates(rng, size)
    truth = {"r": 0.6, "alpha": 8.0, "s": 0.8, "beta": 12.0}
    gamma = {"purchase": {"channel": 0.7, "value": 0.3}, "dropout": {"channel": -0.5, "value": 0.0}}
    lin_p = cov["channel"].to_numpy() * 0.7 + cov["value"].to_numpy() * 0.3
    lin_d = cov["channel"].to_numpy() * -0.5
    rate = rng.gamma(truth["r"], 1.0 / (truth["alpha"] * np.exp(-lin_p)))
    mu = rng.gamma(truth["s"], 1.0 / (truth["beta"] * np.exp(-lin_d)))
    T = rng.uniform(30, 80, size).round(1)
    active = np.minimum(rng.exponential(1.0 / mu), T)
    x = rng.poisson(rate * active)
    tx = np.array([rng.uniform(0, a, k).max() if k else 0.0 for a, k in zip(active, x)])
    summary = _summary(x, tx, T, cov.index)
    fit = fit_with_covariates(summary, "pareto", cov, time_unit="W", ci_level=0.9973)
    _check(fit, truth, gamma)
    assert fit.loglik > models.fit_model(summary, "pareto", time_unit="W").loglik + 50  # the effects are real
    # per customer: buyers from the channel with more purchases expect more
    pa = fit.p_alive(x, summary["recency"], T, cov)
    assert np.all((pa >= 0) & (pa <= 1))
    expected = fit.conditional_expected_purchases(26.0, x, summary["recency"], T, cov)
    same_history = (x == 0) & (T > 70)
    assert expected[same_history & (cov["channel"] == 1)].mean() > expected[same_history & (cov["channel"] == 0)].mean()


def test_bg_nbd_recovers_covariate_effects_on_a_and_b():
    rng = np.random.default_rng(7)
    size = 5000
    cov = _covariates(rng, size)
    truth = {"r": 0.8, "alpha": 6.0, "a": 0.9, "b": 3.0}
    gamma = {"purchase": {"channel": 0.5}, "dropout_a": {"channel": 0.6}, "dropout_b": {"channel": -0.4}}
    ch = cov["channel"].to_numpy()
    rate = rng.gamma(truth["r"], 1.0 / (truth["alpha"] * np.exp(-0.5 * ch)))
    p = rng.beta(truth["a"] * np.exp(0.6 * ch), truth["b"] * np.exp(-0.4 * ch))
    T = rng.uniform(30, 80, size).round(1)
    x, tx = _bg_nbd_histories(rng, rate, p, T)
    summary = _summary(x, tx, T, cov.index)
    fit = fit_with_covariates(summary, "bgnbd", cov[["channel"]], time_unit="W", ci_level=0.9973)
    _check(fit, truth, gamma)
    assert set(fit.gamma) == {"purchase", "dropout_a", "dropout_b"}


def _bg_nbd_histories(rng, rate, p, T):
    """BG/NBD customers: purchases at rate lambda; after each, drop out with probability p (FHL 2005a)."""
    size = len(T)
    x, tx = np.zeros(size, dtype=int), np.zeros(size)
    for i in range(size):
        t = 0.0
        while True:
            t += rng.exponential(1.0 / rate[i])
            if t > T[i]:
                break
            x[i], tx[i] = x[i] + 1, t
            if rng.random() < p[i]:
                break
    return x, tx


def test_bg_nbd_recovers_the_effects_of_a_continuous_covariate():
    """A continuous covariate (every customer their own parameters: the fit per customer, with the analytic
    gradient per row) on all three of BG/NBD's linked parameters."""
    from analysis.models import covariates as covariates_module

    rng = np.random.default_rng(23)
    size = 6000
    cov = _covariates(rng, size)[["value"]]
    truth = {"r": 0.8, "alpha": 6.0, "a": 0.9, "b": 3.0}
    gamma = {"purchase": {"value": 0.4}, "dropout_a": {"value": -0.3}, "dropout_b": {"value": 0.25}}
    v = cov["value"].to_numpy()
    rate = rng.gamma(truth["r"], 1.0 / (truth["alpha"] * np.exp(-0.4 * v)))
    p = rng.beta(truth["a"] * np.exp(-0.3 * v), truth["b"] * np.exp(0.25 * v))
    T = rng.uniform(30, 80, size).round(1)
    x, tx = _bg_nbd_histories(rng, rate, p, T)
    summary = _summary(x, tx, T, cov.index)
    assert cov["value"].nunique() > covariates_module.MAX_PATTERNS  # the per-customer path
    fit = fit_with_covariates(summary, "bgnbd", cov, time_unit="W", ci_level=0.9973)
    _check(fit, truth, gamma)


# the model's log-likelihood per customer, as the papers write it: Pareto/NBD note 009 eq. (22), BG/NBD FHL (2005a)
# eq. (6), MBG/NBD Batislam et al. (2007); the gradient per row is checked against its central differences
ROW_POINTS = {
    "pareto": [(0.6, 8.0, 0.8, 12.0), (2.5, 1.5, 0.3, 40.0), (0.15, 30.0, 3.0, 2.0)],
    "bgnbd": [(0.8, 6.0, 0.9, 3.0), (2.5, 1.5, 0.3, 12.0), (0.15, 30.0, 4.0, 0.7)],
    "mbgnbd": [(0.8, 6.0, 0.9, 3.0), (2.5, 1.5, 0.3, 12.0), (0.15, 30.0, 4.0, 0.7)],
}


@pytest.mark.parametrize("name", sorted(ROW_POINTS))
def test_the_gradient_per_row_matches_central_differences_of_the_log_likelihood(name):
    from analysis.models.registry import get

    model = get(name)
    rng = np.random.default_rng(5)
    size = 400
    x = rng.poisson(1.5, size).astype(float)
    T = rng.uniform(5, 60, size).round(1)
    tx = np.where(x > 0, (T * rng.uniform(0.0, 1.0, size)).round(1), 0.0)
    tx[:10] = np.where(x[:10] > 0, T[:10], 0.0)  # bought at the very end: t_x = T
    x[-10:], tx[-10:] = 25.0, T[-10:] * 0.9  # heavy buyers
    for point in ROW_POINTS[name]:
        # every row its own parameters, around the point (as a continuous covariate makes them)
        log_rows = [np.log(v) + rng.normal(0.0, 0.4, size) for v in point]
        ll, grad = model.loglik_and_gradient_rows(log_rows, x, tx, T)
        assert grad.shape == (size, 4)
        expected_ll = model.log_likelihood([np.exp(v) for v in log_rows], x, tx, T)
        np.testing.assert_allclose(ll, expected_ll, rtol=1e-12, atol=1e-10)
        h = 1e-5
        for k in range(4):
            up = [v + h * (j == k) for j, v in enumerate(log_rows)]
            down = [v - h * (j == k) for j, v in enumerate(log_rows)]
            numeric = (model.log_likelihood([np.exp(v) for v in up], x, tx, T)
                       - model.log_likelihood([np.exp(v) for v in down], x, tx, T)) / (2 * h)
            np.testing.assert_allclose(grad[:, k], numeric, rtol=1e-5, atol=1e-7, err_msg=f"{name} {point} {k}")
        # the same parameters for every row: the rows add up to the model's summed likelihood and gradient
        weights = rng.integers(1, 5, size).astype(float)
        ll_one, grad_one = model.loglik_and_gradient_rows([np.log(v) for v in point], x, tx, T)
        total, gradient = model.loglik_and_gradient(x, tx, T, weights)(np.log(point))
        assert weights @ ll_one == pytest.approx(total, rel=1e-12)
        np.testing.assert_allclose(weights @ grad_one, gradient, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["pareto", "bgnbd", "mbgnbd"])
def test_a_continuous_covariate_gives_the_estimates_of_numerical_derivatives(name, monkeypatch):
    """The fit per customer with the analytic gradient per row reaches the maximum that it reached with
    central-difference gradients (the path GGompertz/NBD still takes, called here for the other models)."""
    from analysis.models import covariates as covariates_module

    rng = np.random.default_rng(29)
    size = 1500
    cov = _covariates(rng, size)
    lin = 0.5 * cov["value"].to_numpy() + 0.4 * cov["channel"].to_numpy()
    rate = rng.gamma(0.7, 1.0 / (6.0 * np.exp(-lin)))
    T = rng.uniform(20, 80, size).round(1)
    active = np.minimum(rng.exponential(1.0 / rng.gamma(0.8, 1.0 / (10.0 * np.exp(0.3 * cov["value"].to_numpy())))), T)
    x = rng.poisson(rate * active)
    tx = np.array([rng.uniform(0, a, k).max() if k else 0.0 for a, k in zip(active, x)])
    summary = _summary(x, tx, T, cov.index)
    analytic = fit_with_covariates(summary, name, cov, time_unit="W")
    monkeypatch.setattr(covariates_module, "has_row_gradient", lambda model: False)
    numerical = fit_with_covariates(summary, name, cov, time_unit="W")
    _assert_same_fit(analytic, numerical, loglik=1e-6, estimates=1e-5, intervals=1e-3)


@pytest.mark.parametrize("name", ["pareto", "bgnbd"])
def test_categories_are_fitted_per_combination_with_the_same_result(name, monkeypatch):
    """With categorical covariates the fit works per combination of categories with the model's analytic
    gradient; per customer (what a continuous covariate needs, with the gradient per row) it reaches the same
    maximum: the same log-likelihood, estimates and intervals."""
    from analysis.models import covariates as covariates_module

    rng = np.random.default_rng(3)
    size = 3000
    region = rng.integers(0, 3, size)
    cov = pd.DataFrame({"north": (region == 1).astype(float), "south": (region == 2).astype(float)},
                       index=pd.Index(range(size), name="customer_id"))
    rate = rng.gamma(0.7, 1.0 / (6.0 * np.exp(-0.5 * cov["north"].to_numpy())))
    T = rng.uniform(20, 80, size).round(1)
    active = np.minimum(rng.exponential(1.0 / rng.gamma(0.8, 1.0 / 10.0, size)), T)
    x = rng.poisson(rate * active)
    tx = np.array([rng.uniform(0, a, k).max() if k else 0.0 for a, k in zip(active, x)])
    summary = _summary(x, tx, T, cov.index)
    grouped = fit_with_covariates(summary, name, cov, time_unit="W")
    monkeypatch.setattr(covariates_module, "MAX_PATTERNS", 0)
    per_customer = fit_with_covariates(summary, name, cov, time_unit="W")
    _assert_same_fit(grouped, per_customer, loglik=1e-5, estimates=1e-4, intervals=1e-2)


def _assert_same_fit(fit, other, *, loglik: float, estimates: float, intervals: float):
    """The same maximum: log-likelihoods within ``loglik``; base parameters within ``estimates`` relative and
    coefficients within it absolute; the base parameters' intervals within ``intervals`` relative and the
    coefficients' within it absolute."""
    assert fit.loglik == pytest.approx(other.loglik, abs=loglik)
    for k in fit.params:
        assert fit.params[k] == pytest.approx(other.params[k], rel=estimates)
        assert fit.ci[k] == pytest.approx(other.ci[k], rel=intervals)
    for process, coefficients in fit.gamma.items():
        for c, g in coefficients.items():
            assert g == pytest.approx(other.gamma[process][c], abs=estimates)
            assert fit.gamma_ci[process][c] == pytest.approx(other.gamma_ci[process][c], abs=intervals)


def test_covariates_are_checked_like_the_transaction_file():
    rng = np.random.default_rng(1)
    cov = _covariates(rng, 50)
    summary = _summary(rng.integers(0, 3, 50), np.zeros(50), np.full(50, 20.0), cov.index)
    summary["recency"] = np.where(summary["frequency"] > 0, 10.0, 0.0)
    with pytest.raises(ValueError, match="Covariate column region is missing"):
        fit_with_covariates(summary, "pareto", cov, purchase=["region"], time_unit="W")
    with pytest.raises(ValueError, match="3 of the 50 customers of the summary have no covariate row"):
        fit_with_covariates(summary, "pareto", cov.iloc[3:], time_unit="W")
    bad = cov.assign(value=cov["value"].astype(object))
    bad.iloc[[4, 9], 1] = "n/a"
    with pytest.raises(ValueError, match="value has 2 missing or non-numeric values.*0/1 columns"):
        fit_with_covariates(summary, "pareto", bad, time_unit="W")
    with pytest.raises(ValueError, match="same value for every customer"):
        fit_with_covariates(summary, "pareto", cov.assign(channel=1.0), time_unit="W")
    with pytest.raises(ValueError, match="Covariates are available for"):
        fit_with_covariates(summary, "nope", cov, time_unit="W")


# ---------------------------------------------------------------- on the model page (models.covariates)


def _shop_with_channels(folder):
    """A daily log of 1,500 customers; those from the web shop (a text column) buy twice as fast."""
    rng = np.random.default_rng(11)
    size = 1500
    online = rng.random(size) < 0.4
    rate = rng.gamma(0.8, 1.0 / (30.0 * np.exp(-np.log(2.0) * online)))  # per day
    life = rng.exponential(1.0 / rng.gamma(0.9, 1.0 / 300.0, size))
    start, end = pd.Timestamp("2023-01-01"), pd.Timestamp("2024-12-31")
    first = rng.integers(0, 365, size)
    rows = []
    for i in range(size):
        active = min(life[i], (end - start).days - first[i])
        days = np.concatenate([[0.0], rng.uniform(0, active, rng.poisson(rate[i] * active))])
        mean = rng.gamma(6.0, 8.0)  # the customer's own average order value
        rows += [(f"C{i:04d}", (start + pd.Timedelta(days=int(first[i] + d))).date().isoformat(),
                  round(rng.gamma(10.0, mean / 10.0), 2)) for d in days]
    pd.DataFrame(rows, columns=["customer_id", "date", "amount"]).to_csv(folder / "orders.csv", index=False)
    channels = pd.DataFrame({"klant": [f"C{i:04d}" for i in range(size)],
                             "channel": np.where(online, "online", "shop"), "region": rng.integers(1, 4, size)})
    channels.to_csv(folder / "channels.csv", index=False)
    return folder / "orders.csv", folder / "channels.csv", channels


def _params(folder, orders, covariates, lang="en"):
    import yaml

    path = folder / f"params_{lang}.yaml"
    path.write_text(yaml.safe_dump({
        "data": {"path": str(orders), "date_format": "%Y-%m-%d"},
        "models": {"n_draws": 20, "covariates": {"path": str(covariates), "customer_id": "klant",
                                                  "columns": ["channel"]}},
        "report": {"language": lang},
    }))
    return path


def test_the_model_page_shows_what_drives_buying_in_both_languages(tmp_path):
    import re
    import subprocess
    import sys

    from test_locale_pages import _english_lines, _report
    from test_own_data import _env

    orders, covariates, _ = _shop_with_channels(tmp_path)
    pages = {}
    for lang in ("en", "nl"):
        out = tmp_path / f"run_{lang}"
        result = subprocess.run([sys.executable, "-m", "analysis.pipeline", "run", "--params",
                                 str(_params(tmp_path, orders, covariates, lang)), "--out", str(out)],
                                capture_output=True, text=True, timeout=900, env=_env())
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        pages[lang] = (out / "02_clv_models.html").read_text(encoding="utf-8")
    english = re.sub(r"<[^>]+>", " ", pages["en"])
    assert "What drives buying and dropping out" in english
    # the row of the web shop (the most common value, the shop, is the reference): about twice as fast
    row = re.search(r"channel=online\s+x(\d+\.\d+)\s+x(\d+\.\d+)\s+-\s+x(\d+\.\d+)", english)
    assert row, english[english.find("What drives"):][:1500]
    pace, low, high = (float(v) for v in row.groups())
    assert low < 2.0 < high and pace > 1.3
    assert "Wat kopen en afhaken bepaalt" in pages["nl"]
    found = _english_lines(tmp_path / "run_nl")
    assert "02_clv_models.html" not in found and "03_segments.html" not in found, _report(found)
    # the segments page groups the customers by the characteristic: 630 of the 1,500 came from the web shop
    segments_page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (tmp_path / "run_en" / "03_segments.html").read_text()))
    assert re.search(r"Segments by customer characteristic channel Customers .*? online 630 42\.0%", segments_page)
    assert "Segmenten per klantkenmerk" in (tmp_path / "run_nl" / "03_segments.html").read_text(encoding="utf-8")
    # the campaign page: whom the best scenario contacts per channel; the groups add up to its list and net gain
    import json

    roi_table = pd.read_csv(tmp_path / "run_en" / "artifacts" / "roi.csv")
    best = roi_table.loc[roi_table["net_gain"].idxmax()]
    campaign_page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (tmp_path / "run_en" / "04_retention_roi.html").read_text()))
    assert "Whom the campaign reaches, by customer characteristic" in campaign_page
    rows = re.findall(r"\b(online|shop) ([\d,]+) ([\d,]+) [\d.]+% ", campaign_page)
    assert [r[0] for r in rows] == ["online", "shop"] and int(rows[0][1].replace(",", "")) == 630
    assert sum(int(r[2].replace(",", "")) for r in rows) == int(best["customers_targeted"])
    assert "Wie de campagne bereikt, per klantkenmerk" in (tmp_path / "run_nl" / "04_retention_roi.html").read_text(
        encoding="utf-8")
    assert "04_retention_roi.html" not in found, _report(found)
    # model.json keeps the effects, as the page shows them
    effects = json.loads((tmp_path / "run_en" / "artifacts" / "model.json").read_text())["covariates"]
    assert effects["estimated"] and effects["model"] == "pareto" and effects["n_customers"] == 1500
    online = effects["effects"]["purchase"]["channel=online"]
    assert online["factor"] == pytest.approx(pace, abs=0.006) and online["factor_ci"][0] < 2.0 < online["factor_ci"][1]


def test_a_covariate_file_that_misses_customers_stops_the_run_with_one_line(tmp_path):
    import subprocess
    import sys

    from test_own_data import _env

    orders, covariates, channels = _shop_with_channels(tmp_path)
    channels.iloc[:-7].to_csv(covariates, index=False)  # the last 7 customers have no row
    result = subprocess.run([sys.executable, "-m", "analysis.pipeline", "run", "--params",
                             str(_params(tmp_path, orders, covariates)), "--out", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=900, env=_env())
    assert result.returncode == 2, result.stdout[-3000:]
    errors = [line for line in result.stdout.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "channels.csv" in errors[0] and "7 of the 1,500 customers have no row" in errors[0]
    assert "C14" not in errors[0]  # no customer ids in messages


def test_read_covariates_turns_text_into_0_1_columns_and_checks_the_file(tmp_path):
    from analysis.errors import DataValidationError
    from analysis.models.covariates import read_covariates

    path = tmp_path / "c.csv"
    pd.DataFrame({"id": ["a", "b", "c", "d"], "channel": ["shop", "web", "shop", "app"], "value": [1, 2, 3, 4.5]}
                 ).to_csv(path, index=False)
    customers = pd.Index(["d", "a", "b", "c"], name="customer_id")
    got = read_covariates(path, customers, "id")
    assert list(got.columns) == ["channel=app", "channel=web", "value"]  # "shop", the most common, is the reference
    assert got.loc["d", "channel=app"] == 1.0 and got.loc["b", "channel=web"] == 1.0 and got.loc["a"].sum() == 1.0
    assert list(got.index) == ["d", "a", "b", "c"]
    with pytest.raises(DataValidationError, match="column 'klant' not found"):
        read_covariates(path, customers, "klant")
    with pytest.raises(DataValidationError, match=r"column\(s\) \['region'\] not found"):
        read_covariates(path, customers, "id", ["region"])
    pd.DataFrame({"id": ["a", "a", "b"], "x": [1, 2, 3]}).to_csv(path, index=False)
    with pytest.raises(DataValidationError, match="repeats 1 customer id"):
        read_covariates(path, customers, "id")
    pd.DataFrame({"id": list("abcd"), "x": [1, None, 3, 4]}).to_csv(path, index=False)
    with pytest.raises(DataValidationError, match="column 'x' is empty for 1 of the 4 customers"):
        read_covariates(path, customers, "id")
    with pytest.raises(DataValidationError, match="not found: check models.covariates.path"):
        read_covariates(tmp_path / "nope.csv", customers)


def test_customers_by_characteristic_by_hand():
    from analysis.business.segments import by_characteristic

    ids = pd.Index([f"c{i}" for i in range(8)], name="customer_id")
    customers = pd.DataFrame({"clv": [10.0, 20, 30, 40, 50, 60, 70, 80],
                              "p_alive": [0.9, 0.2, 0.6, 0.4, 0.8, 0.1, 0.7, 0.5]}, index=ids)
    channel = pd.Series(["web", "shop", "web", "web", "shop", "shop", "shop", "shop"], index=ids[::-1])
    got = by_characteristic(customers, channel, pd.Index(["c1", "c3", "c6"]), 0.5)
    # reversed order on purpose: values are matched by id. c7..c0 -> web: c7, c5, c4; shop: c6, c3, c2, c1, c0
    web, shop = got.set_index("group").loc["web"], got.set_index("group").loc["shop"]
    assert (web["customers"], shop["customers"]) == (3, 5)
    assert web["expected_value"] == 80 + 60 + 50 and shop["avg_clv"] == pytest.approx((70 + 40 + 30 + 20 + 10) / 5)
    assert web["likely_to_stay"] == pytest.approx(2 / 3)  # c7 0.5, c5 0.1, c4 0.8
    assert (web["high_value_at_risk"], shop["high_value_at_risk"]) == (0, 3)
    assert got["customer_share"].sum() == pytest.approx(1.0)
    value = pd.Series([1.0, 2, 3, 4, 5, 6, 7, 8], index=ids)
    quarters = by_characteristic(customers, value, pd.Index([]), 0.5)
    assert list(quarters["customers"]) == [2, 2, 2, 2] and quarters["group"].iloc[0] == "1.00 - 2.75"
    # small values (an order value in thousands, say): two decimals would give "0.00 - 0.00" twice, which stopped
    # the page; the labels take a third decimal. pandas' quarter edges are 0, 0.00275, 0.0045, 0.00625 and 0.008
    # (the first lowered and rounded by qcut); 0.0045 and 0.00625 lie just below their halves as floats
    small = by_characteristic(customers, value / 1000, pd.Index([]), 0.5)
    assert list(small["group"]) == ["0.000 - 0.003", "0.003 - 0.004", "0.004 - 0.006", "0.006 - 0.008"]
    assert list(small["customers"]) == [2, 2, 2, 2]
