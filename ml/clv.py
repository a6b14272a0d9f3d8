"""Customer lifetime value for the platform: expected orders and revenue per customer.

:class:`CustomerValueModel` combines an order-count model -- BG/NBD, MBG/NBD or Pareto/NBD, the
"buy till you die" estimators in :mod:`ml.btyd`, where the maths is documented -- with the
Gamma-Gamma model of order value, on a per-customer summary built from the platform's features
by :func:`summary_from_features`. :class:`HistoricalRateModel` ("each customer keeps their
historical rate") is the baseline, and a legitimate model when it predicts best.
The platform model :class:`ml.models.CustomerValue` (:func:`fit_and_evaluate` here) fits every
variant and the baseline as of the latest labelled cutoff and chooses by revenue error on the
horizon after it (:func:`value_metrics`). Durations are in days, amounts in the shop's currency.

CLV over a horizon = expected orders x expected average order value, undiscounted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.metrics import roc_auc_score

from ml.base import CannotTrain, Chart, ScoreResult, TrainResult, day
from ml.btyd import BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel, ParetoNBDModel
from ml.btyd._inputs import ArrayLike, _as_array, _broadcast
from ml.models import CustomerValue  # noqa: F401  (declared there, importable here)

SUMMARY_COLUMNS = ("frequency", "recency", "T", "monetary_value")
# The order-count models CustomerValueModel can use, by the name shown in metrics and metadata.
ORDER_MODELS: dict[str, type] = {
    "BG/NBD": BetaGeoModel,
    "MBG/NBD": ModifiedBetaGeoModel,
    "Pareto/NBD": ParetoNBDModel,
}
HISTORICAL_RATE = "historical rate"
FEATURE_COLUMNS = (
    "customer_id",
    "frequency",
    "days_since_first_order",
    "recency_days",
    "avg_order_value",
)


class CustomerValueModel(BaseEstimator):
    """BTYD orders x Gamma-Gamma order value over a horizon, on a BTYD summary frame.

    Parameters
    ----------
    horizon_days : default prediction horizon in days.
    orders_model : the order-count model, a key of ORDER_MODELS ("BG/NBD", "MBG/NBD",
        "Pareto/NBD").
    penalizer : passed to both sub-models.
    monetary_value_over : which orders ``monetary_value`` averages over. ``"all_orders"`` (the
        default, what :func:`summary_from_features` produces from ``avg_order_value``) means
        frequency + 1 orders, so one-order customers also inform the spend model;
        ``"repeat_orders"`` is the ``lifetimes`` convention (the mean of the repeat orders only,
        over ``frequency`` orders; customers with frequency 0 are left out of the spend fit).
    days_to_next_order_cap : optional cap (days) for ``expected_days_to_next_order``, which is
        infinite for customers whose expected wait diverges (see
        :meth:`BetaGeoModel.expected_days_to_next_purchase`).

    Fitted attributes: ``orders_`` (the order-count model), ``gamma_gamma_``
    (:class:`GammaGammaModel`).
    """

    def __init__(
        self,
        horizon_days: float = 365,
        orders_model: str = "BG/NBD",
        penalizer: float = 0.0,
        monetary_value_over: Literal["all_orders", "repeat_orders"] = "all_orders",
        days_to_next_order_cap: float | None = None,
    ):
        self.horizon_days = horizon_days
        self.orders_model = orders_model
        self.penalizer = penalizer
        self.monetary_value_over = monetary_value_over
        self.days_to_next_order_cap = days_to_next_order_cap

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Versions saved before the order-count model was a choice held BG/NBD as `bgnbd_`.
        if "bgnbd_" in state:
            state["orders_"] = state.pop("bgnbd_")
        state.setdefault("orders_model", "BG/NBD")
        super().__setstate__(state)

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
        if self.orders_model not in ORDER_MODELS:
            raise ValueError(
                f"orders_model must be one of {', '.join(ORDER_MODELS)}, got {self.orders_model!r}"
            )
        self.orders_ = ORDER_MODELS[self.orders_model](penalizer=self.penalizer).fit(
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
        if not hasattr(self, "orders_"):
            raise RuntimeError("CustomerValueModel is not fitted yet; call fit() first")
        self._check_summary(summary)
        horizon = self.horizon_days if horizon_days is None else horizon_days
        frequency, recency, age = summary["frequency"], summary["recency"], summary["T"]
        expected_orders = self.orders_.expected_purchases(horizon, frequency, recency, age)
        value = self.gamma_gamma_.conditional_expected_average_value(
            self._orders_in_average(summary), summary["monetary_value"]
        )
        return pd.DataFrame(
            {
                "p_alive": self.orders_.p_alive(frequency, recency, age),
                "expected_orders": expected_orders,
                "expected_revenue": expected_orders * value,
                "expected_days_to_next_order": self._days_to_next_order(frequency, age),
            },
            index=summary.index,
        )

    def _days_to_next_order(self, frequency: pd.Series, age: pd.Series) -> np.ndarray:
        """E[1 / lambda | alive] = (alpha + T) / (r + x - 1) days: in all three models the
        purchase rate of a customer still alive is Gamma(r + x, alpha + T) given the history.
        Infinite when r + x <= 1; capped at `days_to_next_order_cap` if set."""
        params = self.orders_.params_
        shape = params["r"] + _as_array(frequency, "frequency")
        scale = params["alpha"] + _as_array(age, "T")
        with np.errstate(divide="ignore"):
            days = np.where(shape > 1.0, scale / np.maximum(shape - 1.0, 1e-300), np.inf)
        if self.days_to_next_order_cap is not None:
            days = np.minimum(days, float(self.days_to_next_order_cap))
        return days

    @property
    def params_(self) -> dict[str, float]:
        return {**self.orders_.params_, **self.gamma_gamma_.params_}


class HistoricalRateModel(BaseEstimator):
    """The baseline as a model that can score: each customer keeps their historical repeat rate
    (:func:`naive_rate_baseline`) at their average order value. It has no notion of a customer
    having left, so ``p_alive`` is missing; the next order is expected one average gap after
    the as-of day."""

    def __init__(self, horizon_days: float = 365, min_observation_days: float = 30.0):
        self.horizon_days = horizon_days
        self.min_observation_days = min_observation_days

    def fit(self, summary: pd.DataFrame) -> HistoricalRateModel:
        CustomerValueModel._check_summary(summary)
        return self

    def predict(self, summary: pd.DataFrame, horizon_days: float | None = None) -> pd.DataFrame:
        horizon = self.horizon_days if horizon_days is None else horizon_days
        predicted = naive_rate_baseline(summary, horizon, self.min_observation_days)
        per_day = predicted["expected_orders"].to_numpy() / horizon
        with np.errstate(divide="ignore"):
            wait = np.where(per_day > 0, 1.0 / np.maximum(per_day, 1e-300), np.inf)
        return predicted.assign(p_alive=np.nan, expected_days_to_next_order=wait)

    @property
    def params_(self) -> dict[str, float]:
        return {"min_observation_days": self.min_observation_days}


def repeat_and_recency(
    orders: np.ndarray, days_since_first: np.ndarray, days_since_last: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """BTYD's frequency (repeat orders = orders - 1) and recency (days from the first order to
    the last, clipped to [0, T]; 0 without a repeat order) from the platform's feature columns
    (orders, days since the first order = T, days since the last order)."""
    repeat = orders - 1.0
    recency = np.where(
        repeat > 0, np.clip(days_since_first - days_since_last, 0.0, days_since_first), 0.0
    )
    return repeat, recency


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
    repeat, recency = repeat_and_recency(buyers["frequency"].to_numpy(dtype=float), age, since_last)
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


def _candidate(name: str, horizon: float) -> CustomerValueModel | HistoricalRateModel:
    if name == HISTORICAL_RATE:
        return HistoricalRateModel(horizon_days=horizon)
    return CustomerValueModel(horizon_days=horizon, orders_model=name)


def fit_and_evaluate(
    frames: Mapping[str, pd.DataFrame],
    current: Any | None,
    horizon_days: int,
    first_day: str | None,
) -> TrainResult:
    """`CustomerValue.train` (ml/models.py): every variant and the historical rate fitted as of the
    latest labelled cutoff, the one with the lowest revenue error refitted on the latest features
    to predict `horizon_days` ahead."""
    holdout = frames["value_holdout_set"]
    summary = summary_from_features(holdout)
    if summary.empty:
        raise CannotTrain(
            "no customer with an order at the latest labelled cutoff: lifetime value needs a "
            "history longer than one churn horizon"
        )
    horizon = int(holdout["horizon_days"].iloc[0])
    actual = holdout.set_index("customer_id").loc[summary["customer_id"]]
    bought_again = actual["orders_in_horizon"].to_numpy() > 0
    fitted, left_out = {}, {}
    for name in [*ORDER_MODELS, HISTORICAL_RATE]:
        try:
            fitted[name] = _candidate(name, horizon).fit(summary)
        except (ValueError, FloatingPointError) as error:
            left_out[name] = str(error)
    if current is not None:
        fitted["current model"] = current["evaluation_model"]
    predictions = {name: model.predict(summary, horizon) for name, model in fitted.items()}
    metrics = {}
    for name, frame in predictions.items():
        metrics[name] = value_metrics(
            frame["expected_orders"].to_numpy(),
            frame["expected_revenue"].to_numpy(),
            actual["orders_in_horizon"].to_numpy(),
            actual["revenue_in_horizon"].to_numpy(),
        )
        # How well each ranks the customers who did order again (P(alive) where it has one).
        if 0 < bought_again.sum() < len(bought_again):
            metrics[name]["orders_auc"] = float(
                roc_auc_score(bought_again, frame["expected_orders"])
            )
            if frame["p_alive"].notna().all():
                metrics[name]["p_alive_auc"] = float(roc_auc_score(bought_again, frame["p_alive"]))
    current_metrics = metrics.pop("current model", None)
    predictions.pop("current model", None)
    fitted.pop("current model", None)
    chosen = min(fitted, key=lambda name: (metrics[name]["revenue_mae"], name == HISTORICAL_RATE))
    final = _candidate(chosen, horizon_days).fit(summary_from_features(frames["customer_features"]))
    cutoff = day(holdout["as_of_date"].iloc[0])
    params = {k: round(float(v), 4) for k, v in final.params_.items()}
    return TrainResult(
        model={"model": final, "evaluation_model": fitted[chosen], "chosen_model": chosen},
        metric="revenue_mae",
        higher_is_better=False,
        metrics={chosen: metrics[chosen]} | metrics,
        baselines=[HISTORICAL_RATE] if chosen != HISTORICAL_RATE else [],
        current_metrics=current_metrics,
        train_window=(first_day or cutoff, cutoff),
        holdout_window=(cutoff, day(pd.Timestamp(cutoff) + pd.Timedelta(days=horizon))),
        version_metadata={"chosen_model": chosen, "parameters": params},
        details={
            "chosen_model": chosen,
            "selection": "lowest revenue MAE on the holdout (a BTYD variant on a tie)",
            **({"left_out": left_out} if left_out else {}),
            "parameters": params,
            "holdout_customers": len(summary),
            "scoring_horizon_days": horizon_days,
        },
        charts={
            "revenue_chart": Chart(
                "predicted_vs_actual",
                f"Revenue per customer in the {horizon} days after {cutoff}",
                {
                    "predicted": {n: p["expected_revenue"] for n, p in predictions.items()},
                    "actual": actual["revenue_in_horizon"].reset_index(drop=True),
                    "unit": "revenue",
                },
                "predicted_vs_actual_revenue.png",
            )
        },
    )


def score_customers(
    saved: dict, frames: Mapping[str, pd.DataFrame], horizon_days: int
) -> ScoreResult:
    """`CustomerValue.score` (ml/models.py): P(alive), expected orders, revenue and next order."""
    features = frames["customer_features"]
    summary = summary_from_features(features)
    predicted = saved["model"].predict(summary, horizon_days)
    as_of = pd.Timestamp(features["as_of_date"].iloc[0])
    # An infinite expected wait (too little history to expect another order) has no date.
    days = predicted["expected_days_to_next_order"].to_numpy(dtype=float)
    waiting = pd.to_timedelta(np.where(np.isfinite(days), np.ceil(days), np.nan), unit="D")
    scores = pd.DataFrame(
        {
            "customer_id": summary["customer_id"].to_numpy(),
            "p_alive": predicted["p_alive"].to_numpy(),
            "expected_orders": predicted["expected_orders"].to_numpy(),
            "expected_revenue": predicted["expected_revenue"].to_numpy(),
            "expected_next_order_date": (as_of + waiting).date,
            "horizon_days": horizon_days,
            "as_of_date": as_of.date(),
        }
    )
    return ScoreResult(
        scores,
        details={
            "expected_revenue_total": round(float(scores["expected_revenue"].sum()), 2),
            "mean_p_alive": round(float(scores["p_alive"].mean()), 4)
            if scores["p_alive"].notna().any()
            else "none (the historical-rate model has no P(alive))",
        },
    )
