"""Synthetic transaction logs from known BG/NBD and Gamma-Gamma parameters.

Used to test the kit against known truth and to benchmark it at scale (``bench/``).
Every customer is simulated as the models describe them:

* BG/NBD (Fader, Hardie & Lee 2005a, "Counting your customers the easy way",
  *Marketing Science* 24(2), section 3): while active, a customer buys at the times of a
  Poisson process with rate ``lambda ~ Gamma(r, alpha)`` (shape r, rate alpha); after
  each repeat purchase the customer drops out for good with probability
  ``p ~ Beta(a, b)``.
* Gamma-Gamma (Fader, Hardie & Lee 2005b, "RFM and CLV", *Journal of Marketing Research*
  42(4); Fader & Hardie 2013, note 025): every purchase of a customer has amount
  ``z ~ Gamma(p, nu)`` (shape p, rate nu), with ``nu ~ Gamma(q, v)`` (shape q, rate v) per
  customer; so the population mean spend per purchase is ``p v / (q - 1)``.

Vectorised sampling: with ``N ~ Poisson(lambda T)`` purchase opportunities in ``(0, T]``
and ``K ~ Geometric(p)`` repeat purchases until the drop-out, a customer makes
``X = min(K, N)`` repeat purchases, at the first ``X`` order statistics of ``N``
uniforms on ``(0, T]``. Those are drawn without sampling all ``N`` uniforms:
``U_(k) = S_k / (S_X + G)`` with ``S_k`` the cumulative sums of ``X`` standard exponentials
and ``G ~ Gamma(N - X + 1, 1)`` (Devroye 1986, *Non-Uniform Random Variate Generation*,
ch. V.2). So the work is proportional to the number of transactions written.

Calendar: customer ``i`` makes the first purchase at the start of day ``d_i`` (uniform over
the first ``acquisition_days`` days); a repeat purchase at time ``t`` after it (in days)
is dated day ``d_i + ceil(t)``; the observation ends with day ``observation_days - 1``.
So ``T_i = (observation_days - 1 - d_i) / days_per_unit`` and the number of repeat
purchases written for customer ``i`` is exactly ``X(T_i)`` of the model (two purchases can
fall on the same day; the summary then counts them as one purchase day).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DAYS_PER_UNIT: dict[str, float] = {"D": 1.0, "W": 7.0}

BGNBD_PARAMS: tuple[str, ...] = ("r", "alpha", "a", "b")
GAMMA_GAMMA_PARAMS: tuple[str, ...] = ("p", "q", "v")

BENCH_BGNBD: dict[str, float] = {"r": 0.9, "alpha": 4.0, "a": 0.4, "b": 4.0}
"""BG/NBD parameters (weeks) of the benchmark logs: about 9.7 repeat purchases (10.7 transactions) per customer."""

BENCH_GAMMA_GAMMA: dict[str, float] = {"p": 6.25, "q": 3.74, "v": 15.44}
"""Gamma-Gamma parameters of the benchmark logs (CDNOW's, FHL 2005b): mean spend about 35 per purchase."""


@dataclass(frozen=True)
class SimulationSpec:
    """What to simulate; the same spec and seed always give the same file.

    Attributes
    ----------
    n_customers
        Number of customers.
    bgnbd
        ``{"r", "alpha", "a", "b"}``; ``alpha`` in ``time_unit``.
    gamma_gamma
        ``{"p", "q", "v"}``.
    time_unit
        ``"D"`` or ``"W"`` (weeks of 7 days): the unit of ``alpha``.
    start
        First day of the acquisition period.
    acquisition_days
        First purchases are spread uniformly over this many days from ``start``.
    observation_days
        Length of the observation period from ``start`` (the last day is
        ``start + observation_days - 1``); 546 days = 78 weeks.
    seed
        Seed of ``numpy.random.default_rng``.
    chunk_customers
        Customers simulated and written per chunk (bounds memory; part of the result:
        each chunk has its own random stream derived from ``seed``).
    id_width
        Customer ids are the customer's number, zero-padded to this many digits (strings).
    """

    n_customers: int
    bgnbd: Mapping[str, float] = field(default_factory=lambda: dict(BENCH_BGNBD))
    gamma_gamma: Mapping[str, float] = field(default_factory=lambda: dict(BENCH_GAMMA_GAMMA))
    time_unit: str = "W"
    start: dt.date = dt.date(2023, 1, 1)
    acquisition_days: int = 84
    observation_days: int = 546
    seed: int = 0
    chunk_customers: int = 1_000_000
    id_width: int = 8

    def __post_init__(self) -> None:
        if self.n_customers < 1:
            raise ValueError(f"n_customers must be >= 1, got {self.n_customers}")
        if self.time_unit not in DAYS_PER_UNIT:
            raise ValueError(f"time_unit must be 'D' or 'W', not {self.time_unit!r}")
        if not 1 <= self.acquisition_days <= self.observation_days:
            raise ValueError(
                f"acquisition_days ({self.acquisition_days}) must be between 1 and observation_days"
                f" ({self.observation_days})"
            )
        if self.chunk_customers < 1:
            raise ValueError(f"chunk_customers must be >= 1, got {self.chunk_customers}")
        if len(str(self.n_customers - 1)) > self.id_width:
            raise ValueError(f"id_width {self.id_width} is too small for {self.n_customers:,} customers")
        for names, params, what in ((BGNBD_PARAMS, self.bgnbd, "bgnbd"), (GAMMA_GAMMA_PARAMS, self.gamma_gamma, "gamma_gamma")):
            missing = [k for k in names if k not in params]
            if missing:
                raise ValueError(f"{what} parameters need {names}; missing {missing}")
            bad = {k: params[k] for k in names if not (np.isfinite(params[k]) and params[k] > 0)}
            if bad:
                raise ValueError(f"{what} parameters must be finite and > 0, got {bad}")

    @property
    def observation_end(self) -> dt.date:
        """Last day of the observation period (inclusive)."""
        return self.start + dt.timedelta(days=self.observation_days - 1)

    def to_dict(self) -> dict:
        """JSON-able description (for the manifest of a cached file)."""
        out = asdict(self)
        out["bgnbd"], out["gamma_gamma"] = dict(self.bgnbd), dict(self.gamma_gamma)
        out["start"] = self.start.isoformat()
        out["observation_end"] = self.observation_end.isoformat()
        return out


def expected_repeat_purchases(bgnbd: Mapping[str, float], t: np.ndarray) -> np.ndarray:
    """BG/NBD E[X(t)], repeat purchases in ``(0, t]`` of a customer acquired at 0.

    Fader, Hardie & Lee (2005a), eq. (9)::

        E[X(t)] = (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]

    Requires ``a > 1`` for the closed form as written; for ``a <= 1`` the same expression
    is the analytic continuation and scipy evaluates it (the expectation stays finite for
    finite t).
    """
    from scipy.special import hyp2f1

    r, alpha, a, b = (float(bgnbd[k]) for k in BGNBD_PARAMS)
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    return (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1.0, z))


def simulate_repeat_times(
    T: np.ndarray, bgnbd: Mapping[str, float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Repeat purchase times of customers observed for ``T`` time units after their first purchase.

    Parameters
    ----------
    T
        Length of each customer's observation window in the unit of ``alpha``.
    bgnbd
        ``{"r", "alpha", "a", "b"}``.
    rng
        Random generator.

    Returns
    -------
    counts : numpy.ndarray
        Number of repeat purchases ``X(T_i)`` per customer (int64).
    times : numpy.ndarray
        Their times in ``(0, T_i]``, customer by customer, increasing within a customer;
        ``len(times) == counts.sum()``.
    """
    r, alpha, a, b = (float(bgnbd[k]) for k in BGNBD_PARAMS)
    T = np.asarray(T, dtype=float)
    n = len(T)
    lam = rng.gamma(r, 1.0 / alpha, n)
    drop = rng.beta(a, b, n)
    # p can underflow to 0 for tiny b/a draws; geometric needs p > 0
    until_dropout = rng.geometric(np.clip(drop, 1e-300, 1.0))
    opportunities = rng.poisson(lam * T)
    counts = np.minimum(until_dropout, opportunities).astype(np.int64)
    total = int(counts.sum())
    if total == 0:
        return counts, np.empty(0)
    buyers = counts > 0
    rest = rng.gamma((opportunities[buyers] - counts[buyers] + 1).astype(float), 1.0)
    spacings = rng.standard_exponential(total)
    ends = np.cumsum(counts)
    starts = ends - counts
    cum = np.cumsum(spacings)
    offset = np.repeat(np.concatenate(([0.0], cum))[starts], counts)  # running sum before each customer
    within = cum - offset  # S_k per customer
    s_x = within[ends[buyers] - 1]
    denom = np.repeat(s_x + rest, counts[buyers])
    times = np.repeat(T, counts) * (within / denom)
    return counts, times


def simulate_amounts(counts: np.ndarray, gamma_gamma: Mapping[str, float], rng: np.random.Generator) -> np.ndarray:
    """Gamma-Gamma amounts for ``counts[i]`` purchases of customer ``i``, customer by customer.

    ``nu_i ~ Gamma(q, rate v)`` per customer, ``z ~ Gamma(p, rate nu_i)`` per purchase; rounded
    to cents, at least 0.01.
    """
    p, q, v = (float(gamma_gamma[k]) for k in GAMMA_GAMMA_PARAMS)
    nu = rng.gamma(q, 1.0 / v, len(counts))
    z = rng.gamma(p, 1.0, int(np.sum(counts))) / np.repeat(nu, counts)
    return np.maximum(np.round(z, 2), 0.01)


def simulate_chunk(spec: SimulationSpec, first_customer: int, n_customers: int, rng: np.random.Generator) -> pa.Table:
    """Transactions of customers ``first_customer .. first_customer + n_customers - 1``.

    Returns
    -------
    pyarrow.Table
        ``customer_id`` (string), ``date`` (date32), ``amount`` (float64), sorted by
        customer and date; one row per purchase (the first purchase included).
    """
    unit_days = DAYS_PER_UNIT[spec.time_unit]
    acq_day = rng.integers(0, spec.acquisition_days, n_customers)
    window_days = (spec.observation_days - 1) - acq_day
    counts, times = simulate_repeat_times(window_days / unit_days, spec.bgnbd, rng)
    rows = counts + 1
    n_rows = int(rows.sum())
    first_row = np.cumsum(rows) - rows
    day = np.repeat(acq_day, rows)
    is_repeat = np.ones(n_rows, dtype=bool)
    is_repeat[first_row] = False
    # day k after the first purchase covers (k-1, k]; times are in (0, window], so 1 <= offset <= window
    day[is_repeat] += np.clip(np.ceil(times * unit_days).astype(np.int64), 1, np.repeat(window_days, counts))
    amounts = simulate_amounts(rows, spec.gamma_gamma, rng)
    ids = pc.utf8_lpad(pa.array(np.arange(first_customer, first_customer + n_customers)).cast(pa.string()), spec.id_width, "0")
    customer = np.repeat(np.arange(n_customers), rows)
    epoch = (np.datetime64(spec.start, "D") - np.datetime64("1970-01-01", "D")).astype(np.int64)
    dates = pa.array((day + epoch).astype(np.int32), type=pa.int32()).cast(pa.date32())
    return pa.table({"customer_id": ids.take(pa.array(customer)), "date": dates, "amount": pa.array(amounts)})


def iter_chunks(spec: SimulationSpec):
    """Yield the transaction chunks of ``spec`` (pyarrow Tables), in customer order."""
    root = np.random.SeedSequence(spec.seed)
    n_chunks = -(-spec.n_customers // spec.chunk_customers)
    for i, child in enumerate(root.spawn(n_chunks)):
        first = i * spec.chunk_customers
        size = min(spec.chunk_customers, spec.n_customers - first)
        yield simulate_chunk(spec, first, size, np.random.default_rng(child))


def simulate_transactions(spec: SimulationSpec) -> pa.Table:
    """All transactions of ``spec`` in memory (small ``n_customers``; see :func:`write_transactions`)."""
    return pa.concat_tables(list(iter_chunks(spec)))


def write_transactions(spec: SimulationSpec, path: str | Path, *, row_group_size: int = 1 << 20) -> dict:
    """Simulate ``spec`` and write the transactions to a Parquet file, chunk by chunk.

    Memory stays bounded by one chunk (``spec.chunk_customers``; about 1 GB per million
    customers at 10 transactions each), so 10 million customers need no more than that.
    The file is written to ``path + ".tmp"`` first and renamed when complete.

    Parameters
    ----------
    spec
        What to simulate.
    path
        Parquet file to write (``customer_id`` string, ``date`` date, ``amount`` double).
    row_group_size
        Maximum rows per Parquet row group.

    Returns
    -------
    dict
        ``spec.to_dict()`` plus ``n_transactions`` and ``file``; also written next to the
        file as ``<path>.json``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n_rows = 0
    writer = None
    try:
        for table in iter_chunks(spec):
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression="snappy")
            writer.write_table(table, row_group_size=row_group_size)
            n_rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)
    meta = spec.to_dict() | {"n_transactions": n_rows, "file": path.name}
    path.with_name(path.name + ".json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


__all__ = [
    "BENCH_BGNBD", "BENCH_GAMMA_GAMMA", "SimulationSpec", "expected_repeat_purchases", "simulate_repeat_times",
    "simulate_amounts", "simulate_chunk", "iter_chunks", "simulate_transactions", "write_transactions",
]
