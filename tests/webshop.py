"""A realistic web-shop transaction log, made in the tests (nothing is shipped).

Unlike CDNOW (all customers arrive in one quarter), this shop keeps acquiring customers
every day for two years, at a rate that grows and dips at weekends; customers buy at their
own pace and leave at any moment (Pareto/NBD-like); a few wholesale-like heavy buyers buy
ten times as often; orders have one to three lines; about 7% of the orders are sent back
(in full or in part) a few days later, recorded as negative amounts; and a few customers make
their first purchase exactly on the days the reports split the data (month ends and the
calibration ends 182 days before them). The file is a Dutch export: ``;`` between fields,
dates as ``31-12-2024``, amounts as ``1.249,00``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

START = dt.date(2023, 1, 1)
DAYS = 730  # two years: 2023-01-01 .. 2024-12-30
HOLDOUT_DAYS = 182


@dataclass(frozen=True)
class Webshop:
    """The written file and what the tests need to know about it."""

    path: Path
    start: dt.date
    end: dt.date
    customers: int
    lines: int
    return_lines: int
    split_day_customers: dict[str, list[str]]


def month_ends(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every last day of a month from ``start`` to ``end``."""
    out, year, month = [], start.year, start.month
    while True:
        nxt = dt.date(year + month // 12, month % 12 + 1, 1)
        last = nxt - dt.timedelta(days=1)
        if last > end:
            return out
        if last >= start:
            out.append(last)
        year, month = nxt.year, nxt.month


def dutch_amount(value: float) -> str:
    """1249.5 -> '1.249,50' (thousands '.', decimal ',')."""
    text = f"{abs(value):,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return ("-" if value < 0 else "") + text


def write_webshop(path: Path, seed: int = 7, n_customers: int = 3000) -> Webshop:
    """Write the log to ``path`` (CSV) and describe it."""
    rng = np.random.default_rng(seed)
    end = START + dt.timedelta(days=DAYS - 1)
    # daily arrivals: a growing trend, fewer at weekends
    day = np.arange(DAYS)
    weekday = np.array([(START + dt.timedelta(days=int(d))).weekday() for d in day])
    weight = (1.0 + day / DAYS) * np.where(weekday >= 5, 0.6, 1.0)
    first_day = np.sort(rng.choice(DAYS, size=n_customers, p=weight / weight.sum()))
    # customers arriving on the split days of the monthly reports
    split_days: dict[str, list[str]] = {}
    splits = [d for d in month_ends(START, end)]
    splits += [d - dt.timedelta(days=HOLDOUT_DAYS) for d in splits if d - dt.timedelta(days=HOLDOUT_DAYS) > START]
    pick = rng.choice(n_customers, size=2 * len(splits), replace=False)
    for k, split in enumerate(splits):
        for i in pick[2 * k:2 * k + 2]:
            first_day[i] = (split - START).days
            split_days.setdefault(split.isoformat(), []).append(f"K{i + 1:05d}")
    lam = rng.gamma(0.9, 1 / 60.0, n_customers)  # purchases per day while alive (about 5 a year)
    heavy = rng.random(n_customers) < 0.02
    lam[heavy] *= 10
    mu = rng.gamma(0.8, 1 / 300.0, n_customers)  # drop-out rate per day
    spend_scale = rng.gamma(3.0, 1 / 3.0, n_customers) * 55.0  # a customer's typical order

    rows: list[tuple[str, dt.date, float]] = []
    n_returns = 0
    for i in range(n_customers):
        cid = f"K{i + 1:05d}"
        life = rng.exponential(1 / mu[i])
        t, days_ = 0.0, [int(first_day[i])]
        while True:
            t += rng.exponential(1 / lam[i])
            if t > life or first_day[i] + t >= DAYS:
                break
            days_.append(int(first_day[i] + np.ceil(t)))
        for d in days_:
            if d >= DAYS:
                continue
            date = START + dt.timedelta(days=d)
            lines = rng.integers(1, 4)
            amounts = np.round(rng.gamma(2.0, spend_scale[i] / 2.0 / lines, lines) + 1.0, 2)
            if heavy[i] and rng.random() < 0.2:
                amounts[0] = round(float(amounts[0]) * 25, 2)  # a bulk order, over a thousand
            rows += [(cid, date, float(a)) for a in amounts]
            if rng.random() < 0.07:  # sent back, in full or in part, 0-20 days later
                back = d + int(rng.integers(0, 21))
                if back < DAYS:
                    share = 1.0 if rng.random() < 0.5 else float(rng.uniform(0.2, 0.8))
                    rows.append((cid, START + dt.timedelta(days=back), -round(float(amounts.sum()) * share, 2)))
                    n_returns += 1
    order = rng.permutation(len(rows))  # exports are not sorted by customer
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("klantnummer;orderdatum;bedrag\r\n")
        for k in order:
            cid, date, amount = rows[k]
            handle.write(f"{cid};{date:%d-%m-%Y};{dutch_amount(amount)}\r\n")
    return Webshop(path=path, start=START, end=end, customers=n_customers, lines=len(rows), return_lines=n_returns,
                   split_day_customers=split_days)


def params_for(webshop: Webshop, default_yaml: Path) -> str:
    """``params/default.yaml`` with only its ``data:`` section edited for the web shop, as a new user does."""
    text = default_yaml.read_text(encoding="utf-8")
    head, rest = text.split("data:\n", 1)
    body = rest[rest.index("\nperiod:"):]
    data = f"""data:
  path: {webshop.path}
  columns:
    customer_id: klantnummer
    date: orderdatum
    amount: bedrag
  date_format: "%d-%m-%Y"
  decimal: ","
  thousands: "."
  delimiter: ";"
  returns: net
  zero_amounts: keep
  duplicates: keep
"""
    return head + data + body
