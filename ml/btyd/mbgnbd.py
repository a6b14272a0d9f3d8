"""MBG/NBD (Batislam, Denizel & Filiztekin 2007): BG/NBD with a dropout chance at the first order.

Units and the per-customer summary (frequency x, recency t_x, T) are described in
:mod:`ml.btyd`.

As in BG/NBD, a living customer buys as a Poisson process with rate lambda (orders per day),
lambda ~ Gamma(shape r, rate alpha), and drops out for good with probability p,
p ~ Beta(a, b), but the dropout coin is tossed right after EVERY purchase including the first
one (time 0), not only after repeat purchases. So a customer with x repeat purchases had x + 1
chances to leave, and one-order customers (x = 0) can be gone too. The likelihood of
(x, t_x, T) is, with B the beta function,

    L = Gamma(r + x) alpha^r / Gamma(r) * B(a, b + x + 1) / B(a, b)
        * [ (alpha + T)^-(r+x) + a / (b + x) * (alpha + t_x)^-(r+x) ],

(the first term: survived all x + 1 coins, so (1-p)^(x+1); the second: left right after the
last purchase, p (1-p)^x, and B(a + 1, b + x) = a / (b + x) * B(a, b + x + 1)). It is evaluated
in log space (gammaln / betaln and a log-sum-exp of the two terms, both of which always exist)
and maximized over log-parameters with L-BFGS-B and an analytic gradient.

P(alive | x, t_x, T) = 1 / (1 + a / (b + x) * ((alpha + T) / (alpha + t_x))^(r+x)),

which is below 1 for every customer, one-order customers included (x = 0, t_x = 0:
1 / (1 + a / b * ((alpha + T) / alpha)^r)).

Given alive at T, lambda | data ~ Gamma(r + x, alpha + T) and p | data ~ Beta(a, b + x + 1), and
the future is the BG/NBD process of a customer who has just survived a coin, so

    E[Y(t) | x, t_x, T] = P(alive) * (a + b + x) / (a - 1)
        * [1 - ((alpha + T) / (alpha + T + t))^(r+x)
               * 2F1(r + x, b + x + 1; a + b + x; t / (alpha + T + t))],

which is the BG/NBD expectation given alive with b replaced by b + 1. It is evaluated with
``scipy.special.hyp2f1``; where that is unreliable -- |a - 1| < 1e-3 (1 / (a - 1) cancels
badly), a result that is not finite or outside 0 <= E <= E[lambda | alive] t -- the same
quantity comes from the positive series of :mod:`ml.btyd.conditional_purchases` (called with
b + 1), sum_n P(N = n) sum_{k=1..n} E[(1-p)^(k-1)] with N ~ NegBin(r + x, (alpha+T)/(alpha+T+t)),
which has no cancellation and no pole (a + b + x > 0 always here).

The expected wait to the next purchase of a customer who is still alive is, as in BG/NBD
(dropout only happens right after a purchase), E[1 / lambda | alive] = (alpha + T) / (r + x - 1)
days (infinite when r + x <= 1).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1
from sklearn.base import BaseEstimator

from ml.btyd._inputs import (
    _LOG_BOUNDS,
    ArrayLike,
    _broadcast,
    _check_horizon,
    _check_rfm,
    _fit_log_params,
    _require_repeat_purchases,
)
from ml.btyd.conditional_purchases import _bgnbd_conditional_purchases_series


def _mbgnbd_log_likelihood(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, t_cap: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer log-likelihood and its gradient w.r.t. (r, alpha, a, b) (shape (4, n))."""
    r, alpha, a, b = params
    log_gamma_part = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    log_beta_part = betaln(a, b + x + 1.0) - betaln(a, b)
    term_alive = -(r + x) * np.log(alpha + t_cap)
    term_dropped = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + t_x)
    log_bracket = np.logaddexp(term_alive, term_dropped)
    log_likelihood = log_gamma_part + log_beta_part + log_bracket

    weight = np.exp(term_dropped - log_bracket)  # share of the "dropped after t_x" branch
    weight_alive = 1.0 - weight
    d_r = (
        digamma(r + x)
        - digamma(r)
        + np.log(alpha)
        - weight_alive * np.log(alpha + t_cap)
        - weight * np.log(alpha + t_x)
    )
    d_alpha = r / alpha - (r + x) * (weight_alive / (alpha + t_cap) + weight / (alpha + t_x))
    common = digamma(a + b) - digamma(a + b + x + 1.0)
    d_a = common + weight / a
    d_b = common + digamma(b + x + 1.0) - digamma(b) - weight / (b + x)
    return log_likelihood, np.vstack([d_r, d_alpha, d_a, d_b])


def _mbgnbd_purchases_given_alive(
    horizon: np.ndarray,
    x: np.ndarray,
    t_cap: np.ndarray,
    r: float,
    alpha: float,
    a: float,
    b: float,
) -> np.ndarray:
    """E[purchases in (T, T + t] | alive at T]: hyp2f1 closed form, positive series as fallback."""
    shape = r + x
    scale = alpha + t_cap
    c = a + b + x
    with np.errstate(all="ignore"):
        z = horizon / (scale + horizon)
        term = np.exp(-shape * np.log1p(horizon / scale)) * hyp2f1(shape, b + x + 1.0, c, z)
        given_alive = c / (a - 1.0) * (1.0 - term)
    upper = shape / scale * horizon  # E[lambda | alive] * t bounds it (no dropout at all)
    unreliable = (
        ~np.isfinite(given_alive)
        | (given_alive < -1e-12 * np.maximum(upper, 1.0))
        | (given_alive > upper * (1 + 1e-8) + 1e-12)
        | (abs(a - 1.0) < 1e-3)  # c / (a - 1) * (1 - term) cancels badly near a = 1
    )
    if np.any(unreliable):
        # p | alive ~ Beta(a, b + x + 1): the BG/NBD series with b + 1 in place of b
        given_alive[unreliable] = _bgnbd_conditional_purchases_series(
            horizon[unreliable], x[unreliable], t_cap[unreliable], r, alpha, a, b + 1.0
        )
    return np.clip(given_alive, 0.0, upper)


class ModifiedBetaGeoModel(BaseEstimator):
    """MBG/NBD model of repeat purchases (Batislam, Denizel & Filiztekin 2007); time in days.

    Same interface as :class:`ml.btyd.bgnbd.BetaGeoModel`; the difference is that a customer
    can drop out right after the first order, so P(alive) < 1 also without a repeat purchase.

    Parameters
    ----------
    penalizer : L2 penalty ``penalizer * (r^2 + alpha^2 + a^2 + b^2)`` added to the mean negative
        log-likelihood per customer (the ``lifetimes`` convention); default 0 (plain MLE).

    Fitted attributes: ``r_``, ``alpha_`` (days), ``a_``, ``b_``, ``log_likelihood_`` (total
    log-likelihood of the training data at the estimate, without the penalty), ``converged_``,
    ``n_customers_``, ``optimizer_result_``.
    """

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    # ---- fitting
    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> ModifiedBetaGeoModel:
        """Maximum likelihood on repeat counts x, recency t_x and ages T (all days).

        Raises ValueError when no customer has a repeat purchase or all ages are 0: the
        likelihood then has no maximum (it grows as r -> 0 or a / b -> infinity).
        """
        if not np.isfinite(self.penalizer) or self.penalizer < 0:
            raise ValueError("penalizer must be a non-negative number")
        x, t_x, t_cap = _check_rfm(frequency, recency, T)
        _require_repeat_purchases(x, t_cap, "MBG/NBD")
        n = x.size
        penalizer = float(self.penalizer)

        def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(log_params)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                ll, grad = _mbgnbd_log_likelihood(params, x, t_x, t_cap)
            value = -ll.sum() / n + penalizer * np.sum(params**2)
            gradient = -(grad.sum(axis=1) / n) * params + 2.0 * penalizer * params**2
            if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
                return np.inf, np.zeros_like(log_params)
            return value, gradient

        # Start: r = 1 and alpha matching the average repeat rate (repeats per day observed).
        rate = max(x.sum(), 1.0) / max(t_cap.sum(), 1.0)
        initial = np.log([1.0, 1.0 / rate, 1.0, 1.0])
        others = [np.log([0.3, 0.3 / rate, 0.5, 3.0]), np.log([3.0, 3.0 / rate, 2.0, 10.0])]
        result, converged = _fit_log_params(objective, initial, others)
        self.r_, self.alpha_, self.a_, self.b_ = (float(v) for v in np.exp(result.x))
        self.log_likelihood_ = float(self._log_likelihood(x, t_x, t_cap).sum())
        self.converged_ = converged
        self.n_customers_ = n
        self.optimizer_result_ = result
        if not self.converged_:
            warnings.warn(f"MBG/NBD fit did not converge: {result.message}", stacklevel=2)
        elif np.any(np.abs(result.x - np.array(_LOG_BOUNDS)[:, None]) < 1e-6):
            warnings.warn(
                "an MBG/NBD parameter reached its optimisation bound (the data may not identify "
                f"it): {self.params_}",
                stacklevel=2,
            )
        return self

    @property
    def params_(self) -> dict[str, float]:
        """The fitted parameters as a dict (r, alpha, a, b)."""
        return {"r": self.r_, "alpha": self.alpha_, "a": self.a_, "b": self.b_}

    def _params(self) -> np.ndarray:
        if not hasattr(self, "r_"):
            raise RuntimeError("ModifiedBetaGeoModel is not fitted yet; call fit() first")
        return np.array([self.r_, self.alpha_, self.a_, self.b_])

    def _log_likelihood(self, x: np.ndarray, t_x: np.ndarray, t_cap: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return _mbgnbd_log_likelihood(self._params(), x, t_x, t_cap)[0]

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        """Per-customer log-likelihood under the fitted parameters."""
        return self._log_likelihood(*_check_rfm(frequency, recency, T))

    # ---- predictions
    def _log_odds_dropped(self, x: np.ndarray, t_x: np.ndarray, t_cap: np.ndarray) -> np.ndarray:
        """log P(dropped)/P(alive) given the history (finite for every customer)."""
        r, alpha, a, b = self._params()
        return np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + t_cap) - np.log(alpha + t_x))

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        """P(still alive at T | x, t_x, T); below 1 also for one-order customers."""
        x, t_x, t_cap = _check_rfm(frequency, recency, T)
        return expit(-self._log_odds_dropped(x, t_x, t_cap))

    def expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """Expected number of purchases in the next ``t`` days (after T), given the history."""
        horizon = _check_horizon(t)
        x, t_x, t_cap = _check_rfm(frequency, recency, T)
        horizon, x, t_x, t_cap = _broadcast(
            {"t": horizon, "frequency": x, "recency": t_x, "T": t_cap}
        )
        r, alpha, a, b = self._params()
        p_alive = expit(-self._log_odds_dropped(x, t_x, t_cap))
        return p_alive * _mbgnbd_purchases_given_alive(horizon, x, t_cap, r, alpha, a, b)

    def expected_days_to_next_purchase(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        cap_days: float | None = None,
    ) -> np.ndarray:
        """Expected days from T to the next purchase GIVEN the customer is still alive.

        As in BG/NBD: (alpha + T) / (r + x - 1), ``np.inf`` when r + x <= 1 (pass ``cap_days``
        to clip at a finite number of days). Read it together with :meth:`p_alive`.
        """
        x, _, t_cap = _check_rfm(frequency, recency, T)
        r, alpha, _, _ = self._params()
        shape = r + x
        with np.errstate(divide="ignore"):
            days = np.where(shape > 1.0, (alpha + t_cap) / np.maximum(shape - 1.0, 1e-300), np.inf)
        if cap_days is not None:
            days = np.minimum(days, float(cap_days))
        return days
