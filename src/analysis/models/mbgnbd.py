"""MBG/NBD: Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison of models for
customer base analysis", *International Journal of Research in Marketing* 24(3), 201-209.

BG/NBD in which a customer may also drop out right after the first purchase, so P(alive) falls for silent
one-time buyers too. It shares BG/NBD's fitting code (:func:`analysis.models.bgnbd.bg_family_loglik_and_gradient`
with c = 1).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import betaln, expit, gammaln

from analysis.models.base import nbd_pmf, param_values
from analysis.models.bgnbd import PARAMS, BGNBD, _bg_family_alive_expectation


def mbgnbd_log_likelihood(
    params: Mapping[str, float] | Sequence[float], frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """Individual MBG/NBD log-likelihood (Batislam, Denizel & Filiztekin 2007).

    Same as BG/NBD except that a customer may also drop out right after the first
    purchase::

        L = B(a, b+x+1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
            + B(a+1, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))

    Parameters and return value as :func:`bgnbd_log_likelihood`.
    """
    r, alpha, a, b = param_values("mbgnbd", PARAMS, params)
    x, tx, T = (np.asarray(v, dtype=float) for v in (frequency, recency, T))
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    term_alive = betaln(a, b + x + 1) - (r + x) * np.log(alpha + T)
    term_dead = betaln(a + 1, b + x) - (r + x) * np.log(alpha + tx)
    return common + np.logaddexp(term_alive, term_dead)


class MBGNBD(BGNBD):
    """MBG/NBD (Batislam et al. 2007)."""

    name = "mbgnbd"
    label = "MBG/NBD"
    silence_aware = True
    lifetimes_fitter = "ModifiedBetaGeoFitter"
    references = ("Batislam, Denizel & Filiztekin (2007), IJRM 24(3), 201-209",)
    _alive_without_repeat = False

    def log_likelihood(self, params, frequency, recency, T):
        return mbgnbd_log_likelihood(params, frequency, recency, T)

    def _b_shift(self, b, x):
        return b + x

    def p_alive(self, params, x, tx, T):
        """``1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))``."""
        x, tx, T = (np.asarray(v, dtype=float) for v in (x, tx, T))
        r, alpha, a, b = self.values(params)
        log_odds_dead = np.log(a) - np.log(self._b_shift(b, x)) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return expit(-log_odds_dead)

    def alive_expectation(self, params, x, T, t):
        """``(a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))]``."""
        x, T, t = (np.asarray(v, dtype=float) for v in (x, T, t))
        r, alpha, a, b = self.values(params)
        return _bg_family_alive_expectation(a + b + x, a, a + b - r, a + b + x, alpha + T, t)

    def count_pmf(self, params, t, n):
        """BG/NBD's eq. (8) with a possible drop-out at time 0 (``B(a, b+x+1)`` and ``B(a+1, b+x)``, as
        lifetimes' ``ModifiedBetaGeoFitter``)."""
        r, alpha, a, b = params
        tail = stats.nbinom.sf(n - 1, r, alpha / (alpha + t))  # P(NBD >= x)
        return (np.exp(betaln(a, b + n + 1.0) - betaln(a, b)) * nbd_pmf(n, r, alpha, t)
                + np.exp(betaln(a + 1.0, b + n) - betaln(a, b)) * tail)

    def future(self, params, x, T):
        """p ~ beta(a, b+x+1) and no further drop-out at T: BG/NBD's formula."""
        r, alpha, c, d = params
        return BGNBD(), (r + x, alpha + T, c, d + x + 1.0)
