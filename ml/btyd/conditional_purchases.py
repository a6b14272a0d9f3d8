"""BG/NBD expected purchases of a customer alive at T, without the hypergeometric function.

:meth:`ml.btyd.bgnbd.BetaGeoModel.expected_purchases` uses ``scipy.special.hyp2f1`` and falls
back to these where it is unreliable (see :mod:`ml.btyd.bgnbd`): a sum of positive terms, and
Gauss-Jacobi quadrature over the dropout probability for customers that would need too many.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg import eigh_tridiagonal
from scipy.special import betaln, gammaln

_QUADRATURE_NODES = 64
_SERIES_MAX_TERMS = 2_000_000


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
