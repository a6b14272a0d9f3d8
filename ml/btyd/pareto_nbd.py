"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987): repeat orders with a continuous dropout time.

Units and the per-customer summary (frequency x, recency t_x, T) are described in
:mod:`ml.btyd`. The expressions follow Fader & Hardie (2005), "A Note on Deriving the Pareto/NBD
Model and Related Expressions".

While alive, a customer buys as a Poisson process with rate lambda (orders per day),
lambda ~ Gamma(shape r, rate alpha); the lifetime is exponential with rate mu (per day),
mu ~ Gamma(shape s, rate beta), independent of lambda. Dropout can happen at any time, also
before the first repeat purchase. Integrating lambda, mu and the time of death tau in (t_x, T],

    L = Gamma(r + x) alpha^r beta^s / Gamma(r)
        * [ (alpha + T)^-(r+x) (beta + T)^-s + s * (F(t_x) - F(T)) ],
    F(y) = integral_y^inf (alpha + tau)^-(r+x) (beta + tau)^-(s+1) dtau,

and s (F(t_x) - F(T)) is Fader & Hardie's s / (r + s + x) * A_0. Their A_0 uses
2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+y)) when alpha >= beta and
2F1(r+s+x, r+x; r+s+x+1; (beta-alpha)/(beta+y)) when alpha < beta (as lifetimes'
ParetoNBDFitter does); both grow like ((alpha+y)/(beta+y))^s resp. ((beta+y)/(alpha+y))^(r+x)
and overflow for customers with many purchases. Euler's transformation
2F1(a, b; c; z) = (1 - z)^(c-a-b) 2F1(c-a, c-b; c; z) turns them into bounded functions
(0 < h <= (r+s+x) / s resp. (r+s+x) / (r+x-1)) with the same case split and argument
0 <= z < 1:

    alpha >= beta:  F(y) = (alpha+y)^-(r+x) (beta+y)^-s
                           * 2F1(1, r+x; r+s+x+1; (alpha-beta)/(alpha+y)) / (r+s+x),
    alpha <  beta:  F(y) = (alpha+y)^-(r+x-1) (beta+y)^-(s+1)
                           * 2F1(1, s+1; r+s+x+1; (beta-alpha)/(beta+y)) / (r+s+x),

evaluated in log space, with log(F(t_x) - F(T)) = log F(t_x) + log(1 - F(T)/F(t_x)) (the log of
A_0) and a log-sum-exp of the two terms. The fit is L-BFGS-B over log-parameters with a gradient
that is analytic except for the derivative of 2F1 in its parameters b and c, which is a forward
difference (relative step 1e-7; dF/dz comes from the contiguous relation
z(1-z) h' = (c-1)(1-h) + b z h). 2F1 is evaluated once per distinct (x, y) pair, so integer-day
data with repeated (x, recency) and (x, T) costs less than continuous ages.

P(alive | x, t_x, T) is the share of the first term: (alpha+T)^-(r+x) (beta+T)^-s / [...].

Given alive at T, lambda ~ Gamma(r + x, alpha + T) and mu ~ Gamma(s, beta + T) independently,
and E[purchases in (T, T+t] | lambda, mu] = lambda (1 - exp(-mu t)) / mu, so

    E[Y(t) | x, t_x, T] = P(alive) * (r + x) (beta + T) / ((alpha + T) (s - 1))
                          * [1 - ((beta + T) / (beta + T + t))^(s-1)],

computed as P(alive) (r + x) / (alpha + T) (beta + T) * L * exprel(-(s - 1) L) with
L = log(1 + t / (beta + T)) and exprel(u) = (e^u - 1) / u, which is exact through s = 1 (the
limit there is (r + x) (beta + T) L / (alpha + T)); no separate guard is needed.

There is no expected_days_to_next_purchase: a living customer may die before buying again, so
the expected wait is infinite, and the wait conditional on buying again has no closed form.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import digamma, exprel, gammaln, hyp2f1
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

_PARAMETER_STEP = 1e-7  # relative forward-difference step for d 2F1 / d(b, c)
_Z_DIRECT = 1e-4  # |z| or 1 - z below this: dF/dz from 2F1(2, b+1; c+1; z), not the relation


def _log_tail(
    y: np.ndarray, m: np.ndarray, n: float, alpha: float, beta: float
) -> tuple[np.ndarray, np.ndarray]:
    """log F(y) = log integral_y^inf (alpha+tau)^-m (beta+tau)^-n dtau, and its gradient.

    The gradient is w.r.t. (m, n, alpha, beta), shape (4, len(y)). Requires m + n > 1.
    """
    # u: the side with the larger scale, v: the other one (the case split of Fader & Hardie)
    if alpha >= beta:
        big, small, e_u, e_v = alpha, beta, m, n + 0.0 * m
    else:
        big, small, e_u, e_v = beta, alpha, n + 0.0 * m, m
    u, v = big + y, small + y
    z = (big - small) / u
    b, c = e_u, e_u + e_v
    h = hyp2f1(1.0, b, c, z)
    log_h = np.log(h)
    log_f = -e_u * np.log(u) - (e_v - 1.0) * np.log(v) + log_h - np.log(c - 1.0)

    step = _PARAMETER_STEP * c
    d_log_h_bc = (np.log(hyp2f1(1.0, b + step, c + step, z)) - log_h) / step  # d/db + d/dc
    d_log_h_c = (np.log(hyp2f1(1.0, b, c + step, z)) - log_h) / step
    with np.errstate(divide="ignore", invalid="ignore"):
        d_h_z = ((c - 1.0) * (1.0 - h) + b * z * h) / (z * (1.0 - z))
    direct = (z < _Z_DIRECT) | (1.0 - z < _Z_DIRECT) | ~np.isfinite(d_h_z)
    if np.any(direct):
        d_h_z[direct] = (
            b[direct] / c[direct] * hyp2f1(2.0, b[direct] + 1.0, c[direct] + 1.0, z[direct])
        )
    g = d_h_z / h  # d log h / dz
    d_e_u = -np.log(u) + d_log_h_bc - 1.0 / (c - 1.0)
    d_e_v = -np.log(v) + d_log_h_c - 1.0 / (c - 1.0)
    d_big = -e_u / u + g * v / u**2
    d_small = -(e_v - 1.0) / v - g / u
    if alpha >= beta:
        gradient = np.vstack([d_e_u, d_e_v, d_big, d_small])
    else:
        gradient = np.vstack([d_e_v, d_e_u, d_small, d_big])
    return log_f, gradient


class _Pairs:
    """The distinct (x, t_x) and (x, T) pairs, so 2F1 is evaluated once per pair."""

    def __init__(self, x: np.ndarray, t_x: np.ndarray, t_cap: np.ndarray):
        keys = np.concatenate([x, x]) + 1j * np.concatenate([t_x, t_cap])  # sorts as pairs
        unique, inverse = np.unique(keys, return_inverse=True)
        self.x, self.y = unique.real, unique.imag
        self.at_t_x, self.at_t_cap = inverse[: x.size], inverse[x.size :]


def _pareto_nbd_log_likelihood(
    params: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    t_cap: np.ndarray,
    pairs: _Pairs | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-customer log-likelihood, its gradient w.r.t. (r, alpha, s, beta) and P(alive)."""
    r, alpha, s, beta = params
    pairs = _Pairs(x, t_x, t_cap) if pairs is None else pairs
    log_f_unique, d_f_unique = _log_tail(pairs.y, r + pairs.x, s + 1.0, alpha, beta)
    log_f1, d_f1 = log_f_unique[pairs.at_t_x], d_f_unique[:, pairs.at_t_x]
    log_f2, d_f2 = log_f_unique[pairs.at_t_cap], d_f_unique[:, pairs.at_t_cap]

    log_c = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    log_a = -(r + x) * np.log(alpha + t_cap) - s * np.log(beta + t_cap)
    ratio = np.exp(log_f2 - log_f1)  # F(T) / F(t_x) <= 1; 1 when t_x = T
    dead = ratio < 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        one_minus = np.where(dead, -np.expm1(log_f2 - log_f1), 1.0)
        log_d = np.where(dead, np.log(s) + log_f1 + np.log(one_minus), -np.inf)
    log_bracket = np.logaddexp(log_a, log_d)
    log_likelihood = log_c + log_bracket

    weight = np.exp(log_d - log_bracket)  # posterior P(died in (t_x, T])
    d_log_d = np.where(dead, (d_f1 - ratio * d_f2) / one_minus, 0.0)  # (m, n, alpha, beta)
    d_r = (
        digamma(r + x)
        - digamma(r)
        + np.log(alpha)
        - (1.0 - weight) * np.log(alpha + t_cap)
        + weight * d_log_d[0]
    )
    d_alpha = r / alpha - (1.0 - weight) * (r + x) / (alpha + t_cap) + weight * d_log_d[2]
    d_s = np.log(beta) - (1.0 - weight) * np.log(beta + t_cap) + weight * (1.0 / s + d_log_d[1])
    d_beta = s / beta - (1.0 - weight) * s / (beta + t_cap) + weight * d_log_d[3]
    p_alive = np.exp(log_a - log_bracket)
    return log_likelihood, np.vstack([d_r, d_alpha, d_s, d_beta]), p_alive


class ParetoNBDModel(BaseEstimator):
    """Pareto/NBD model of repeat purchases (Schmittlein, Morrison & Colombo 1987); time in days.

    Same interface as :class:`ml.btyd.bgnbd.BetaGeoModel` except that there is no
    ``expected_days_to_next_purchase`` (see :mod:`ml.btyd.pareto_nbd`).

    Parameters
    ----------
    penalizer : L2 penalty ``penalizer * (r^2 + alpha^2 + s^2 + beta^2)`` added to the mean
        negative log-likelihood per customer (the ``lifetimes`` convention); default 0.

    Fitted attributes: ``r_``, ``alpha_`` (days), ``s_``, ``beta_`` (days), ``log_likelihood_``
    (total log-likelihood of the training data at the estimate, without the penalty),
    ``converged_``, ``n_customers_``, ``optimizer_result_``.
    """

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    # ---- fitting
    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> ParetoNBDModel:
        """Maximum likelihood on repeat counts x, recency t_x and ages T (all days).

        Raises ValueError when no customer has a repeat purchase or all ages are 0: the
        likelihood then has no maximum.
        """
        if not np.isfinite(self.penalizer) or self.penalizer < 0:
            raise ValueError("penalizer must be a non-negative number")
        x, t_x, t_cap = _check_rfm(frequency, recency, T)
        _require_repeat_purchases(x, t_cap, "Pareto/NBD")
        n = x.size
        penalizer = float(self.penalizer)
        pairs = _Pairs(x, t_x, t_cap)

        def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(log_params)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                ll, grad, _ = _pareto_nbd_log_likelihood(params, x, t_x, t_cap, pairs)
            value = -ll.sum() / n + penalizer * np.sum(params**2)
            gradient = -(grad.sum(axis=1) / n) * params + 2.0 * penalizer * params**2
            if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
                return np.inf, np.zeros_like(log_params)
            return value, gradient

        # Start: r = 1, alpha matching the average repeat rate, lifetimes about the mean age.
        rate = max(x.sum(), 1.0) / max(t_cap.sum(), 1.0)
        age = max(float(t_cap.mean()), 1.0)
        initial = np.log([1.0, 1.0 / rate, 1.0, age])
        others = [
            np.log([0.3, 0.3 / rate, 0.5, 0.3 * age]),
            np.log([3.0, 3.0 / rate, 2.0, 5 * age]),
        ]
        result, converged = _fit_log_params(objective, initial, others)
        self.r_, self.alpha_, self.s_, self.beta_ = (float(v) for v in np.exp(result.x))
        self.log_likelihood_ = float(self._log_likelihood(x, t_x, t_cap).sum())
        self.converged_ = converged
        self.n_customers_ = n
        self.optimizer_result_ = result
        if not self.converged_:
            warnings.warn(f"Pareto/NBD fit did not converge: {result.message}", stacklevel=2)
        elif np.any(np.abs(result.x - np.array(_LOG_BOUNDS)[:, None]) < 1e-6):
            warnings.warn(
                "a Pareto/NBD parameter reached its optimisation bound (the data may not "
                f"identify it): {self.params_}",
                stacklevel=2,
            )
        return self

    @property
    def params_(self) -> dict[str, float]:
        """The fitted parameters as a dict (r, alpha, s, beta)."""
        return {"r": self.r_, "alpha": self.alpha_, "s": self.s_, "beta": self.beta_}

    def _params(self) -> np.ndarray:
        if not hasattr(self, "r_"):
            raise RuntimeError("ParetoNBDModel is not fitted yet; call fit() first")
        return np.array([self.r_, self.alpha_, self.s_, self.beta_])

    def _evaluate(
        self, x: np.ndarray, t_x: np.ndarray, t_cap: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return _pareto_nbd_log_likelihood(self._params(), x, t_x, t_cap)

    def _log_likelihood(self, x: np.ndarray, t_x: np.ndarray, t_cap: np.ndarray) -> np.ndarray:
        return self._evaluate(x, t_x, t_cap)[0]

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        """Per-customer log-likelihood under the fitted parameters."""
        return self._log_likelihood(*_check_rfm(frequency, recency, T))

    # ---- predictions
    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        """P(still alive at T | x, t_x, T) (1 exactly when t_x = T: just bought)."""
        return self._evaluate(*_check_rfm(frequency, recency, T))[2]

    def expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """Expected number of purchases in the next ``t`` days (after T), given the history."""
        horizon = _check_horizon(t)
        x, t_x, t_cap = _check_rfm(frequency, recency, T)
        horizon, x, t_x, t_cap = _broadcast(
            {"t": horizon, "frequency": x, "recency": t_x, "T": t_cap}
        )
        r, alpha, s, beta = self._params()
        p_alive = self._evaluate(x, t_x, t_cap)[2]
        log_ratio = np.log1p(horizon / (beta + t_cap))
        given_alive = (r + x) / (alpha + t_cap) * (beta + t_cap) * log_ratio
        return p_alive * given_alive * exprel(-(s - 1.0) * log_ratio)
