"""Simulated customers under the BG/NBD and Gamma-Gamma models (tests and benchmarks)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.btyd._inputs import ArrayLike, _as_array


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
