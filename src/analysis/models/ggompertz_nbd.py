"""GGompertz/NBD: Bemmaor & Glady (2012), "Modeling purchasing behavior with sudden 'death': a flexible
customer lifetime model", *Management Science* 58(5), 1012-1021; parameters and names as in CLVTools
(``ggomnbd``: r, alpha, b, s, beta).

While alive a customer buys at a Poisson rate lambda ~ gamma(r, alpha), as in Pareto/NBD. Their lifetime
follows a Gompertz distribution, ``P(tau > t | eta) = exp(-eta (e^(b t) - 1))``, with eta ~ gamma(s, beta)
across customers, so the population survival is ``S(t) = (beta / (beta + e^(b t) - 1))^s`` and its density
``f(t) = b s beta^s e^(b t) / (beta + e^(b t) - 1)^(s+1)``, b > 0: the larger b, the faster a customer's risk
of dropping out grows with their age; as b -> 0 with beta / b fixed the model becomes Pareto/NBD (beta / b
is then Pareto/NBD's beta). The likelihood of a history (x, t_x, T)::

    L = G(r+x) alpha^r / G(r) * [ S(T) / (alpha+T)^(r+x) + int_{t_x}^T f(tau) / (alpha+tau)^(r+x) dtau ]

The integral, the expected purchases and the purchase-count distribution have no closed form; they are
evaluated by Gauss-Legendre quadrature on panels of ``log(alpha + tau)`` (where the steep factor
``(alpha+tau)^-(r+x)`` of a heavy buyer becomes a plain exponential), and so is the gradient that the fit uses
(:func:`ggompertz_nbd_loglik_and_gradient`). The integrand depends on a history only through x, so for each
distinct x the t_x and T of its histories cut time into segments, each integrated once, and a history's integral
is the sum of its segments (:class:`_DeadTermPlan`): 1M simulated customers (450k distinct histories) make 25k
segments, and one evaluation of the likelihood and its gradient takes a fraction of a second (issue #17; before,
192 quadrature points per history took about 10 minutes for the fit). The model is not in ``models.compare``
unless listed there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy import stats
from scipy.special import digamma, gammaln, logsumexp

from analysis.models.base import TransactionModel, nbd_pmf
from analysis.models.fitting import _minimize, _start

PARAMS: tuple[str, ...] = ("r", "alpha", "b", "s", "beta")

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(24)
_PMF_NODES, _PMF_WEIGHTS = np.polynomial.legendre.leggauss(96)


def _log_survival(b, s, beta, t):
    """ln S(t) = s [ln beta - ln(beta + e^(b t) - 1)]."""
    return s * (np.log(beta) - np.log(beta + np.expm1(b * t)))


def _log_density(b, s, beta, t):
    """ln f(t), f the population density of the lifetime."""
    return np.log(b) + np.log(s) + s * np.log(beta) + b * t - (s + 1.0) * np.log(beta + np.expm1(b * t))


_SEGMENT_NODES, _SEGMENT_WEIGHTS = np.polynomial.legendre.leggauss(8)
_SEGMENT_SPREAD = 2.0  # largest rise or fall of the log-integrand over one panel of a segment (in nepers)
_SEGMENT_MAX_PANELS = 256
_PANEL_BUDGET_PER_SEGMENT, _PANEL_BUDGET = 4, 50_000  # all panels of one call at most: bounds time and memory


def _segment_integrals(lo, hi, rx, alpha, b, s, beta, gradient: bool):
    """``ln int_lo^hi f(tau) (alpha+tau)^-rx dtau`` per segment (-inf where lo >= hi) and, with ``gradient``, the
    integrand-weighted means over each segment of the six positive functions ``ln(1 + tau/alpha)``,
    ``1/(alpha+tau)``, ``tau``, ``tau (E+1)/Q``, ``ln(1 + E/beta)`` and ``1/Q`` (E = e^(b tau) - 1, Q = beta + E),
    of which the derivatives of the log-integrand are made (see :func:`ggompertz_nbd_loglik_and_gradient`), shape
    (6, segments).

    Gauss-Legendre with 8 nodes on equal panels of v = ln(alpha + tau); each segment gets as many panels as it takes
    for the log-integrand to change by at most ``_SEGMENT_SPREAD`` over one (at most ``_SEGMENT_MAX_PANELS``), which
    the terms ``-(rx-1) v``, ``b tau`` and ``-(s+1) ln Q``, each monotone, bound. (On an exponential, 8 nodes over a
    change of 2 are exact to 1e-15.) Where all segments together would need more than ``_PANEL_BUDGET_PER_SEGMENT``
    panels each plus ``_PANEL_BUDGET``, which happens only at parameters far from any maximum, each segment's panels
    are cut in proportion (less accurate there, and bounded in time and memory). Parameters are scalars or arrays
    of the segments' shape."""
    lo, hi = np.broadcast_arrays(np.asarray(lo, dtype=float), np.asarray(hi, dtype=float))
    lo, hi = lo.reshape(-1), hi.reshape(-1)
    per = [np.broadcast_to(np.asarray(v, dtype=float), lo.shape) if np.ndim(v) else float(v)
           for v in (rx, alpha, b, s, beta)]
    live = np.flatnonzero(lo < hi)
    log_int = np.full(len(lo), -np.inf)
    means = np.zeros((6, len(lo))) if gradient else None
    if not len(live):
        return log_int, means
    rx, alpha, b, s, beta = (v[live] if np.ndim(v) else v for v in per)
    lo, hi = lo[live], hi[live]
    v0, v1 = np.log(alpha + lo), np.log(alpha + hi)
    with np.errstate(invalid="ignore", over="ignore"):
        spread = (np.abs(rx - 1.0) * (v1 - v0) + b * (hi - lo)
                  + (s + 1.0) * (np.log(beta + np.expm1(b * hi)) - np.log(beta + np.expm1(b * lo))))
        panels = np.clip(np.ceil(spread / _SEGMENT_SPREAD), 1, _SEGMENT_MAX_PANELS)
    panels = np.where(np.isfinite(panels), panels, _SEGMENT_MAX_PANELS).astype(np.int64)
    budget = _PANEL_BUDGET_PER_SEGMENT * len(live) + _PANEL_BUDGET
    if panels.sum() > budget:  # far from any maximum (b of 1e5 and more, tried by the optimizer's line search)
        panels = np.maximum(panels * budget // panels.sum(), 1)
    first = np.concatenate([[0], np.cumsum(panels)[:-1]])
    segment = np.repeat(np.arange(len(lo)), panels)
    width = ((v1 - v0) / panels)[segment]
    col = (lambda v: np.repeat(v, panels)[:, None] if np.ndim(v) else v)  # noqa: E731
    rx, alpha, b, s, beta = (col(v) for v in (rx, alpha, b, s, beta))
    v = (v0[segment] + width * (np.arange(len(segment)) - first[segment]))[:, None] + (width / 2.0)[:, None] * (
        _SEGMENT_NODES + 1.0)
    tau = np.exp(v) - alpha
    E = np.expm1(b * tau)
    Q = beta + E
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        l_nodes = (np.log(b) + np.log(s) + s * np.log(beta) + b * tau - (s + 1.0) * np.log(Q) - (rx - 1.0) * v
                   + np.log(width / 2.0)[:, None] + np.log(_SEGMENT_WEIGHTS))
        top = np.maximum.reduceat(l_nodes.max(axis=1), first)
        top = np.where(np.isfinite(top), top, 0.0)
        log_int[live] = top + np.log(np.add.reduceat(np.exp(l_nodes - top[segment][:, None]).sum(axis=1), first))
        if gradient:
            share = np.exp(l_nodes - log_int[live][segment][:, None])
            for i, g in enumerate((np.log1p(tau / alpha), np.exp(-v), tau, tau * (E + 1.0) / Q, np.log1p(E / beta),
                                   1.0 / Q)):
                means[i, live] = np.add.reduceat((share * g).sum(axis=1), first)
    return log_int, means


_UNDERFLOW = 600.0  # e^-600 is still a normal double


def _half_block_sums(log_terms, mean_terms, log_run, mean_run) -> None:
    """For blocks ``(blocks, 2, h)`` of terms ``e^log_terms``: in the left halves the sums from each term to the
    middle, in the right halves from the middle to each term (in logs), into ``log_run``, and with ``mean_terms``
    (``(6, blocks, 2, h)``, not negative) the term-weighted means over the same terms, into ``mean_run``. Each half
    is scaled by its largest term and summed plainly; a half whose terms span more than ``_UNDERFLOW`` nepers
    (where the small ones would underflow) is summed in logs instead."""
    for half, order in ((0, np.s_[::-1]), (1, np.s_[:])):  # left halves run backwards, to the middle
        terms = log_terms[:, half, order]
        top = terms.max(axis=-1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.exp(terms - top)
            run = np.cumsum(scaled, axis=-1)
            logs = top + np.log(run)
            if mean_terms is not None:
                means = mean_terms[:, :, half, order]
                sums = np.where(run > 0, np.cumsum(scaled * means, axis=-1) / run, 0.0)
            wide = np.any(np.isfinite(terms) & (terms < top - _UNDERFLOW), axis=-1)  # -inf: exact zeros
            if wide.any():
                logs[wide] = np.logaddexp.accumulate(terms[wide], axis=-1)
                if mean_terms is not None:
                    parts = np.logaddexp.accumulate(terms[wide] + np.log(means[:, wide]), axis=-1)
                    sums[:, wide] = np.where(np.isfinite(logs[wide]), np.exp(parts - logs[wide]), 0.0)
        log_run[:, half, order] = logs
        if mean_terms is not None:
            mean_run[:, :, half, order] = sums


class _DeadTermPlan:
    """The integrals ``D = int_{t_x}^T f(tau) (alpha+tau)^-(r+x) dtau`` of many rows as sums of segments.

    The integrand depends on a row only through x, so for each distinct x the t_x and T of its rows cut time into
    segments; each segment is integrated once (:func:`_segment_integrals`) and a row's integral is the sum of the
    segments between its t_x and its T. Those sums come from a disjoint sparse table: for each k, the segments are
    cut into blocks of 2^(k+1), and for each segment the sum from it to the middle of its block (left half) or
    from the middle to it (right half) is kept; a row's first and last segment i < j fall in different halves of
    one block (k the highest bit in which i and j differ), so its sum is the sum of two table entries. Every term
    is added, never subtracted (a difference of prefix sums would cancel for a short range next to a large
    integral), each half-block scaled by its largest term or summed in logs (:func:`_half_block_sums`), so nothing
    overflows or underflows. Rows with t_x = T get -inf. What depends on the rows alone is computed here, once;
    :meth:`dead` does the rest for given parameters.
    """

    def __init__(self, x, tx, T) -> None:
        x, tx, T = (np.asarray(v, dtype=float).reshape(-1) for v in (x, tx, T))
        self.size = len(x)
        self.ux, self.x_of = np.unique(x, return_inverse=True)
        self.times, time_of = np.unique(np.concatenate([tx, T]), return_inverse=True)
        self.T_of = time_of[self.size:]
        key = np.concatenate([self.x_of, self.x_of]).astype(np.int64) * len(self.times) + time_of
        keys, where = np.unique(key, return_inverse=True)  # the breakpoints, by x and time
        group = keys // len(self.times)
        # each x's breakpoints get consecutive slots inside one bin of ``bin_size`` (a power of two): no x crosses
        # a bin's edge, so a row's first and last slot differ in the bits below log2(bin_size) only, which bounds
        # the levels of the table (x's packed into bins first-fit, largest first)
        counts = np.bincount(group, minlength=len(self.ux))
        bin_size = 1 << int(max(int(counts.max(initial=1)) - 1, 0)).bit_length()
        room, base = np.zeros(0, dtype=np.int64), np.zeros(len(counts), dtype=np.int64)
        for g in np.argsort(-counts, kind="stable"):
            fits = np.flatnonzero(room >= counts[g])
            if len(fits):
                b = fits[0]
            else:
                b, room = len(room), np.append(room, bin_size)
            base[g] = b * bin_size + bin_size - room[b]
            room[b] -= counts[g]
        slots = max(len(room), 1) * bin_size
        slot = base[group] + np.arange(len(keys)) - np.searchsorted(group, group)
        start, end = slot[where[:self.size]], slot[where[self.size:]]
        ranged = (tx < T) & (end > start)
        # the segment in slot p runs from the breakpoint in slot p to the one in p + 1; it is integrated only if
        # some row covers it (then both breakpoints belong to that row's x)
        cover = np.cumsum(np.bincount(start[ranged], minlength=slots + 1)
                          - np.bincount(end[ranged], minlength=slots + 1))[:slots]
        at, self.x = np.zeros(slots + 1), np.zeros(slots)
        at[slot] = self.times[keys % len(self.times)]
        self.x[slot] = self.ux[group]
        used = cover > 0
        self.lo, self.hi = np.where(used, at[:-1], 0.0), np.where(used, at[1:], 0.0)
        # each row's first and last segment i <= j and the level k of their block (-1: one segment); table row 0
        # holds the segments, row k + 1 level k; the last column stays empty
        i, j = np.where(ranged, start, 0), np.where(ranged, end - 1, 0)
        level = np.frexp((i ^ j).astype(float))[1] - 1
        self.levels = int(level.max(initial=-1)) + 1
        self.width = slots + 1
        self.first = np.where(ranged, (level + 1) * self.width + i, self.width - 1)
        self.last = np.where(ranged & (level >= 0), (level + 1) * self.width + j, self.width - 1)
        self._log_tab: np.ndarray | None = None
        self._mean_tab: np.ndarray | None = None

    def dead(self, r, alpha, b, s, beta, gradient: bool = False):
        """Each row's ln D and, with ``gradient``, the D-weighted means of :func:`_segment_integrals` (6, rows)."""
        log_seg, mean_seg = _segment_integrals(self.lo, self.hi, r + self.x, alpha, b, s, beta, gradient)
        # row 0: the segments; row k + 1: level k (the tables are kept between calls: fitting calls often)
        if self._log_tab is None:
            self._log_tab = np.full((self.levels + 1, self.width), -np.inf)
        log_tab = self._log_tab
        log_tab[0, :len(log_seg)] = log_seg
        mean_tab = None
        if gradient:
            if self._mean_tab is None:
                self._mean_tab = np.zeros((6, self.levels + 1, self.width))
            mean_tab = self._mean_tab
            mean_tab[:, 0, :len(log_seg)] = mean_seg
        for k in range(self.levels):
            def blocks(row: int, k: int = k):  # views of a table row as blocks of 2 halves of 2^k
                means = None if mean_tab is None else mean_tab[:, row, :-1].reshape(6, -1, 2, 1 << k)
                return log_tab[row, :-1].reshape(-1, 2, 1 << k), means

            _half_block_sums(*blocks(0), *blocks(k + 1))
        log_tab = log_tab.reshape(-1)
        log_a, log_b = log_tab[self.first], log_tab[self.last]
        log_d = np.logaddexp(log_a, log_b)
        if not gradient:
            return log_d, None
        mean_tab = mean_tab.reshape(6, -1)
        with np.errstate(invalid="ignore"):
            w_a, w_b = np.exp(log_a - log_d), np.exp(log_b - log_d)
        empty = np.isneginf(log_d)
        w_a, w_b = np.where(empty, 0.0, w_a), np.where(empty, 0.0, w_b)
        return log_d, mean_tab[:, self.first] * w_a + mean_tab[:, self.last] * w_b


def _log_dead_term(r, alpha, b, s, beta, x, tx, T):
    """ln int_{t_x}^T f(tau) (alpha+tau)^-(r+x) dtau; -inf where t_x = T. Arguments broadcast. With the same
    parameters for every row by segments shared between the rows (:class:`_DeadTermPlan`), as the fit; with
    parameters per customer (a continuous covariate) each row is one segment."""
    r, alpha, b, s, beta, x, tx, T = np.broadcast_arrays(*(np.asarray(v, dtype=float)
                                                          for v in (r, alpha, b, s, beta, x, tx, T)))
    shape = x.shape
    params = [v.reshape(-1) for v in (r, alpha, b, s, beta)]
    if x.size and all(np.all(v == v[0]) for v in params):
        return _DeadTermPlan(x, tx, T).dead(*(float(v[0]) for v in params))[0].reshape(shape)
    r, alpha, b, s, beta = params
    return _segment_integrals(tx, T, r + x.reshape(-1), alpha, b, s, beta, False)[0].reshape(shape)


def ggompertz_nbd_log_likelihood(params, frequency, recency, T) -> np.ndarray:
    """ln L(r, alpha, b, s, beta | x, t_x, T) of each customer (Bemmaor & Glady 2012; see the module)."""
    r, alpha, b, s, beta = GGompertzNBD().values(params)
    x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = _log_survival(b, s, beta, T) - (r + x) * np.log(alpha + T)
    return head + np.logaddexp(alive, _log_dead_term(r, alpha, b, s, beta, x, tx, T))


def ggompertz_nbd_loglik_and_gradient(log_params: np.ndarray, frequency, recency, T, weights, *,
                                      plan: _DeadTermPlan | None = None) -> tuple[float, np.ndarray]:
    """Weighted sample log-likelihood and its gradient in ``log(r, alpha, b, s, beta)``.

    ``ln L = head + logaddexp(A, D)`` with ``head = ln G(r+x) - ln G(r) + r ln alpha``, ``A = ln S(T) -
    (r+x) ln(alpha+T)`` and ``D = ln int_{t_x}^T e^(l(tau)) dtau``, ``l = ln f(tau) - (r+x) ln(alpha+tau)``. The
    derivative of D is the integral of the integrand times the derivative of l (differentiation under the
    integral sign), that is the D-weighted mean of the derivative of l: with E = e^(b tau) - 1 and Q = beta + E::

        dl/dr = -ln(alpha+tau)          dl/dalpha = -(r+x)/(alpha+tau)
        dl/db = 1/b + tau - (s+1) tau (E+1)/Q
        dl/ds = 1/s - ln(1 + E/beta)    dl/dbeta = s/beta - (s+1)/Q

    and A's derivatives are the same expressions at T without the density's own terms. D and the means come from
    :class:`_DeadTermPlan` (``plan``: the rows' plan, when already made, as in repeated calls while fitting); the
    terms that depend on x alone or on T alone are computed once per distinct value.
    """
    r, alpha, b, s, beta = np.exp(np.asarray(log_params, dtype=float))
    x, tx, T, n = (np.asarray(v, dtype=float) for v in (frequency, recency, T, weights))
    plan = plan or _DeadTermPlan(x, tx, T)
    times = plan.times
    E_T = np.expm1(b * times)
    log_Q_T = np.log1p(E_T / beta)  # ln(Q_T / beta)
    log_aT = np.log(alpha + times)
    alive = (-s * log_Q_T)[plan.T_of] - (r + x) * log_aT[plan.T_of]
    with np.errstate(invalid="ignore", divide="ignore"):
        dead, means = plan.dead(r, alpha, b, s, beta, gradient=True)
    bracket = np.logaddexp(alive, dead)
    n_x, size = np.bincount(plan.x_of, weights=n, minlength=len(plan.ux)), n.sum()
    total = float(n_x @ gammaln(r + plan.ux) + size * (r * math.log(alpha) - gammaln(r)) + n @ bracket)
    # sums over the rows of the weights of A and D (times x), by T for A
    n_alive, n_dead = n * np.exp(alive - bracket), n * np.exp(dead - bracket)
    by_T = [np.bincount(plan.T_of, weights=w, minlength=len(times)) for w in (n_alive, n_alive * x)]
    m, m_x = (means @ np.stack([n_dead, n_dead * x]).T).T  # D-weighted means, summed (times x)
    a_T, dead_sum = by_T[0], n_dead.sum()
    grad = np.array([
        n_x @ digamma(r + plan.ux) + size * (math.log(alpha) - digamma(r)) - a_T @ log_aT
        - dead_sum * math.log(alpha) - m[0],
        size * r / alpha - (r * a_T + by_T[1]) @ (1.0 / (alpha + times)) - (r * m[1] + m_x[1]),
        -a_T @ (s * times * (E_T + 1.0) / (beta + E_T)) + dead_sum / b + m[2] - (s + 1.0) * m[3],
        -a_T @ log_Q_T + dead_sum / s - m[4],
        a_T @ (s / beta - s / (beta + E_T)) + dead_sum * s / beta - (s + 1.0) * m[5],
    ])
    return total, grad * np.array([r, alpha, b, s, beta])


class GGompertzNBD(TransactionModel):
    """GGompertz/NBD (Bemmaor & Glady 2012)."""

    name = "ggompertz"
    label = "GGompertz/NBD"
    param_names = PARAMS
    time_params = ("alpha",)
    rate_params = ("b",)
    covariate_links = {"alpha": ("purchase", -1.0), "beta": ("dropout", -1.0)}  # note 019
    silence_aware = True
    compared_by_default = False
    lifetimes_fitter = ""
    references = ("Bemmaor & Glady (2012), Management Science 58(5), 1012-1021", "CLVTools ggomnbd")

    def log_likelihood(self, params, frequency, recency, T):
        return ggompertz_nbd_log_likelihood(params, frequency, recency, T)

    def fit_log_params(self, x, tx, T, n, penalizer: float, start: Mapping[str, float] | None):
        """Maximise the mean log-likelihood (minus ``penalizer * sum(params**2)``, lifetimes' penalty) on time
        rescaled so that max(T) = 1, by BFGS from log-parameters 0 (CLVTools starts at r 0.5, alpha 2, b 0.5,
        s 0.5, beta 0.5 in weeks) with :func:`ggompertz_nbd_loglik_and_gradient`."""
        scale = 1.0 / float(T.max())
        txs, Ts = tx * scale, T * scale
        total = float(n.sum())
        plan = _DeadTermPlan(x, txs, Ts)

        def objective(lp: np.ndarray) -> tuple[float, np.ndarray]:
            with np.errstate(all="ignore"):
                ll, g = ggompertz_nbd_loglik_and_gradient(lp, x, txs, Ts, n, plan=plan)
            sq = np.exp(2 * lp)
            value, grad = -ll / total + penalizer * sq.sum(), -g / total + 2 * penalizer * sq
            return (value, grad) if np.isfinite(value) and np.all(np.isfinite(grad)) else (np.inf, np.zeros_like(lp))

        res = _minimize(objective, _start(start, PARAMS, scale, 0.0, self.time_params, self.rate_params))
        log_theta = np.array(res.x, dtype=float)
        log_theta[PARAMS.index("alpha")] -= math.log(scale)
        log_theta[PARAMS.index("b")] += math.log(scale)
        return log_theta, bool(np.all(np.isfinite(log_theta)))

    def loglik_and_gradient(self, x, tx, T, n):
        plan = _DeadTermPlan(x, tx, T)
        return lambda log_theta: ggompertz_nbd_loglik_and_gradient(log_theta, x, tx, T, n, plan=plan)

    def assumption(self):
        from analysis.reporting.i18n import say

        return say("In **GGompertz/NBD** dropping out can also happen at any moment, and how likely it is changes with"
                   " how long someone has been a customer (a Gompertz lifetime).")

    def limit(self, params, longest):
        """b so small that e^(b T) - 1 = b T for every customer (to 0.05%): the model is Pareto/NBD."""
        if params["b"] * longest < 1e-3:
            from analysis.reporting.i18n import say

            return say("its fit runs to b = 0, where it is the Pareto/NBD model: in these data the risk of dropping"
                       " out does not grow with a customer's age, so Pareto/NBD describes them as well")
        return None

    def p_alive(self, params, x, tx, T):
        """``S(T)/(alpha+T)^(r+x)`` over the bracket of the likelihood."""
        x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
        r, alpha, b, s, beta = self.values(params)
        alive = _log_survival(b, s, beta, T) - (r + x) * np.log(alpha + T)
        return np.exp(alive - np.logaddexp(alive, _log_dead_term(r, alpha, b, s, beta, x, tx, T)))

    def _updated_beta(self, b, beta, T):
        """Alive at T, a customer's remaining lifetime is Gompertz again with eta' = eta e^(b T), and eta' ~
        gamma(s, (beta + e^(b T) - 1) e^(-b T))."""
        return (beta + np.expm1(b * T)) * np.exp(-b * T)

    def alive_expectation(self, params, x, T, t):
        """``(r+x)/(alpha+T) int_0^t S'(u) du`` with S' the survival of the updated lifetime distribution."""
        x, T, t = (np.asarray(v, dtype=float) for v in (x, T, t))
        r, alpha, b, s, beta = self.values(params)
        beta_T = self._updated_beta(b, beta, T)
        u = t[..., None] * (_NODES + 1.0) / 2.0
        bt = np.asarray(b, dtype=float)[..., None]
        survival = np.exp(_log_survival(bt, np.asarray(s, dtype=float)[..., None],
                                        np.asarray(beta_T, dtype=float)[..., None], u))
        return (r + x) / (alpha + T) * (survival @ _WEIGHTS) * t / 2.0

    def count_pmf(self, params, t, n):
        """``P(X(t)=n) = S(t) NBD(n; t) + int_0^t f(tau) NBD(n; tau) dtau``, as Pareto/NBD's with the
        Gompertz-gamma lifetime."""
        r, alpha, b, s, beta = params
        tau = t[..., None] * (_PMF_NODES + 1.0) / 2.0  # (m, 1, k)
        b3, s3, beta3 = b[..., None], s[..., None], beta[..., None]
        density = np.exp(_log_density(b3, s3, beta3, tau)) * (t[..., None] / 2.0) * _PMF_WEIGHTS
        inner = stats.nbinom.pmf(n[..., None], r[..., None], alpha[..., None] / (alpha[..., None] + tau))
        return np.exp(_log_survival(b, s, beta, t)) * nbd_pmf(n, r, alpha, t) + (density * inner).sum(axis=-1)

    def future(self, params, x, T):
        r, alpha, b, s, beta = params
        return GGompertzNBD(), (r + x, alpha + T, b, s, self._updated_beta(b, beta, T))
