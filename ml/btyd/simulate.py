"""Simulated customers under the BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma models (tests, benchmarks)."""

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
    return _simulate_beta_geometric(n, r, alpha, a, b, T, rng, future_days, drop_at_first=False)


def simulate_mbgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: ArrayLike,
    rng: np.random.Generator,
    future_days: float = 0.0,
) -> pd.DataFrame:
    """Simulate the MBG/NBD process: as :func:`simulate_bgnbd`, plus a dropout chance at time 0.

    The dropout coin (probability p ~ Beta(a, b)) is also tossed right after the first order, so
    a customer can be gone (alive False) without any repeat purchase. Same columns as
    :func:`simulate_bgnbd`.
    """
    return _simulate_beta_geometric(n, r, alpha, a, b, T, rng, future_days, drop_at_first=True)


def _simulate_beta_geometric(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: ArrayLike,
    rng: np.random.Generator,
    future_days: float,
    drop_at_first: bool,
) -> pd.DataFrame:
    """BG/NBD (drop_at_first False) or MBG/NBD (True); BG/NBD draws no extra random numbers."""
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
    if drop_at_first:  # MBG/NBD: the coin right after the first order (time 0 <= T)
        left = rng.random(n) < dropout
        alive[left] = False
        active = active[~left]
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


def simulate_pareto_nbd(
    n: int,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    T: ArrayLike,
    rng: np.random.Generator,
    future_days: float = 0.0,
) -> pd.DataFrame:
    """Simulate the Pareto/NBD process for n customers, each observed for T days after a first order.

    Each customer draws lambda ~ Gamma(r, rate alpha) and mu ~ Gamma(s, rate beta) and a lifetime
    tau ~ Exponential(mu) from the first order; while alive (before tau) purchases are a Poisson
    process with rate lambda. Same columns as :func:`simulate_bgnbd` (alive: tau > T). Drawn
    without a per-purchase loop: the count in a window is Poisson, the last of N uniform times
    is the window times U^(1/N), and the wait from T is exponential (memoryless).
    """
    if n <= 0:
        raise ValueError("n must be positive")
    if min(r, alpha, s, beta) <= 0:
        raise ValueError("r, alpha, s, beta must be positive")
    ages = np.broadcast_to(_as_array(T, "T"), (n,)).astype(float)
    if np.any(~np.isfinite(ages)) or np.any(ages < 0) or future_days < 0:
        raise ValueError("T and future_days must be finite and non-negative")
    rate = rng.gamma(shape=r, scale=1.0 / alpha, size=n)
    death_rate = np.maximum(rng.gamma(shape=s, scale=1.0 / beta, size=n), 1e-300)
    lifetime = rng.exponential(1.0 / death_rate)

    observed = np.minimum(lifetime, ages)  # alive part of (0, T]
    frequency = rng.poisson(rate * observed)
    last = observed * rng.random(n) ** (1.0 / np.maximum(frequency, 1))
    recency = np.where(frequency > 0, last, 0.0)

    ahead = np.clip(np.minimum(lifetime, ages + future_days) - ages, 0.0, None)
    wait = rng.exponential(1.0 / np.maximum(rate, 1e-300))
    bought = wait <= ahead
    future = np.where(bought, 1 + rng.poisson(rate * np.maximum(ahead - wait, 0.0)), 0)
    return pd.DataFrame(
        {
            "frequency": frequency.astype(np.int64),
            "recency": recency,
            "T": ages,
            "future_purchases": future.astype(np.int64),
            "alive": lifetime > ages,
            "days_to_next_purchase": np.where(bought, wait, np.nan),
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
