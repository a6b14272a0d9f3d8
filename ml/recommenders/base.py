"""What every candidate recommender shares: the matrices, popularity, ranking and fallback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator

POPULARITY = "popularity"
REPEAT = "repeat"
ITEM_KNN = "item_knn"
EASE = "ease"
ALS = "als"
TIFU_KNN = "tifu_knn"

# The optional interactions column of time-decayed purchase counts (`decayed_`).
DECAYED = "decayed_purchases"

# Customers scored at a time (dense scores over the catalogue), capped so that a chunk holds at
# most MAX_CHUNK_CELLS scores whatever the catalogue size.
CHUNK_SIZE = 2_000
MAX_CHUNK_CELLS = 4_000_000


class CatalogueTooLargeError(ValueError):
    """The candidate cannot be fitted on a catalogue this large (memory or time)."""


def _index(values: np.ndarray) -> pd.Index:
    """Distinct ids, sorted when they can be, so the result does not depend on the row order."""
    index = pd.Index(pd.unique(values))
    try:
        return index.sort_values()
    except TypeError:  # mixed id types: keep the order of first appearance
        return index


def _top_m(scores: np.ndarray, m: int) -> np.ndarray:
    """Column indices of the m highest scores per row, best first; ties go to the lower column."""
    n_rows, n_cols = scores.shape
    if m >= n_cols:
        return np.argsort(-scores, axis=1, kind="stable")
    kth = np.partition(scores, n_cols - m, axis=1)[:, n_cols - m, None]  # m-th largest per row
    selected = scores >= kth
    excess = np.flatnonzero(selected.sum(axis=1) > m)  # rows with ties at the m-th score
    if len(excess):
        tied = scores[excess] == kth[excess]
        need = m - (scores[excess] > kth[excess]).sum(axis=1, keepdims=True)
        selected[excess] = (scores[excess] > kth[excess]) | (tied & (tied.cumsum(axis=1) <= need))
    columns = np.nonzero(selected)[1].reshape(n_rows, m)  # row-major: m per row, ascending
    values = np.take_along_axis(scores, columns, axis=1)
    order = np.lexsort((columns, -values), axis=-1)
    return np.take_along_axis(columns, order, axis=1)


class Recommender(BaseEstimator):
    """Shared part of every candidate: the matrices, popularity, ranking and fallback.

    `fit(interactions)` takes customer_id, product_id, purchases, add_to_carts, views and,
    optionally, decayed_purchases (time-decayed purchase counts), and builds `user_items_`
    (weight = purchase_weight*purchases + cart_weight*add_to_carts + view_weight*views),
    `purchases_` (purchase counts), `decayed_` (decayed_purchases, or the purchase counts when
    the frame has no such column), `bought_` (0/1) and `popularity_` (distinct buyers per
    product, most bought first). Subclasses implement `_fit()` and
    `_score(rows)`: dense scores over the catalogue (columns of `products_`) for those rows of
    `customers_`. Scores <= 0 count as "no opinion" and are filled from popularity.
    """

    name: ClassVar[str] = ""

    def __init__(
        self,
        purchase_weight: float = 5.0,
        cart_weight: float = 2.0,
        view_weight: float = 1.0,
        filter_already_bought: bool = False,
    ) -> None:
        self.purchase_weight = purchase_weight
        self.cart_weight = cart_weight
        self.view_weight = view_weight
        self.filter_already_bought = filter_already_bought

    # --- fitting ---------------------------------------------------------------------------

    def fit(self, interactions: pd.DataFrame, y: None = None) -> Recommender:
        """`interactions`: customer_id, product_id, purchases, add_to_carts, views and
        optionally decayed_purchases."""
        self._build_matrices(interactions)
        self._fit()
        return self

    def _build_matrices(self, interactions: pd.DataFrame) -> None:
        weight = (
            self.purchase_weight * interactions["purchases"]
            + self.cart_weight * interactions["add_to_carts"]
            + self.view_weight * interactions["views"]
        ).to_numpy(dtype=np.float32)
        keep = weight > 0
        if not keep.any():
            raise ValueError("No interaction with a positive weight to fit the recommender on")
        columns = ["customer_id", "product_id", "purchases"]
        frame = interactions.loc[keep, [*columns, DECAYED] if DECAYED in interactions else columns]
        self.customers_ = _index(frame["customer_id"].to_numpy())
        self.products_ = _index(frame["product_id"].to_numpy())
        rows = self.customers_.get_indexer(frame["customer_id"])
        cols = self.products_.get_indexer(frame["product_id"])
        shape = (len(self.customers_), len(self.products_))
        self.user_items_ = csr_matrix((weight[keep], (rows, cols)), shape=shape, dtype=np.float32)
        self.user_items_.sum_duplicates()
        self.purchases_ = self._sparse(frame["purchases"], rows, cols, shape)
        self.decayed_ = (
            self._sparse(frame[DECAYED], rows, cols, shape)
            if DECAYED in frame
            else self.purchases_.copy()
        )
        self.bought_ = self.purchases_.copy()
        self.bought_.data[:] = 1.0
        buyers_per_product = np.asarray(self.bought_.sum(axis=0)).ravel().astype(np.int64)
        self.popularity_ = pd.Series(buyers_per_product, index=self.products_).sort_values(
            ascending=False, kind="stable"
        )

    @staticmethod
    def _sparse(
        values: pd.Series, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]
    ) -> csr_matrix:
        """Non-negative values as a customers x products CSR matrix without explicit zeros."""
        data = np.nan_to_num(values.to_numpy(dtype=np.float32), nan=0.0).clip(min=0)
        matrix = csr_matrix((data, (rows, cols)), shape=shape, dtype=np.float32)
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        return matrix

    def _fit(self) -> None:
        """Learn from `user_items_` / `purchases_` (set by `fit`)."""

    def _score(self, rows: np.ndarray) -> np.ndarray:
        """Dense scores, shape (len(rows), len(products_)), for those rows of `customers_`."""
        raise NotImplementedError

    # --- recommending ----------------------------------------------------------------------

    def recommend(self, customer_ids: Sequence[object], n: int = 10) -> pd.DataFrame:
        """Top-n products per customer: customer_id, rank, product_id, score, model.

        `model` is the candidate's name for rows it scored, "popularity" for fallback rows
        (cold-start customers, and top-ups when the candidate scored fewer than n products).
        """
        customer_ids = pd.Index(customer_ids)
        positions = self.customers_.get_indexer(customer_ids)
        known = positions >= 0
        frames = []
        if known.any():
            known_ids, rows = customer_ids[known], positions[known]
            chunk = max(1, min(CHUNK_SIZE, MAX_CHUNK_CELLS // max(len(self.products_), 1)))
            for start in range(0, len(rows), chunk):
                part = slice(start, start + chunk)
                frames.append(self._recommend_rows(known_ids[part], rows[part], n))
        if (~known).any():
            frames.append(self.popular(customer_ids[~known], n))
        frames = [frame for frame in frames if len(frame)]
        result = pd.concat(frames, ignore_index=True) if frames else self.popular([], n)
        result = result[["customer_id", "rank", "product_id", "score", "model"]]
        return result.sort_values(["customer_id", "rank"], kind="stable", ignore_index=True)

    def _recommend_rows(self, customers: pd.Index, rows: np.ndarray, n: int) -> pd.DataFrame:
        """Rank the catalogue for known customers; ties and top-ups follow popularity."""
        # Columns in popularity order, so ties go to the more popular product. Products without
        # a positive score get -(column + 1): below every positive score, in popularity order
        # (the top-up), and distinct, which keeps np.partition fast.
        order = self.products_.get_indexer(self.popularity_.index)
        raw = np.asarray(self._score(rows), dtype=np.float64)[:, order]
        fallback = -np.arange(1.0, len(order) + 1.0)
        scores = np.where(np.isfinite(raw) & (raw > 0), raw, fallback)
        if self.filter_already_bought:
            position = np.empty_like(order)
            position[order] = np.arange(len(order))
            bought = self.bought_[rows].tocoo()
            scores[bought.row, position[bought.col]] = -np.inf
        m = min(n, scores.shape[1])
        top = _top_m(scores, m)
        values = np.take_along_axis(scores, top, axis=1)
        valid = np.isfinite(values).ravel()
        positive = (values > 0).ravel()[valid]
        frame = pd.DataFrame(
            {
                "customer_id": np.repeat(customers.to_numpy(dtype=object), m)[valid],
                "rank": np.tile(np.arange(1, m + 1), len(rows))[valid],
                "product_id": self.popularity_.index.to_numpy()[top.ravel()[valid]],
                "score": np.where(positive, values.ravel()[valid], 0.0),
                "model": np.where(positive, self.name, POPULARITY),
            }
        )
        return frame  # filtered (-inf) products sort last, so ranks stay 1, 2, ... without gaps

    def popular(self, customer_ids: Sequence[object], n: int = 10) -> pd.DataFrame:
        """The same n most-bought products for each customer (the cold-start fallback)."""
        top = self.popularity_.head(n)
        count = len(customer_ids)
        total = max(float(self.popularity_.sum()), 1.0)
        return pd.DataFrame(
            {
                "customer_id": np.repeat(np.asarray(customer_ids, dtype=object), len(top)),
                "rank": np.tile(np.arange(1, len(top) + 1), count),
                "product_id": np.tile(top.index.to_numpy(), count),
                "score": np.tile(top.to_numpy() / total, count),
                "model": POPULARITY,
            }
        )
