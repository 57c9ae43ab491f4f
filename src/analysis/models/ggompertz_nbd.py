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
(:func:`ggompertz_nbd_loglik_and_gradient`). With 192 quadrature points per history the fit is slower than the
other models', and the model is not in ``models.compare`` unless listed there.
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
_PANELS = 8


def _log_survival(b, s, beta, t):
    """ln S(t) = s [ln beta - ln(beta + e^(b t) - 1)]."""
    return s * (np.log(beta) - np.log(beta + np.expm1(b * t)))


def _log_density(b, s, beta, t):
    """ln f(t), f the population density of the lifetime."""
    return np.log(b) + np.log(s) + s * np.log(beta) + b * t - (s + 1.0) * np.log(beta + np.expm1(b * t))


def _panel_points(lo, hi, alpha):
    """Quadrature points on [lo, hi] (arrays, broadcast) and the log of their weights, on ``_PANELS`` equal panels
    of v = ln(alpha + tau) (so d tau = (alpha + tau) dv)."""
    lo, hi, alpha = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lo, hi, alpha)))
    v0, v1 = np.log(alpha + lo)[..., None], np.log(alpha + hi)[..., None]
    edges = np.arange(_PANELS)[:, None] / _PANELS
    unit = (edges + (_NODES[None, :] + 1.0) / (2.0 * _PANELS)).reshape(-1)  # points in [0, 1]
    v = v0 + (v1 - v0) * unit
    tau = np.exp(v) - alpha[..., None]
    with np.errstate(divide="ignore"):
        log_w = np.log((v1 - v0) / (2.0 * _PANELS)) + np.log(np.tile(_WEIGHTS, _PANELS)) + v
    return tau, log_w


def _log_dead_term(r, alpha, b, s, beta, x, tx, T):
    """ln int_{t_x}^T f(tau) (alpha+tau)^-(r+x) dtau; -inf where t_x = T. Arguments broadcast."""
    r, alpha, b, s, beta, x, tx, T = np.broadcast_arrays(*(np.asarray(v, dtype=float)
                                                          for v in (r, alpha, b, s, beta, x, tx, T)))
    tau, log_w = _panel_points(tx, T, alpha)
    col = (lambda v: v[..., None])  # noqa: E731
    log_f = _log_density(col(b), col(s), col(beta), tau) - col(r + x) * np.log(col(alpha) + tau)
    with np.errstate(invalid="ignore"):
        out = logsumexp(log_f + log_w, axis=-1)
    return np.where(tx < T, out, -np.inf)


def ggompertz_nbd_log_likelihood(params, frequency, recency, T) -> np.ndarray:
    """ln L(r, alpha, b, s, beta | x, t_x, T) of each customer (Bemmaor & Glady 2012; see the module)."""
    r, alpha, b, s, beta = GGompertzNBD().values(params)
    x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = _log_survival(b, s, beta, T) - (r + x) * np.log(alpha + T)
    return head + np.logaddexp(alive, _log_dead_term(r, alpha, b, s, beta, x, tx, T))


_CHUNK = 20_000  # rows per block: a block holds (rows x quadrature points) arrays


def ggompertz_nbd_loglik_and_gradient(log_params: np.ndarray, frequency, recency, T, weights) -> tuple[float, np.ndarray]:
    """Weighted sample log-likelihood and its gradient in ``log(r, alpha, b, s, beta)``.

    ``ln L = head + logaddexp(A, D)`` with ``head = ln G(r+x) - ln G(r) + r ln alpha``, ``A = ln S(T) -
    (r+x) ln(alpha+T)`` and ``D = ln int_{t_x}^T e^(l(tau)) dtau``, ``l = ln f(tau) - (r+x) ln(alpha+tau)``. The
    derivative of D is the integral of the integrand times the derivative of l (differentiation under the
    integral sign), taken with the same quadrature points: with E = e^(b tau) - 1 and Q = beta + E::

        dl/dr = -ln(alpha+tau)          dl/dalpha = -(r+x)/(alpha+tau)
        dl/db = 1/b + tau - (s+1) tau (E+1)/Q
        dl/ds = 1/s + ln beta - ln Q    dl/dbeta = s/beta - (s+1)/Q

    and A's derivatives are the same expressions at T without the density's own terms. Rows are processed in
    blocks of ``_CHUNK``.
    """
    r, alpha, b, s, beta = np.exp(np.asarray(log_params, dtype=float))
    x, tx, T, n = (np.asarray(v, dtype=float) for v in (frequency, recency, T, weights))
    total, grad = 0.0, np.zeros(5)
    for lo in range(0, len(x), _CHUNK):
        xs, txs, Ts, ns = x[lo:lo + _CHUNK], tx[lo:lo + _CHUNK], T[lo:lo + _CHUNK], n[lo:lo + _CHUNK]
        rx = r + xs
        E_T = np.expm1(b * Ts)
        Q_T = beta + E_T
        alive = s * (math.log(beta) - np.log(Q_T)) - rx * np.log(alpha + Ts)
        tau, log_w = _panel_points(txs, Ts, alpha)
        E = np.expm1(b * tau)
        Q = beta + E
        log_at = np.log(alpha + tau)
        with np.errstate(invalid="ignore", divide="ignore"):
            l_nodes = (math.log(b) + math.log(s) + s * math.log(beta) + b * tau - (s + 1.0) * np.log(Q)
                       - rx[:, None] * log_at + log_w)
            dead = logsumexp(l_nodes, axis=1)
        dead = np.where(txs < Ts, dead, -np.inf)
        bracket = np.logaddexp(alive, dead)
        head = gammaln(rx) - gammaln(r) + r * math.log(alpha)
        total += float(ns @ (head + bracket))
        w_alive = np.exp(alive - bracket)
        with np.errstate(invalid="ignore"):
            share = np.where((txs < Ts)[:, None], np.exp(l_nodes - dead[:, None]), 0.0)  # quadrature weights of D
        w_dead = (1.0 - w_alive)[:, None] * share
        parts = [
            digamma(rx) - digamma(r) + math.log(alpha) - w_alive * np.log(alpha + Ts) - (w_dead * log_at).sum(1),
            r / alpha - w_alive * rx / (alpha + Ts) - (w_dead * (rx[:, None] / (alpha + tau))).sum(1),
            -w_alive * s * Ts * (E_T + 1.0) / Q_T + (w_dead * (1.0 / b + tau - (s + 1.0) * tau * (E + 1.0) / Q)).sum(1),
            w_alive * (math.log(beta) - np.log(Q_T)) + (w_dead * (1.0 / s + math.log(beta) - np.log(Q))).sum(1),
            w_alive * (s / beta - s / Q_T) + (w_dead * (s / beta - (s + 1.0) / Q)).sum(1),
        ]
        grad += np.array([ns @ p for p in parts])
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

        def objective(lp: np.ndarray) -> tuple[float, np.ndarray]:
            with np.errstate(all="ignore"):
                ll, g = ggompertz_nbd_loglik_and_gradient(lp, x, txs, Ts, n)
            sq = np.exp(2 * lp)
            value, grad = -ll / total + penalizer * sq.sum(), -g / total + 2 * penalizer * sq
            return (value, grad) if np.isfinite(value) and np.all(np.isfinite(grad)) else (np.inf, np.zeros_like(lp))

        res = _minimize(objective, _start(start, PARAMS, scale, 0.0, self.time_params, self.rate_params))
        log_theta = np.array(res.x, dtype=float)
        log_theta[PARAMS.index("alpha")] -= math.log(scale)
        log_theta[PARAMS.index("b")] += math.log(scale)
        return log_theta, bool(np.all(np.isfinite(log_theta)))

    def loglik_and_gradient(self, x, tx, T, n):
        return lambda log_theta: ggompertz_nbd_loglik_and_gradient(log_theta, x, tx, T, n)

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
