"""Small vectorized numpy helpers the stages of the shop draw with."""

from __future__ import annotations

import numpy as np

from simulator.world import _HOUR_CDF


def _group_rank(group: np.ndarray, n_groups: int) -> np.ndarray:
    """0-based position of each element within its group; ``group`` must be sorted."""
    counts = np.bincount(group, minlength=n_groups)
    first = np.cumsum(counts) - counts
    return np.arange(group.size, dtype=np.int64) - first[group]


def _sample_cdf_rows(
    cdf_flat: np.ndarray, width: int, row: np.ndarray, u: np.ndarray
) -> np.ndarray:
    """Sample a column per draw from row-wise CDFs stored as ``row + cdf`` (sorted, flat).

    ``cdf_flat[r * width + k] = r + cdf[r, k]`` with ``cdf[r, width - 1] == 1``.
    """
    key = row + np.minimum(u, 1.0 - 1e-9)
    idx = np.searchsorted(cdf_flat, key, side="right")
    return (idx - row * width).astype(np.int64)


def _stack_cdf(weights: np.ndarray) -> np.ndarray:
    """Flat ``row + cdf`` array for :func:`_sample_cdf_rows` from a 2-D weight matrix."""
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    cdf[:, -1] = 1.0
    return (cdf + np.arange(weights.shape[0])[:, None]).ravel()


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Fraction of a day following the hourly profile."""
    hour = np.searchsorted(_HOUR_CDF, rng.random(n), side="right")
    return (np.minimum(hour, 23) + rng.random(n)) / 24.0


def _segment_lognormal_gaps(rng: np.random.Generator, n: int, median_s: float) -> np.ndarray:
    """Seconds between consecutive events in a session (seconds to minutes)."""
    g = rng.lognormal(np.log(median_s), 0.9, n)
    return np.clip(np.rint(g), 2, 1_200).astype(np.int64)
