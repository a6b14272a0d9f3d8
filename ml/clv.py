"""Customer lifetime value: "buy till you die" models, BG/NBD for orders and Gamma-Gamma for spend.

Units: every duration (recency, T, horizons, the BG/NBD scale ``alpha``, waiting times) is in
DAYS. Monetary amounts are in the shop's currency, as given.

Per-customer summary (the usual BTYD convention)
    frequency  x    number of REPEAT purchases (orders after the first one);
    recency    t_x  days from the first purchase to the last one (0 when x = 0);
    T               days from the first purchase to the as-of date (so 0 <= t_x <= T);
    monetary_value  the customer's average order value.

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way")
    While alive, a customer buys as a Poisson process with rate lambda (orders per day);
    lambda ~ Gamma(shape r, rate alpha) across customers. Right after each repeat purchase the
    customer drops out for good with probability p; p ~ Beta(a, b) across customers. The
    likelihood of (x, t_x, T) is, with B the beta function,

        L = Gamma(r + x) alpha^r / Gamma(r) * B(a, b + x) / B(a, b)
            * [ (alpha + T)^-(r+x) + [x > 0] a / (b + x - 1) * (alpha + t_x)^-(r+x) ],

    which is evaluated in log space (gammaln / betaln and a log-sum-exp of the two terms) and
    maximized over log-parameters with L-BFGS-B and an analytic gradient.

    P(alive | x, t_x, T) = 1 / (1 + [x > 0] a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r+x)).

    Given alive at T, lambda | data ~ Gamma(r + x, alpha + T) and p | data ~ Beta(a, b + x), and
    the future is a fresh BG/NBD process with those parameters, so the expected number of
    purchases in the next t days is

        E[Y(t) | x, t_x, T] = P(alive) * (a + b + x - 1) / (a - 1)
            * [1 - ((alpha + T) / (alpha + T + t))^(r+x)
                   * 2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t))].

    The Gauss hypergeometric function is evaluated with ``scipy.special.hyp2f1``. Where that is
    unreliable -- |a - 1| < 1e-3 (the factor 1 / (a - 1) cancels badly), |a + b + x - 1| < 1e-3
    (a pole of 2F1), or a result that is not finite or falls outside 0 <= E <= E[lambda | alive] t
    (scipy overflows for large x when t >> alpha + T) -- the same expectation is computed as a
    sum of positive terms instead: with N ~ NegBin(r + x, (alpha+T)/(alpha+T+t)) the purchases
    an immortal customer would make, E = sum_n P(N = n) sum_{k=1..n} E[(1-p)^(k-1)]. Checked
    against adaptive numerical integration: relative error below 1e-9 for horizons up to ten
    years and alpha >= 30 days (customers expecting more than ~1e6 purchases in the horizon fall
    back to a quadrature that can be off by a few percent, with a RuntimeWarning).

    The expected wait to the next purchase of a customer who is still alive is
    E[1 / lambda | alive] = (alpha + T) / (r + x - 1) days (infinite when r + x <= 1).

Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves")
    Each transaction value is Gamma(p, nu) with a customer-specific rate nu ~ Gamma(q, v). The
    mean m of a customer's x transactions has the density

        f(m | x) = Gamma(p x + q) / (Gamma(p x) Gamma(q)) * v^q m^(p x - 1) x^(p x)
                   / (v + m x)^(p x + q),

    and E[value | x, m] = (p (v + x m)) / (p x + q - 1), a weighted average of the population
    mean p v / (q - 1) and the customer's own mean m. The model assumes spend is independent of
    purchase frequency.

CLV over a horizon = expected orders (BG/NBD) * expected average order value (Gamma-Gamma),
undiscounted.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy.linalg import eigh_tridiagonal
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1
from sklearn.base import BaseEstimator

ArrayLike = np.ndarray | pd.Series | Sequence[float] | float | int

SUMMARY_COLUMNS = ("frequency", "recency", "T", "monetary_value")
FEATURE_COLUMNS = (
    "customer_id",
    "frequency",
    "days_since_first_order",
    "recency_days",
    "avg_order_value",
)

# L-BFGS-B works on log-parameters; these bounds only keep exp() finite.
_LOG_BOUNDS = (np.log(1e-8), np.log(1e10))
_OPTIMIZER_OPTIONS = {"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9}
_QUADRATURE_NODES = 64
_GRADIENT_TOLERANCE = 1e-6  # on the mean log-likelihood per customer, per log-parameter
_SERIES_MAX_TERMS = 2_000_000


# --------------------------------------------------------------------------------------------
# input handling


def _as_array(values: ArrayLike, name: str) -> np.ndarray:
    """A 1-D float array (pandas nullable values become NaN)."""
    if isinstance(values, pd.Series | pd.Index):
        array = values.to_numpy(dtype=float, na_value=np.nan)
    else:
        try:
            array = np.asarray(values, dtype=float)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name} must be numeric: {error}") from error
    array = np.atleast_1d(array)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array


def _broadcast(named: dict[str, np.ndarray]) -> list[np.ndarray]:
    try:
        return [np.array(a) for a in np.broadcast_arrays(*named.values())]
    except ValueError as error:
        shapes = ", ".join(f"{k}: {len(v)}" for k, v in named.items())
        raise ValueError(f"input lengths differ ({shapes})") from error


def _check_rfm(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated (x, t_x, T) float arrays of equal length; ValueError on anything invalid."""
    x, t_x, t_cap = _broadcast(
        {
            "frequency": _as_array(frequency, "frequency"),
            "recency": _as_array(recency, "recency"),
            "T": _as_array(T, "T"),
        }
    )
    if x.size == 0:
        raise ValueError("empty input: need at least one customer (frequency, recency, T)")
    for name, values in (("frequency", x), ("recency", t_x), ("T", t_cap)):
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{name} contains missing or infinite values")
        if np.any(values < 0):
            raise ValueError(f"{name} contains negative values (min {values.min():g})")
    if np.any(x != np.round(x)):
        raise ValueError("frequency must be whole numbers of repeat purchases")
    tolerance = 1e-9 * np.maximum(1.0, t_cap)
    if np.any(t_x > t_cap + tolerance):
        bad = int(np.sum(t_x > t_cap + tolerance))
        raise ValueError(
            f"recency exceeds T for {bad} customer(s): recency (first to last purchase) "
            "must lie in [0, T] (first purchase to as-of date), both in days"
        )
    if np.any((x == 0) & (t_x > 0)):
        raise ValueError(
            "recency must be 0 where frequency is 0 (no repeat purchase: last purchase = first)"
        )
    return x, np.minimum(t_x, t_cap), t_cap


def _check_horizon(t: ArrayLike) -> np.ndarray:
    horizon = _as_array(t, "t")
    if not np.all(np.isfinite(horizon)) or np.any(horizon < 0):
        raise ValueError("t (days ahead) must be finite and non-negative")
    return horizon


def _fit_log_params(
    objective,
    initial: np.ndarray,
    extra_starts: Sequence[np.ndarray] = (),
):
    """Minimize objective(log_params) -> (value, gradient); best of a few starts if needed.

    Returns the optimizer result and whether it converged: L-BFGS-B reported success, or it
    stopped (typically "ABNORMAL" line search at the limit of floating-point precision) where the
    gradient of the mean negative log-likelihood is already negligible.
    """
    bounds = [_LOG_BOUNDS] * len(initial)
    best, best_converged = None, False
    for start in (initial, *extra_starts):
        result = minimize(
            objective,
            np.clip(start, *_LOG_BOUNDS),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options=_OPTIMIZER_OPTIONS,
        )
        finite = bool(np.isfinite(result.fun))
        converged = finite and (
            bool(result.success) or float(np.max(np.abs(result.jac))) < _GRADIENT_TOLERANCE
        )
        if best is None or (finite and result.fun < best.fun):
            best, best_converged = result, converged
        if converged:
            break
    return best, best_converged


# --------------------------------------------------------------------------------------------
# BG/NBD


def _bgnbd_log_likelihood(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, t_cap: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer log-likelihood and its gradient w.r.t. (r, alpha, a, b) (shape (4, n))."""
    r, alpha, a, b = params
    has_repeat = x > 0
    log_gamma_part = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    log_beta_part = betaln(a, b + x) - betaln(a, b)
    # The two terms inside the bracket; the second only exists for x > 0.
    term_alive = -(r + x) * np.log(alpha + t_cap)
    with np.errstate(divide="ignore", invalid="ignore"):
        term_dropped = np.where(
            has_repeat,
            np.log(a)
            - np.log(np.where(has_repeat, b + x - 1, 1.0))
            - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
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
    common = digamma(a + b) - digamma(a + b + x)
    d_a = common + weight / a
    d_b = (
        common
        + digamma(b + x)
        - digamma(b)
        - np.where(has_repeat, weight / np.where(has_repeat, b + x - 1, 1.0), 0.0)
    )
    return log_likelihood, np.vstack([d_r, d_alpha, d_a, d_b])


def _beta_quadrature(nodes: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Jacobi nodes on [0, 1] and weights summing to 1 for the Beta(a, b) distribution.

    Golub-Welsch on the Jacobi recurrence for (1-u)^(b-1) (1+u)^(a-1), u = 2p - 1; the weights
    come from the eigenvectors, so no normalizing constant is formed (it overflows for large b).
    """
    alpha_j, beta_j = b - 1.0, a - 1.0
    k = np.arange(nodes, dtype=float)
    s = 2.0 * k + alpha_j + beta_j
    with np.errstate(divide="ignore", invalid="ignore"):
        diagonal = (beta_j**2 - alpha_j**2) / (s * (s + 2.0))
    diagonal[0] = (beta_j - alpha_j) / (alpha_j + beta_j + 2.0)
    k = k[1:]
    s = s[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        off_squared = (
            4.0
            * k
            * (k + alpha_j)
            * (k + beta_j)
            * (k + alpha_j + beta_j)
            / (s**2 * (s + 1.0) * (s - 1.0))
        )
    # k = 1: (k + alpha + beta) / (s - 1) = 1, written out (0/0 when alpha + beta = -1)
    off_squared[0] = 4.0 * (1.0 + alpha_j) * (1.0 + beta_j) / (s[0] ** 2 * (s[0] + 1.0))
    u, vectors = eigh_tridiagonal(diagonal, np.sqrt(off_squared))
    weights = vectors[0] ** 2
    return (1.0 + u) / 2.0, weights / weights.sum()


def _bgnbd_conditional_purchases_series(
    t: np.ndarray,
    x: np.ndarray,
    t_cap: np.ndarray,
    r: float,
    alpha: float,
    a: float,
    b: float,
    max_terms: int = _SERIES_MAX_TERMS,
) -> np.ndarray:
    """E[purchases in (T, T+t] | alive at T] as a sum of positive terms (no cancellation).

    Given alive, the purchases the customer would make in t days if they never dropped out are
    N ~ NegBin(r + x, q = (alpha+T) / (alpha+T+t)), and the k-th of them happens only if the
    customer survived the k-1 before it, with probability E[(1-p)^(k-1)] under Beta(a, b+x).
    So E = sum_n P(N = n) C(n) with C(n) = sum_{k=1..n} B(a, b+x+k-1) / B(a, b+x). The sum is
    truncated where the remaining NegBin tail is below ~1e-15; rows needing more than
    ``max_terms`` terms (hundreds of thousands of expected purchases) use Gauss-Jacobi quadrature.
    """
    t, x, t_cap = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(t, x, t_cap))
    out = np.zeros(t.shape, dtype=float)
    shape = r + x
    with np.errstate(divide="ignore", invalid="ignore"):
        q = (alpha + t_cap) / (alpha + t_cap + t)
        log_q, log_1mq = np.log(q), np.log(t) - np.log(alpha + t_cap + t)
        mean = shape * (1.0 - q) / q
        terms = np.ceil(mean + 12.0 * np.sqrt(mean / q) + 40.0 / -log_1mq + 10.0)
    rows = np.flatnonzero(t > 0)
    huge = rows[terms[rows] > max_terms]
    if huge.size:
        warnings.warn(
            f"{huge.size} customer(s) expect more than {max_terms} purchases in the horizon; "
            "their expected purchases use a quadrature that may be inaccurate",
            RuntimeWarning,
            stacklevel=3,
        )
        out[huge] = _bgnbd_conditional_purchases_quadrature(
            t[huge], x[huge], t_cap[huge], r, alpha, a, b, nodes=1000
        )
    rows = rows[terms[rows] <= max_terms]
    rows = rows[np.argsort(terms[rows])]
    start = 0
    while start < rows.size:  # chunks of similar length, at most ~2e6 cells each
        stop = start + 1
        while stop < rows.size and (stop - start + 1) * terms[rows[stop]] <= 2e6:
            stop += 1
        chunk = rows[start:stop]
        width = int(terms[chunk].max())
        n = np.arange(1, width + 1, dtype=float)
        s, bx = shape[chunk, None], b + x[chunk, None]
        log_pmf = (
            gammaln(s + n)
            - gammaln(s)
            - gammaln(n + 1.0)
            + s * log_q[chunk, None]
            + n * log_1mq[chunk, None]
        )
        survive = np.exp(betaln(a, bx + n - 1.0) - betaln(a, bx))  # E[(1-p)^(n-1)]
        out[chunk] = np.sum(np.exp(log_pmf) * np.cumsum(survive, axis=1), axis=1)
        start = stop
    return out


def _bgnbd_conditional_purchases_quadrature(
    t: np.ndarray,
    x: np.ndarray,
    t_cap: np.ndarray,
    r: float,
    alpha: float,
    a: float,
    b: float,
    nodes: int = _QUADRATURE_NODES,
) -> np.ndarray:
    """E[purchases in (T, T+t] | alive at T] by Gauss-Jacobi quadrature over p ~ Beta(a, b+x).

    Given p and lambda ~ Gamma(r+x, alpha+T): E = (1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p.
    """
    t, x, t_cap = np.broadcast_arrays(t, x, t_cap)
    out = np.empty(t.shape, dtype=float)
    for value in np.unique(x):
        rows = x == value
        p, w = _beta_quadrature(nodes, a, b + value)
        shape = r + value
        scale = alpha + t_cap[rows]
        ratio = np.outer(t[rows], p) / scale[:, None]
        given_p = -np.expm1(-shape * np.log1p(ratio)) / p
        out[rows] = given_p @ w
    return out


class BetaGeoModel(BaseEstimator):
    """BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005); time in days.

    Parameters
    ----------
    penalizer : L2 penalty ``penalizer * (r^2 + alpha^2 + a^2 + b^2)`` added to the mean negative
        log-likelihood per customer (the ``lifetimes`` convention). It acts on the raw parameters,
        so with alpha in days even a small value pulls alpha noticeably; default 0 (plain MLE).

    Fitted attributes: ``r_``, ``alpha_`` (days), ``a_``, ``b_``, ``log_likelihood_`` (total
    log-likelihood of the training data at the estimate, without the penalty), ``converged_``,
    ``n_customers_``, ``optimizer_result_``.
    """

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    # ---- fitting
    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> BetaGeoModel:
        """Maximum likelihood on repeat counts x, recency t_x and ages T (all days)."""
        if not np.isfinite(self.penalizer) or self.penalizer < 0:
            raise ValueError("penalizer must be a non-negative number")
        x, t_x, t_cap = _check_rfm(frequency, recency, T)
        n = x.size
        penalizer = float(self.penalizer)

        def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(log_params)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                ll, grad = _bgnbd_log_likelihood(params, x, t_x, t_cap)
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
            warnings.warn(f"BG/NBD fit did not converge: {result.message}", stacklevel=2)
        elif np.any(np.abs(result.x - np.array(_LOG_BOUNDS)[:, None]) < 1e-6):
            warnings.warn(
                "a BG/NBD parameter reached its optimisation bound (the data may not identify "
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
            raise RuntimeError("BetaGeoModel is not fitted yet; call fit() first")
        return np.array([self.r_, self.alpha_, self.a_, self.b_])

    def _log_likelihood(self, x: np.ndarray, t_x: np.ndarray, t_cap: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return _bgnbd_log_likelihood(self._params(), x, t_x, t_cap)[0]

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        """Per-customer log-likelihood under the fitted parameters."""
        return self._log_likelihood(*_check_rfm(frequency, recency, T))

    # ---- predictions
    def _log_odds_dropped(self, x: np.ndarray, t_x: np.ndarray, t_cap: np.ndarray) -> np.ndarray:
        """log P(dropped)/P(alive) given the history (-inf for x = 0)."""
        r, alpha, a, b = self._params()
        has_repeat = x > 0
        with np.errstate(divide="ignore"):
            log_odds = (
                np.log(a)
                - np.log(np.where(has_repeat, b + x - 1.0, 1.0))
                + (r + x) * (np.log(alpha + t_cap) - np.log(alpha + t_x))
            )
        return np.where(has_repeat, log_odds, -np.inf)

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        """P(still alive at T | x, t_x, T); exactly 1 for customers without a repeat purchase."""
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

        shape = r + x
        scale = alpha + t_cap
        c = a + b + x - 1.0
        with np.errstate(all="ignore"):
            z = horizon / (scale + horizon)
            term = np.exp(-shape * np.log1p(horizon / scale)) * hyp2f1(shape, b + x, c, z)
            given_alive = c / (a - 1.0) * (1.0 - term)
        upper = shape / scale * horizon  # E[lambda | alive] * t bounds it (no dropout at all)
        unreliable = (
            ~np.isfinite(given_alive)
            | (given_alive < -1e-12 * np.maximum(upper, 1.0))
            | (given_alive > upper * (1 + 1e-8) + 1e-12)
            | (abs(a - 1.0) < 1e-3)  # c / (a - 1) * (1 - term) cancels badly near a = 1
            | (np.abs(c) < 1e-3)  # 2F1 has a pole at c = 0
        )
        if np.any(unreliable):
            given_alive[unreliable] = _bgnbd_conditional_purchases_series(
                horizon[unreliable], x[unreliable], t_cap[unreliable], r, alpha, a, b
            )
        return p_alive * np.clip(given_alive, 0.0, upper)

    def expected_days_to_next_purchase(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        cap_days: float | None = None,
    ) -> np.ndarray:
        """Expected days from T to the next purchase GIVEN the customer is still alive.

        While alive the wait is exponential with rate lambda (dropout only happens right after
        a purchase), and lambda | alive, history ~ Gamma(r + x, alpha + T), so the expected wait
        is E[1/lambda] = (alpha + T) / (r + x - 1). When r + x <= 1 (only possible for x = 0 and
        r <= 1) that expectation is infinite and ``np.inf`` is returned; pass ``cap_days`` to
        clip every value at a finite number of days instead. The value is conditional on being
        alive; read it together with :meth:`p_alive` (a customer who has dropped out never buys
        again, so the unconditional wait is infinite).
        """
        x, _, t_cap = _check_rfm(frequency, recency, T)
        r, alpha, _, _ = self._params()
        shape = r + x
        with np.errstate(divide="ignore"):
            days = np.where(shape > 1.0, (alpha + t_cap) / np.maximum(shape - 1.0, 1e-300), np.inf)
        if cap_days is not None:
            days = np.minimum(days, float(cap_days))
        return days


# --------------------------------------------------------------------------------------------
# Gamma-Gamma


def _gamma_gamma_log_likelihood(
    params: np.ndarray, x: np.ndarray, m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer log density of the mean spend m over x transactions and its gradient."""
    p, q, v = params
    px = p * x
    log_vmx = np.log(v + m * x)
    log_likelihood = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_vmx
    )
    d_p = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - log_vmx)
    d_q = digamma(px + q) - digamma(q) + np.log(v) - log_vmx
    d_v = q / v - (px + q) / (v + m * x)
    return log_likelihood, np.vstack([d_p, d_q, d_v])


class GammaGammaModel(BaseEstimator):
    """Gamma-Gamma model of average order value (Fader, Hardie & Lee 2005).

    ``frequency`` here is the number of transactions each average is taken over.
    Fitted attributes: ``p_``, ``q_``, ``v_`` (currency units), ``log_likelihood_``,
    ``converged_``, ``n_customers_``, ``optimizer_result_``; ``population_mean_`` is
    p v / (q - 1) (infinite when q <= 1).
    """

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    def fit(self, frequency: ArrayLike, monetary_value: ArrayLike) -> GammaGammaModel:
        """Maximum likelihood on customers with frequency > 0 and monetary_value > 0."""
        if not np.isfinite(self.penalizer) or self.penalizer < 0:
            raise ValueError("penalizer must be a non-negative number")
        x, m = _broadcast(
            {
                "frequency": _as_array(frequency, "frequency"),
                "monetary_value": _as_array(monetary_value, "monetary_value"),
            }
        )
        if x.size == 0:
            raise ValueError("empty input: need at least one customer (frequency, monetary_value)")
        if not (np.all(np.isfinite(x)) and np.all(x > 0) and np.all(x == np.round(x))):
            raise ValueError(
                "frequency must be positive whole numbers (transactions the average is over); "
                "fit only customers with frequency > 0"
            )
        if not (np.all(np.isfinite(m)) and np.all(m > 0)):
            raise ValueError(
                "monetary_value must be positive and finite; fit only customers with a "
                "positive average order value"
            )
        n = x.size
        penalizer = float(self.penalizer)

        def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(log_params)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                ll, grad = _gamma_gamma_log_likelihood(params, x, m)
            value = -ll.sum() / n + penalizer * np.sum(params**2)
            gradient = -(grad.sum(axis=1) / n) * params + 2.0 * penalizer * params**2
            if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
                return np.inf, np.zeros_like(log_params)
            return value, gradient

        # Start at p = 1, q = 2 with the population mean p v / (q - 1) equal to the data mean.
        mean = float(np.mean(m))
        initial = np.log([1.0, 2.0, mean])
        others = [np.log([5.0, 5.0, 4.0 * mean / 5.0]), np.log([0.5, 1.5, mean])]
        result, converged = _fit_log_params(objective, initial, others)
        self.p_, self.q_, self.v_ = (float(v) for v in np.exp(result.x))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            ll, _ = _gamma_gamma_log_likelihood(np.exp(result.x), x, m)
        self.log_likelihood_ = float(ll.sum())
        self.converged_ = converged
        self.n_customers_ = n
        self.optimizer_result_ = result
        if not self.converged_:
            warnings.warn(f"Gamma-Gamma fit did not converge: {result.message}", stacklevel=2)
        if self.q_ <= 1.0:
            warnings.warn(
                f"Gamma-Gamma q = {self.q_:.3g} <= 1: the population mean order value is "
                "infinite; values for customers without a usable average will be inf",
                stacklevel=2,
            )
        return self

    @property
    def params_(self) -> dict[str, float]:
        """The fitted parameters as a dict (p, q, v)."""
        return {"p": self.p_, "q": self.q_, "v": self.v_}

    @property
    def population_mean_(self) -> float:
        """Expected average order value of a customer we know nothing about: p v / (q - 1)."""
        if not hasattr(self, "p_"):
            raise RuntimeError("GammaGammaModel is not fitted yet; call fit() first")
        return self.p_ * self.v_ / (self.q_ - 1.0) if self.q_ > 1.0 else np.inf

    def conditional_expected_average_value(
        self, frequency: ArrayLike, monetary_value: ArrayLike
    ) -> np.ndarray:
        """E[average order value | x transactions averaging m] = p (v + x m) / (p x + q - 1).

        Where frequency is 0 or the monetary value is missing or not positive, the population
        mean p v / (q - 1) is returned.
        """
        population_mean = self.population_mean_
        x, m = _broadcast(
            {
                "frequency": _as_array(frequency, "frequency"),
                "monetary_value": _as_array(monetary_value, "monetary_value"),
            }
        )
        if np.any(~np.isfinite(x) | (x < 0)):
            raise ValueError("frequency must be finite and non-negative")
        usable = (x > 0) & np.isfinite(m) & (m > 0)
        x_u = np.where(usable, x, 1.0)
        m_u = np.where(usable, m, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            conditional = self.p_ * (self.v_ + x_u * m_u) / (self.p_ * x_u + self.q_ - 1.0)
        return np.where(usable, conditional, population_mean)


# --------------------------------------------------------------------------------------------
# combined model


class CustomerValueModel(BaseEstimator):
    """BG/NBD orders x Gamma-Gamma order value over a horizon, on a BTYD summary frame.

    Parameters
    ----------
    horizon_days : default prediction horizon in days.
    penalizer : passed to both sub-models.
    monetary_value_over : which orders ``monetary_value`` averages over. ``"all_orders"`` (the
        default, what :func:`summary_from_features` produces from ``avg_order_value``) means
        frequency + 1 orders, so one-order customers also inform the spend model;
        ``"repeat_orders"`` is the ``lifetimes`` convention (the mean of the repeat orders only,
        over ``frequency`` orders; customers with frequency 0 are left out of the spend fit).
    days_to_next_order_cap : optional cap (days) for ``expected_days_to_next_order``, which is
        infinite for customers whose expected wait diverges (see
        :meth:`BetaGeoModel.expected_days_to_next_purchase`).

    Fitted attributes: ``bgnbd_`` (:class:`BetaGeoModel`), ``gamma_gamma_``
    (:class:`GammaGammaModel`).
    """

    def __init__(
        self,
        horizon_days: float = 365,
        penalizer: float = 0.0,
        monetary_value_over: Literal["all_orders", "repeat_orders"] = "all_orders",
        days_to_next_order_cap: float | None = None,
    ):
        self.horizon_days = horizon_days
        self.penalizer = penalizer
        self.monetary_value_over = monetary_value_over
        self.days_to_next_order_cap = days_to_next_order_cap

    def _orders_in_average(self, summary: pd.DataFrame) -> np.ndarray:
        frequency = _as_array(summary["frequency"], "frequency")
        if self.monetary_value_over == "all_orders":
            return frequency + 1.0
        if self.monetary_value_over == "repeat_orders":
            return frequency
        raise ValueError("monetary_value_over must be 'all_orders' or 'repeat_orders'")

    @staticmethod
    def _check_summary(summary: pd.DataFrame) -> None:
        if not isinstance(summary, pd.DataFrame):
            raise ValueError("summary must be a pandas DataFrame")
        missing = [c for c in SUMMARY_COLUMNS if c not in summary.columns]
        if missing:
            raise ValueError(f"summary is missing column(s) {missing}; needs {SUMMARY_COLUMNS}")
        if summary.empty:
            raise ValueError("empty summary: need at least one customer")

    def fit(self, summary: pd.DataFrame) -> CustomerValueModel:
        """Fit BG/NBD on every row and Gamma-Gamma on rows with a positive average value."""
        self._check_summary(summary)
        self.bgnbd_ = BetaGeoModel(penalizer=self.penalizer).fit(
            summary["frequency"], summary["recency"], summary["T"]
        )
        orders = self._orders_in_average(summary)
        monetary = _as_array(summary["monetary_value"], "monetary_value")
        usable = (orders > 0) & np.isfinite(monetary) & (monetary > 0)
        if not usable.any():
            raise ValueError("no customer has a positive monetary_value to fit the spend model")
        self.gamma_gamma_ = GammaGammaModel(penalizer=self.penalizer).fit(
            orders[usable], monetary[usable]
        )
        return self

    def predict(self, summary: pd.DataFrame, horizon_days: float | None = None) -> pd.DataFrame:
        """p_alive, expected_orders, expected_revenue, expected_days_to_next_order per row."""
        if not hasattr(self, "bgnbd_"):
            raise RuntimeError("CustomerValueModel is not fitted yet; call fit() first")
        self._check_summary(summary)
        horizon = self.horizon_days if horizon_days is None else horizon_days
        frequency, recency, age = summary["frequency"], summary["recency"], summary["T"]
        expected_orders = self.bgnbd_.expected_purchases(horizon, frequency, recency, age)
        value = self.gamma_gamma_.conditional_expected_average_value(
            self._orders_in_average(summary), summary["monetary_value"]
        )
        return pd.DataFrame(
            {
                "p_alive": self.bgnbd_.p_alive(frequency, recency, age),
                "expected_orders": expected_orders,
                "expected_revenue": expected_orders * value,
                "expected_days_to_next_order": self.bgnbd_.expected_days_to_next_purchase(
                    frequency, recency, age, cap_days=self.days_to_next_order_cap
                ),
            },
            index=summary.index,
        )


# --------------------------------------------------------------------------------------------
# platform features, baseline, metrics


def summary_from_features(features: pd.DataFrame) -> pd.DataFrame:
    """BTYD summary (customer_id, frequency, recency, T, monetary_value) from feature rows.

    Expects ONE row per customer (one as-of date), with ``frequency`` = number of orders,
    ``days_since_first_order``, ``recency_days`` (days since the last order) and
    ``avg_order_value``. Customers with no order are dropped; frequency becomes repeat orders
    (orders - 1), T = days_since_first_order, recency = T - recency_days clipped to [0, T] (and
    0 for customers with a single order), monetary_value = avg_order_value (may be missing, e.g.
    when every order was returned). The result has a fresh 0..n-1 index.
    """
    missing = [c for c in FEATURE_COLUMNS if c not in features.columns]
    if missing:
        raise ValueError(f"features are missing column(s) {missing}; needs {FEATURE_COLUMNS}")
    orders = features["frequency"].to_numpy(dtype=float, na_value=0.0)
    buyers = features.loc[orders >= 1]
    if buyers["customer_id"].duplicated().any():
        raise ValueError(
            "features have several rows per customer_id; pass a single snapshot (as_of_date)"
        )
    age = buyers["days_since_first_order"].to_numpy(dtype=float, na_value=np.nan)
    since_last = buyers["recency_days"].to_numpy(dtype=float, na_value=np.nan)
    if np.any(~np.isfinite(age)) or np.any(~np.isfinite(since_last)):
        raise ValueError(
            "days_since_first_order and recency_days must be present for customers with orders"
        )
    if np.any(age < 0) or np.any(since_last < 0):
        raise ValueError("days_since_first_order and recency_days must be non-negative")
    repeat = buyers["frequency"].to_numpy(dtype=float) - 1.0
    recency = np.where(repeat > 0, np.clip(age - since_last, 0.0, age), 0.0)
    return pd.DataFrame(
        {
            "customer_id": buyers["customer_id"].to_numpy(),
            "frequency": repeat.astype(np.int64),
            "recency": recency,
            "T": age,
            "monetary_value": buyers["avg_order_value"].to_numpy(dtype=float, na_value=np.nan),
        }
    )


def naive_rate_baseline(
    summary: pd.DataFrame,
    horizon_days: float,
    min_observation_days: float = 30.0,
    include_first_order: bool = False,
) -> pd.DataFrame:
    """ "Each customer keeps their historical rate": expected orders and revenue over a horizon.

    rate (orders per day) = repeat orders / max(T, min_observation_days): the repeat purchases
    observed since the first order over the time observed since then (the first order starts
    the clock, so counting it would overstate the rate, most for new customers; set
    ``include_first_order=True`` to use (frequency + 1) instead). The floor keeps customers seen
    for only a few days from getting extreme rates. expected_orders = rate * horizon_days;
    expected_revenue = expected_orders * monetary_value (0 where that is missing). Returns a
    DataFrame with the summary's index.
    """
    frequency = _as_array(summary["frequency"], "frequency")
    age = _as_array(summary["T"], "T")
    if np.any(frequency < 0) or np.any(age < 0):
        raise ValueError("frequency and T must be non-negative")
    if min_observation_days <= 0:
        raise ValueError("min_observation_days must be positive")
    orders = frequency + 1.0 if include_first_order else frequency
    expected_orders = orders / np.maximum(age, min_observation_days) * horizon_days
    if "monetary_value" in summary.columns:
        monetary = _as_array(summary["monetary_value"], "monetary_value")
    else:
        monetary = np.full(len(summary), np.nan)
    monetary = np.where(np.isfinite(monetary), monetary, 0.0)
    return pd.DataFrame(
        {"expected_orders": expected_orders, "expected_revenue": expected_orders * monetary},
        index=summary.index,
    )


def value_metrics(
    predicted_orders: ArrayLike,
    predicted_revenue: ArrayLike,
    actual_orders: ArrayLike,
    actual_revenue: ArrayLike,
) -> dict[str, float]:
    """Totals, relative error of the totals ((predicted - actual) / actual; NaN if actual is 0)
    and per-customer mean absolute errors of orders and revenue."""
    arrays = _broadcast(
        {
            "predicted_orders": _as_array(predicted_orders, "predicted_orders"),
            "predicted_revenue": _as_array(predicted_revenue, "predicted_revenue"),
            "actual_orders": _as_array(actual_orders, "actual_orders"),
            "actual_revenue": _as_array(actual_revenue, "actual_revenue"),
        }
    )
    pred_orders, pred_revenue, true_orders, true_revenue = arrays
    if pred_orders.size == 0:
        raise ValueError("empty input: need at least one customer")
    if not all(np.all(np.isfinite(a)) for a in arrays):
        raise ValueError("predictions and actuals must be finite (no missing values)")

    def relative(predicted: float, actual: float) -> float:
        return (predicted - actual) / actual if actual != 0 else float("nan")

    totals = {
        "predicted_orders": float(pred_orders.sum()),
        "actual_orders": float(true_orders.sum()),
        "predicted_revenue": float(pred_revenue.sum()),
        "actual_revenue": float(true_revenue.sum()),
    }
    return {
        "n_customers": float(pred_orders.size),
        **totals,
        "orders_relative_error": relative(totals["predicted_orders"], totals["actual_orders"]),
        "revenue_relative_error": relative(totals["predicted_revenue"], totals["actual_revenue"]),
        "orders_mae": float(np.mean(np.abs(pred_orders - true_orders))),
        "revenue_mae": float(np.mean(np.abs(pred_revenue - true_revenue))),
    }


# --------------------------------------------------------------------------------------------
# simulation


def simulate_bgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: ArrayLike,
    rng: np.random.Generator,
    future_days: float = 0.0,
) -> pd.DataFrame:
    """Simulate the BG/NBD process for n customers, each observed for T days after a first order.

    Each customer draws lambda ~ Gamma(r, rate alpha) and p ~ Beta(a, b); inter-purchase times
    are exponential with rate lambda, and right after each repeat purchase the customer drops out
    with probability p. ``T`` is a scalar or one age per customer (days). Returns a DataFrame
    with frequency (repeat purchases in (0, T]), recency (time of the last one, 0 if none), T,
    future_purchases (purchases in (T, T + future_days]), alive (not dropped out by T) and
    days_to_next_purchase (days from T to the first purchase after T; NaN if none by
    T + future_days).
    """
    if n <= 0:
        raise ValueError("n must be positive")
    if min(r, alpha, a, b) <= 0:
        raise ValueError("r, alpha, a, b must be positive")
    ages = np.broadcast_to(_as_array(T, "T"), (n,)).astype(float)
    if np.any(~np.isfinite(ages)) or np.any(ages < 0) or future_days < 0:
        raise ValueError("T and future_days must be finite and non-negative")
    rate = np.maximum(rng.gamma(shape=r, scale=1.0 / alpha, size=n), 1e-300)
    dropout = rng.beta(a, b, size=n)
    end = ages + future_days

    now = np.zeros(n)
    frequency = np.zeros(n, dtype=np.int64)
    recency = np.zeros(n)
    future = np.zeros(n, dtype=np.int64)
    next_purchase = np.full(n, np.nan)
    alive = np.ones(n, dtype=bool)
    active = np.arange(n)  # customers whose process has not ended inside the window
    while active.size:
        now[active] += rng.exponential(1.0 / rate[active])
        bought = now[active] <= end[active]
        in_window = active[bought & (now[active] <= ages[active])]
        in_future = active[bought & (now[active] > ages[active])]
        frequency[in_window] += 1
        recency[in_window] = now[in_window]
        first_future = in_future[future[in_future] == 0]
        next_purchase[first_future] = now[first_future] - ages[first_future]
        future[in_future] += 1
        buyers = active[bought]
        drops = rng.random(buyers.size) < dropout[buyers]
        dropped = buyers[drops]
        alive[dropped[now[dropped] <= ages[dropped]]] = False  # dropped out by the as-of date
        active = buyers[~drops]
    return pd.DataFrame(
        {
            "frequency": frequency,
            "recency": recency,
            "T": ages,
            "future_purchases": future,
            "alive": alive,
            "days_to_next_purchase": next_purchase,
        }
    )


def simulate_gamma_gamma(
    frequency: ArrayLike, p: float, q: float, v: float, rng: np.random.Generator
) -> np.ndarray:
    """Mean value of each customer's ``frequency`` transactions under the Gamma-Gamma model.

    nu ~ Gamma(q, rate v) per customer; each transaction ~ Gamma(p, rate nu), so the mean of x
    of them is Gamma(p x, rate nu x). NaN where frequency is 0.
    """
    if min(p, q, v) <= 0:
        raise ValueError("p, q, v must be positive")
    x = _as_array(frequency, "frequency")
    if np.any(~np.isfinite(x)) or np.any(x < 0):
        raise ValueError("frequency must be finite and non-negative")
    nu = rng.gamma(shape=q, scale=1.0 / v, size=x.size)
    positive = x > 0
    out = np.full(x.size, np.nan)
    out[positive] = rng.gamma(shape=p * x[positive], scale=1.0 / (nu[positive] * x[positive]))
    return out
