"""Evaluation metrics shared by the models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def recall_at_k(recommended: Sequence[object], relevant: set[object], k: int) -> float:
    """Share of the relevant items found in the top k recommendations."""
    if not relevant:
        return float("nan")
    hits = sum(1 for item in list(recommended)[:k] if item in relevant)
    return hits / len(relevant)


def ndcg_at_k(recommended: Sequence[object], relevant: set[object], k: int) -> float:
    """Normalized discounted cumulative gain with binary relevance."""
    if not relevant:
        return float("nan")
    gains = [
        1.0 / np.log2(rank + 2)
        for rank, item in enumerate(list(recommended)[:k])
        if item in relevant
    ]
    ideal = sum(1.0 / np.log2(rank + 2) for rank in range(min(len(relevant), k)))
    return float(sum(gains) / ideal)


def ranking_metrics(
    recommendations: Mapping[object, Sequence[object]], truth: Mapping[object, set[object]], k: int
) -> dict[str, float]:
    """Mean recall@k and NDCG@k over the customers in `truth`."""
    recalls = [recall_at_k(recommendations.get(c, []), items, k) for c, items in truth.items()]
    ndcgs = [ndcg_at_k(recommendations.get(c, []), items, k) for c, items in truth.items()]
    return {
        f"recall_at_{k}": float(np.nanmean(recalls)) if recalls else float("nan"),
        f"ndcg_at_{k}": float(np.nanmean(ndcgs)) if ndcgs else float("nan"),
        "customers_evaluated": len(truth),
    }


def catalogue_coverage(recommendations: pd.DataFrame, n_products: int) -> float:
    """Share of the catalogue's `n_products` recommended to anyone (distinct product_id)."""
    if n_products <= 0:
        raise ValueError("n_products must be positive")
    return float(recommendations["product_id"].nunique() / n_products)
