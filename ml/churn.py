"""Churn risk: will a customer who has ordered place no order in the next H days?

Training rows are customer feature snapshots at earlier cutoffs with labels from the following
H days (both built in dbt). The oldest labelled cutoff(s) train the model; the most recent
labelled cutoff is a later, held-out window on which it is compared with a recency-only baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline

# Columns that identify a row or its snapshot rather than describe the customer.
NON_FEATURES = {
    "customer_id",
    "as_of_date",
    "snapshot_index",
    "churned",
    "orders_in_horizon",
    "horizon_days",
    "horizon_end_date",
}

RISK_TIERS = (("high", 0.6), ("medium", 0.3), ("low", 0.0))  # tier if probability >= bound


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The numeric feature columns of a customer feature table."""
    return [
        column
        for column in frame.columns
        if column not in NON_FEATURES and pd.api.types.is_numeric_dtype(frame[column])
    ]


def build_churn_pipeline(random_state: int = 0) -> Pipeline:
    """Gradient boosting on the raw features (it handles missing values natively)."""
    return Pipeline(
        [
            (
                "model",
                HistGradientBoostingClassifier(
                    learning_rate=0.05,
                    max_iter=300,
                    max_leaf_nodes=31,
                    min_samples_leaf=40,
                    l2_regularization=1.0,
                    early_stopping=True,
                    validation_fraction=0.15,
                    n_iter_no_change=20,
                    random_state=random_state,
                ),
            )
        ]
    )


def recency_baseline(frame: pd.DataFrame) -> np.ndarray:
    """The rule churn models replace: the longer since the last order, the likelier the churn."""
    return frame["recency_days"].fillna(frame["recency_days"].max()).to_numpy(dtype=float)


def classification_metrics(y_true: np.ndarray, score: np.ndarray) -> dict[str, float]:
    metrics = {
        "roc_auc": float(roc_auc_score(y_true, score)),
        "pr_auc": float(average_precision_score(y_true, score)),
    }
    if score.min() >= 0 and score.max() <= 1:
        metrics["brier"] = float(brier_score_loss(y_true, score))
    return metrics


def risk_tier(probability: np.ndarray) -> np.ndarray:
    tiers = np.full(len(probability), RISK_TIERS[-1][0], dtype=object)
    for name, bound in reversed(RISK_TIERS[:-1]):
        tiers[probability >= bound] = name
    return tiers


@dataclass
class ChurnTrainingResult:
    pipeline: Pipeline
    features: list[str]
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    train_cutoffs: list[str]
    holdout_cutoff: str
    train_rows: int
    holdout_rows: int
    churn_rate_holdout: float


def train_churn_model(labelled: pd.DataFrame, random_state: int = 0) -> ChurnTrainingResult:
    """Fit on earlier cutoffs, evaluate on the latest labelled cutoff, then refit on all of them.

    `labelled` holds feature snapshots joined with their `churned` label and `as_of_date`.
    """
    cutoffs = sorted(labelled["as_of_date"].unique())
    if len(cutoffs) < 2:
        raise ValueError(
            f"Churn needs at least two labelled cutoffs (train and held-out), got {len(cutoffs)}: "
            "raise the dbt var feature_snapshots or provide a longer history"
        )
    holdout_cutoff = cutoffs[-1]
    train = labelled[labelled["as_of_date"] < holdout_cutoff]
    holdout = labelled[labelled["as_of_date"] == holdout_cutoff]
    # A feature with no value in the training rows (no browsing data, say) carries nothing, and
    # HistGradientBoosting's binning fails on an all-missing column: leave it out.
    features = [c for c in feature_columns(labelled) if train[c].notna().any()]

    evaluated = build_churn_pipeline(random_state).fit(
        train[features], train["churned"].astype(int)
    )
    y_holdout = holdout["churned"].astype(int).to_numpy()
    probability = evaluated.predict_proba(holdout[features])[:, 1]
    metrics = classification_metrics(y_holdout, probability)
    baseline_metrics = classification_metrics(y_holdout, recency_baseline(holdout))

    final = build_churn_pipeline(random_state).fit(
        labelled[features], labelled["churned"].astype(int)
    )
    return ChurnTrainingResult(
        pipeline=final,
        features=features,
        metrics=metrics,
        baseline_metrics=baseline_metrics,
        train_cutoffs=[str(c) for c in cutoffs[:-1]],
        holdout_cutoff=str(holdout_cutoff),
        train_rows=len(train),
        holdout_rows=len(holdout),
        churn_rate_holdout=float(y_holdout.mean()),
    )


def score_churn(pipeline: Pipeline, features: list[str], current: pd.DataFrame) -> pd.DataFrame:
    """Churn probability and risk tier for customers with at least one order."""
    buyers = current[current["frequency"] > 0]
    probability = pipeline.predict_proba(buyers[features])[:, 1]
    return pd.DataFrame(
        {
            "customer_id": buyers["customer_id"].to_numpy(),
            "churn_probability": probability,
            "risk_tier": risk_tier(probability),
            "recency_days": buyers["recency_days"].to_numpy(),
            "as_of_date": buyers["as_of_date"].to_numpy(),
        }
    )
