"""Buy-till-you-die transaction models and the Gamma-Gamma spend model.

The parameters are estimated on the unique ``(frequency, recency, T)`` rows of a customer
summary, weighted by how many customers share each row: BG/NBD, MBG/NBD and Gamma-Gamma by
maximising the objective of ``lifetimes`` 0.11.3's fitters with the analytic gradients of
this module (:func:`bg_family_loglik_and_gradient`, :func:`pareto_nbd_loglik_and_gradient`,
:func:`gamma_gamma_loglik_and_gradient`; several times faster than lifetimes' autograd, and for
Pareto/NBD hundreds of times faster than its gradient-free Nelder-Mead; same estimates up to
its tolerance). lifetimes itself is not imported here: the tests use it as the independent
check. Everything reported afterwards -- the
log-likelihood, AIC, BIC, the covariance of the estimates and every prediction -- comes from
the independent numpy/scipy implementations in this module, written from the papers:

* BG/NBD: Fader, Hardie & Lee (2005a), "Counting your customers the easy way: an
  alternative to the Pareto/NBD model", *Marketing Science* 24(2), 275-284, eq. (6)
  (log-likelihood; section 7 and Hardie's note 004), eq. (9)-(10) (expectations) and
  Hardie's note 021 (P(alive)).
* MBG/NBD: Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison of
  models for customer base analysis", *International Journal of Research in Marketing*
  24(3), 201-209 (dropout may also happen right after the first purchase).
* Pareto/NBD: Schmittlein, Morrison & Colombo (1987); the likelihood, P(alive) and the
  conditional expectation as in Fader & Hardie (2005), "A note on deriving the Pareto/NBD
  model and related expressions" (brucehardie.com note 009), eqs. (22), (34)/(35), (41).
* Gamma-Gamma: Fader, Hardie & Lee (2005b), "RFM and CLV: using iso-value curves for
  customer base analysis", *Journal of Marketing Research* 42(4), 415-430, and Fader &
  Hardie (2013), "The Gamma-Gamma model of monetary value" (note 025).

Why not use the lifetimes numbers directly: its ``_negative_log_likelihood_`` is a
per-customer mean on internally rescaled time, so it is not the papers' log-likelihood;
``ParetoNBDFitter`` has no standard errors; and its Pareto/NBD P(alive) can become NaN for
heavy buyers. Importing ``lifetimes`` changes the global warning filters.

The package: ``base.py`` (units, summary checks, the model interface), one file per model
(``bgnbd.py``, ``mbgnbd.py``, ``pareto_nbd.py``, ``gamma_gamma.py``), ``registry.py`` (the models by name),
``fitting.py`` (shared fitting helpers), ``fitted.py`` (:func:`fit_model`, :class:`FittedModel`),
``predictions.py`` (predictions by model name) and ``selection.py``. Everything is importable from
``analysis.models`` as before.

Time is in the unit of the summary, ``"D"`` (days) or ``"W"`` (weeks = days / 7). The
fitted result records it (``time_unit``) so that downstream code (CLV horizons in months)
converts correctly.
"""

from __future__ import annotations

from analysis.errors import ModelFitError
from analysis.models.base import DAYS_PER_UNIT, TransactionModel, _resolve_time_unit, _validate_summary
from analysis.models.bgnbd import bg_family_loglik_and_gradient, bgnbd_log_likelihood
from analysis.models.fitted import FittedModel, fit_model, fit_models
from analysis.models.fitting import distinct_rows
from analysis.models.gamma_gamma import (CORRELATION_THRESHOLD, GAMMA_GAMMA_PARAMS, GammaGammaFit,
                                         expected_average_value, fit_gamma_gamma, frequency_spend_correlation,
                                         gamma_gamma_log_likelihood, gamma_gamma_loglik_and_gradient)
from analysis.models.mbgnbd import mbgnbd_log_likelihood
from analysis.models.pareto_nbd import (_pareto_gap_from_tails, _pareto_log_gap, _pareto_log_tail,
                                        pareto_nbd_log_likelihood, pareto_nbd_loglik_and_gradient)
from analysis.models.predictions import (alive_expectation, conditional_expected_purchases,
                                         conditional_purchase_count_pmf, dert, expected_purchases, p_alive, p_alive_path,
                                         purchase_count_pmf, repeat_purchase_check)
from analysis.models.registry import COMPARED_BY_DEFAULT, MODEL_LABELS, MODEL_NAMES, PARAM_NAMES, REGISTRY, SILENCE_AWARE, get
from analysis.models.selection import SELECTION_METRIC, select_model

__all__ = [
    "MODEL_NAMES", "MODEL_LABELS", "PARAM_NAMES", "GAMMA_GAMMA_PARAMS", "SELECTION_METRIC", "SILENCE_AWARE", "ModelFitError", "FittedModel",
    "GammaGammaFit", "bgnbd_log_likelihood", "mbgnbd_log_likelihood", "pareto_nbd_log_likelihood",
    "gamma_gamma_log_likelihood", "bg_family_loglik_and_gradient", "pareto_nbd_loglik_and_gradient", "gamma_gamma_loglik_and_gradient",
    "distinct_rows", "p_alive", "alive_expectation", "conditional_expected_purchases",
    "expected_purchases", "expected_average_value", "fit_model", "fit_models", "fit_gamma_gamma",
    "frequency_spend_correlation", "select_model", "purchase_count_pmf", "conditional_purchase_count_pmf",
    "repeat_purchase_check", "p_alive_path", "REGISTRY", "TransactionModel", "get",
    "DAYS_PER_UNIT", "CORRELATION_THRESHOLD", "dert", "COMPARED_BY_DEFAULT",
]
