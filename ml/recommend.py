"""Product recommendations: item-item collaborative filtering (implicit's item-kNN) on weighted
purchase, add-to-cart and view counts, with a popularity fallback for customers without history.

Evaluation holds out the last period: the model is fitted on interactions before it and must
rank the products each customer bought during it, beside a popularity baseline.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from implicit.nearest_neighbours import BM25Recommender, CosineRecommender
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator

from ml.metrics import ranking_metrics

ITEM_KNN = "item_knn"
POPULARITY = "popularity"

# Interaction columns of customer_product_interactions, and the holdout split's equivalents.
FULL_HISTORY = {"purchases": "purchases", "add_to_carts": "add_to_carts", "views": "views"}
BEFORE_HOLDOUT = {
    "purchases": "purchases_before_holdout",
    "add_to_carts": "add_to_carts_before_holdout",
    "views": "views_before_holdout",
}


class ItemKNNRecommender(BaseEstimator):
    """Item-item nearest neighbours over an implicit-feedback matrix; popularity for cold start."""

    def __init__(
        self,
        n_neighbors: int = 100,
        similarity: str = "bm25",
        purchase_weight: float = 5.0,
        cart_weight: float = 2.0,
        view_weight: float = 1.0,
        filter_already_bought: bool = False,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.similarity = similarity
        self.purchase_weight = purchase_weight
        self.cart_weight = cart_weight
        self.view_weight = view_weight
        self.filter_already_bought = filter_already_bought

    def fit(self, interactions: pd.DataFrame, y: None = None) -> ItemKNNRecommender:
        """`interactions`: customer_id, product_id, purchases, add_to_carts, views."""
        weight = (
            self.purchase_weight * interactions["purchases"]
            + self.cart_weight * interactions["add_to_carts"]
            + self.view_weight * interactions["views"]
        ).to_numpy(dtype=np.float32)
        keep = weight > 0
        frame = interactions.loc[keep, ["customer_id", "product_id", "purchases"]]
        self.customers_ = pd.Index(frame["customer_id"].unique())
        self.products_ = pd.Index(frame["product_id"].unique())
        rows = self.customers_.get_indexer(frame["customer_id"])
        cols = self.products_.get_indexer(frame["product_id"])
        shape = (len(self.customers_), len(self.products_))
        self.user_items_ = csr_matrix((weight[keep], (rows, cols)), shape=shape)
        self.bought_ = csr_matrix(
            ((frame["purchases"] > 0).to_numpy(dtype=np.float32), (rows, cols)), shape=shape
        )
        model_class = BM25Recommender if self.similarity == "bm25" else CosineRecommender
        self.model_ = model_class(K=self.n_neighbors, num_threads=0)
        self.model_.fit(self.user_items_, show_progress=False)
        buyers_per_product = np.asarray((self.bought_ > 0).sum(axis=0)).ravel()
        self.popularity_ = pd.Series(buyers_per_product, index=self.products_).sort_values(
            ascending=False, kind="stable"
        )
        return self

    def recommend(self, customer_ids: Sequence[object], n: int = 10) -> pd.DataFrame:
        """Top-n products per customer: customer_id, rank, product_id, score, model."""
        customer_ids = pd.Index(customer_ids)
        positions = self.customers_.get_indexer(customer_ids)
        known = positions >= 0
        frames = []
        if known.any():
            rows = positions[known]
            ids, scores = self.model_.recommend(
                rows,
                self.user_items_[rows],
                N=n,
                filter_already_liked_items=False,
                filter_items=None,
            )
            frames.append(self._with_fallback(customer_ids[known], rows, ids, scores, n))
        if (~known).any():
            frames.append(self.popular(customer_ids[~known], n))
        result = pd.concat(frames, ignore_index=True) if frames else self.popular([], n)
        return result.sort_values(["customer_id", "rank"], kind="stable", ignore_index=True)

    def _with_fallback(self, customers, rows, ids, scores, n) -> pd.DataFrame:
        """Drop invalid or (if set) already-bought items, then top up from popularity."""
        top_popular = self.products_.get_indexer(self.popularity_.index[: n * 3])
        records_customer, records_item, records_score, records_model = [], [], [], []
        bought = self.bought_[rows].tolil().rows if self.filter_already_bought else None
        for i, customer in enumerate(customers):
            seen = set(bought[i]) if bought is not None else set()
            chosen = [
                (item, score)
                for item, score in zip(ids[i], scores[i], strict=True)
                if item >= 0 and np.isfinite(score) and score > 0 and item not in seen
            ][:n]
            taken = {item for item, _ in chosen} | seen
            picked = [(item, score, ITEM_KNN) for item, score in chosen]
            for item in top_popular:
                if len(picked) >= n:
                    break
                if item not in taken:
                    picked.append((item, 0.0, POPULARITY))
                    taken.add(item)
            for item, score, model in picked:
                records_customer.append(customer)
                records_item.append(item)
                records_score.append(score)
                records_model.append(model)
        frame = pd.DataFrame(
            {
                "customer_id": records_customer,
                "product_id": self.products_[np.asarray(records_item, dtype=int)],
                "score": np.asarray(records_score, dtype=float),
                "model": records_model,
            }
        )
        frame["rank"] = frame.groupby("customer_id", sort=False).cumcount() + 1
        return frame

    def popular(self, customer_ids: Sequence[object], n: int = 10) -> pd.DataFrame:
        """The same n most-bought products for each customer (the cold-start fallback)."""
        top = self.popularity_.head(n)
        customers = np.repeat(np.asarray(customer_ids, dtype=object), len(top))
        total = max(float(self.popularity_.sum()), 1.0)
        return pd.DataFrame(
            {
                "customer_id": customers,
                "product_id": np.tile(top.index.to_numpy(), len(customer_ids)),
                "score": np.tile(top.to_numpy() / total, len(customer_ids)),
                "model": POPULARITY,
                "rank": np.tile(np.arange(1, len(top) + 1), len(customer_ids)),
            }
        )


def holdout_split(interactions: pd.DataFrame) -> tuple[pd.DataFrame, dict[object, set[object]]]:
    """Training interactions before the holdout and, per customer with history, what they bought in it."""
    train = interactions[["customer_id", "product_id", *BEFORE_HOLDOUT.values()]].rename(
        columns={v: k for k, v in BEFORE_HOLDOUT.items()}
    )
    train = train[(train[list(BEFORE_HOLDOUT)] > 0).any(axis=1)]
    warm = set(train["customer_id"])
    bought = interactions[
        (interactions["purchases_in_holdout"] > 0) & interactions["customer_id"].isin(warm)
    ]
    truth = bought.groupby("customer_id")["product_id"].agg(set).to_dict()
    return train, truth


def evaluate_recommender(
    interactions: pd.DataFrame, params: dict[str, object] | None = None, k: int = 10
) -> dict[str, dict[str, float]]:
    """Recall@k and NDCG@k on the holdout period for the model and the popularity baseline."""
    train, truth = holdout_split(interactions)
    if not truth:
        raise ValueError("No customer with history bought anything in the holdout period")
    model = ItemKNNRecommender(**(params or {})).fit(train)
    customers = list(truth)
    recs = model.recommend(customers, k)
    popular = model.popular(customers, k)
    as_lists = lambda frame: frame.groupby("customer_id")["product_id"].agg(list).to_dict()  # noqa: E731
    return {
        ITEM_KNN: ranking_metrics(as_lists(recs), truth, k),
        POPULARITY: ranking_metrics(as_lists(popular), truth, k),
    }
