"""Why a customer's churn risk is high: the features whose value, replaced by the population
median, would lower that customer's churn probability the most."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ml.churn import ChurnModel

N_REASONS = 3


def explain(model: ChurnModel, frame: pd.DataFrame, n_reasons: int = N_REASONS) -> pd.DataFrame:
    """Each customer's top reasons: for each explained feature, how much the churn probability
    would fall if that feature took the population median; the largest falls, as text such as
    `recency_days = 143 (+0.21)`. Customers with fewer risk-raising features get fewer reasons."""
    base = model.predict_proba(frame)
    contributions = np.zeros((len(frame), len(model.explained)))
    for j, feature in enumerate(model.explained):
        typical = frame.assign(**{feature: model.reference[feature]})
        contributions[:, j] = base - model.predict_proba(typical)
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :n_reasons]
    reasons = {}
    for k in range(n_reasons):
        texts = []
        for row, j in enumerate(order[:, k] if len(model.explained) > k else []):
            delta = contributions[row, j]
            feature = model.explained[j]
            value = frame[feature].iloc[row]
            texts.append(
                f"{feature} = {value:.4g} ({delta:+.2f})"
                if delta > 0.005 and pd.notna(value)
                else None
            )
        reasons[f"reason_{k + 1}"] = texts or [None] * len(frame)
    return pd.DataFrame(reasons, index=frame.index)
