"""Input handling shared by the BTYD estimators: validated arrays and the log-parameter fit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import minimize

ArrayLike = np.ndarray | pd.Series | Sequence[float] | float | int

# L-BFGS-B works on log-parameters; these bounds only keep exp() finite.
_LOG_BOUNDS = (np.log(1e-8), np.log(1e10))
_OPTIMIZER_OPTIONS = {"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9}
_GRADIENT_TOLERANCE = 1e-6  # on the mean log-likelihood per customer, per log-parameter


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


def _require_repeat_purchases(x: np.ndarray, t_cap: np.ndarray, model: str) -> None:
    """ValueError when the data cannot identify a purchase rate (no repeat purchase, no time)."""
    if not np.any(x > 0):
        raise ValueError(
            f"cannot fit {model}: no customer has a repeat purchase (frequency is 0 everywhere), "
            "so the purchase rate is not identified; need at least one customer with frequency > 0"
        )
    if not np.any(t_cap > 0):
        raise ValueError(
            f"cannot fit {model}: every customer has T = 0 (no time observed since the first "
            "purchase); need at least one customer with T > 0 days"
        )
