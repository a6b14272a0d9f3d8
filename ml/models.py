"""The platform's models as `CustomerModel`s (ml/base.py): what each is called, reads and needs.

Importing this module is cheap: it is what the Dagster code location imports to build each
model's assets. Each model trains and scores in its own module (ml/segmentation.py, ml/churn.py,
ml/clv.py, ml/recommend.py), imported when it first trains or scores, so scikit-learn, SciPy and
implicit load in the processes that train or score, not in every process that loads the
definitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ml.base import CustomerModel

if TYPE_CHECKING:
    import pandas as pd

    from ml.base import ScoreResult, TrainResult


class SegmentationModel(CustomerModel):
    """Behavioural segments and the RFM grid, as a platform model (see ml/base.py).

    Trained on the customers outside the holdout (`in_holdout`, a stable hash of the id in
    dbt); the gate compares its silhouette on the held-out customers with monetary quantiles.
    """

    name = "customer_segmentation"
    train_inputs = ("segmentation_set",)
    score_inputs = ("customer_features",)

    def __init__(self, min_buyers: int = 50, first_day: str | None = None) -> None:
        self.min_buyers = min_buyers
        self.first_day = first_day

    def skip_reason(self, readiness: Mapping[str, Any]) -> str | None:
        buyers = int(readiness["buyers"])
        if buyers < self.min_buyers:
            return f"{buyers} buyers; segmentation needs at least {self.min_buyers}"
        return None

    def train(self, frames: Mapping[str, pd.DataFrame], current: Any | None) -> TrainResult:
        from ml import segmentation

        return segmentation.fit_and_evaluate(frames, current, first_day=self.first_day)

    def score(self, saved: Any, frames: Mapping[str, pd.DataFrame]) -> ScoreResult:
        from ml import segmentation

        return segmentation.score_customers(saved, frames)


class ChurnRiskModel(CustomerModel):
    """Churn risk as a platform model (see ml/base.py): `train_churn_model`'s backtest, the
    latest fold as the gate's holdout, and scores with reasons for every buyer (ml/churn.py)."""

    name = "churn"
    train_inputs = ("churn_training_set",)
    score_inputs = ("customer_features",)

    def __init__(self, high_share: float = 0.1, medium_share: float = 0.2) -> None:
        self.high_share = high_share  # risk tiers: the top share of buyers by probability
        self.medium_share = medium_share  # and the next share

    def skip_reason(self, readiness: Mapping[str, Any]) -> str | None:
        cutoffs, classes = int(readiness["labelled_cutoffs"]), int(readiness["churn_outcomes"])
        if cutoffs < 2 or classes < 2:
            return (
                f"{cutoffs} labelled cutoff(s) with {classes} outcome(s): churn needs two cutoffs "
                "(train and held out) with both churners and stayers; provide a history longer "
                "than two churn horizons (models.churn_horizon_days in the config)"
            )
        return None

    def train(self, frames: Mapping[str, pd.DataFrame], current: Any | None) -> TrainResult:
        from ml import churn

        return churn.fit_and_evaluate(frames, current)

    def score(self, saved: dict, frames: Mapping[str, pd.DataFrame]) -> ScoreResult:
        from ml import churn

        return churn.score_customers(saved, frames, self.high_share, self.medium_share)


class CustomerValue(CustomerModel):
    """Customer value as a platform model (see ml/base.py; the models are in ml/clv.py).

    Every order-count variant (ORDER_MODELS, each with Gamma-Gamma spend) and the historical
    rate are fitted as of the latest labelled cutoff and compared on the orders and revenue
    customers really placed in the following horizon; the one with the lowest revenue error is
    chosen (a BTYD variant on a tie), refitted on the latest features, and predicts
    `horizon_days` ahead. A variant that cannot fit this shop's data is left out and said so.
    """

    name = "customer_value"
    train_inputs = ("value_holdout_set", "customer_features")
    score_inputs = ("customer_features",)

    def __init__(
        self, horizon_days: int = 365, min_repeat_buyers: int = 20, first_day: str | None = None
    ) -> None:
        self.horizon_days = horizon_days
        self.min_repeat_buyers = min_repeat_buyers
        self.first_day = first_day

    def skip_reason(self, readiness: Mapping[str, Any]) -> str | None:
        repeaters = int(readiness["repeat_buyers_at_holdout"])
        if repeaters < self.min_repeat_buyers:
            return (
                f"{repeaters} repeat buyer(s) at the latest labelled cutoff: lifetime value needs "
                f"at least {self.min_repeat_buyers} and a history longer than one churn horizon"
            )
        return None

    def train(self, frames: Mapping[str, pd.DataFrame], current: Any | None) -> TrainResult:
        from ml import clv

        return clv.fit_and_evaluate(
            frames, current, horizon_days=self.horizon_days, first_day=self.first_day
        )

    def score(self, saved: dict, frames: Mapping[str, pd.DataFrame]) -> ScoreResult:
        from ml import clv

        return clv.score_customers(saved, frames, self.horizon_days)


class RecommenderModel(CustomerModel):
    """Recommendations as a platform model (see ml/base.py): every candidate is fitted on the
    interactions before the holdout period and ranked by NDCG@k on it; the winner, refitted on
    the whole history, scores. Popularity is the baseline the winner must beat (ml/recommend.py).
    """

    name = "recommender"
    train_inputs = ("customer_product_interactions", "customer_features")
    score_inputs = ("customer_features",)  # only its customer ids
    scores_fixed_per_customer = True

    def __init__(
        self, k: int = 10, already_bought: bool = True, first_day: str | None = None
    ) -> None:
        self.k = k
        self.already_bought = already_bought
        self.first_day = first_day

    def skip_reason(self, readiness: Mapping[str, Any]) -> str | None:
        products, holdout_buyers = int(readiness["products"]), int(readiness["holdout_buyers"])
        if products == 0:
            return (
                "0 product(s) in the order lines: recommendations need product ids "
                "(map sources.order_lines.columns.product_id)"
            )
        if products == 1:
            return "1 product in the order lines: there is nothing to choose between to recommend"
        if holdout_buyers == 0:
            return "no purchases in the holdout period to evaluate recommendations on"
        return None

    def train(self, frames: Mapping[str, pd.DataFrame], current: Any | None) -> TrainResult:
        from ml import recommend

        return recommend.fit_and_evaluate(
            frames,
            current,
            k=self.k,
            already_bought=self.already_bought,
            first_day=self.first_day,
        )

    def score(self, saved: dict, frames: Mapping[str, pd.DataFrame]) -> ScoreResult:
        from ml import recommend

        return recommend.score_customers(saved, frames, self.k)
