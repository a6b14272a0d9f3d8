"""Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves"): order value.

Each transaction value is Gamma(p, nu) with a customer-specific rate nu ~ Gamma(q, v). The
mean m of a customer's x transactions has the density

    f(m | x) = Gamma(p x + q) / (Gamma(p x) Gamma(q)) * v^q m^(p x - 1) x^(p x)
               / (v + m x)^(p x + q),

and E[value | x, m] = (p (v + x m)) / (p x + q - 1), a weighted average of the population
mean p v / (q - 1) and the customer's own mean m. The model assumes spend is independent of
purchase frequency.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import digamma, gammaln
from sklearn.base import BaseEstimator

from ml.btyd._inputs import ArrayLike, _as_array, _broadcast, _fit_log_params


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
