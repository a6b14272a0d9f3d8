"""Product recommendations: several candidate recommenders behind one interface, chosen by offline
evaluation.

Every candidate learns from the same weighted customer x product matrix (purchases, add-to-carts
and views) and ranks the whole catalogue for each known customer; customers without history, and
known customers with fewer positive-scored products than asked for, get the most-bought products.

Evaluation holds out the last period: each candidate is fitted on the interactions before it and
must rank the products each customer bought during it. `select_candidate` picks the one with the
highest NDCG@k, the simpler one on a tie.

    evaluation = evaluate_candidates(interactions, k=10)
    name = select_candidate(evaluation, k=10)
    model = build_recommender(name).fit(full_history_interactions)
    model.recommend(customer_ids, n=10)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.linalg
from implicit.als import AlternatingLeastSquares
from implicit.nearest_neighbours import ItemItemRecommender, bm25_weight, normalize
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator, clone
from threadpoolctl import threadpool_limits

from ml.metrics import catalogue_coverage, ranking_metrics

log = logging.getLogger(__name__)

POPULARITY = "popularity"
REPEAT = "repeat"
ITEM_KNN = "item_knn"
EASE = "ease"
ALS = "als"

# Interaction columns of customer_product_interactions, and the holdout split's equivalents.
FULL_HISTORY = {"purchases": "purchases", "add_to_carts": "add_to_carts", "views": "views"}
BEFORE_HOLDOUT = {
    "purchases": "purchases_before_holdout",
    "add_to_carts": "add_to_carts_before_holdout",
    "views": "views_before_holdout",
}

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

    `fit(interactions)` takes customer_id, product_id, purchases, add_to_carts, views and builds
    `user_items_` (weight = purchase_weight*purchases + cart_weight*add_to_carts +
    view_weight*views), `purchases_` (purchase counts), `bought_` (0/1) and `popularity_`
    (distinct buyers per product, most bought first). Subclasses implement `_fit()` and
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
        """`interactions`: customer_id, product_id, purchases, add_to_carts, views."""
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
        frame = interactions.loc[keep, ["customer_id", "product_id", "purchases"]]
        self.customers_ = _index(frame["customer_id"].to_numpy())
        self.products_ = _index(frame["product_id"].to_numpy())
        rows = self.customers_.get_indexer(frame["customer_id"])
        cols = self.products_.get_indexer(frame["product_id"])
        shape = (len(self.customers_), len(self.products_))
        self.user_items_ = csr_matrix((weight[keep], (rows, cols)), shape=shape, dtype=np.float32)
        self.user_items_.sum_duplicates()
        purchases = frame["purchases"].to_numpy(dtype=np.float32).clip(min=0)
        self.purchases_ = csr_matrix((purchases, (rows, cols)), shape=shape, dtype=np.float32)
        self.purchases_.sum_duplicates()
        self.purchases_.eliminate_zeros()
        self.bought_ = self.purchases_.copy()
        self.bought_.data[:] = 1.0
        buyers_per_product = np.asarray(self.bought_.sum(axis=0)).ravel().astype(np.int64)
        self.popularity_ = pd.Series(buyers_per_product, index=self.products_).sort_values(
            ascending=False, kind="stable"
        )

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


class PopularityRecommender(Recommender):
    """The same most-bought products (distinct buyers) for everyone: the baseline."""

    name = POPULARITY

    def _score(self, rows: np.ndarray) -> np.ndarray:
        share = self.popularity_.reindex(self.products_).to_numpy(dtype=np.float64)
        share = share / max(float(share.sum()), 1.0)
        return np.broadcast_to(share, (len(rows), len(share)))


class RepeatRecommender(Recommender):
    """The customer's own past purchases, most often bought first (ties: more popular first)."""

    name = REPEAT

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return self.purchases_[rows].toarray()


class ItemKNNRecommender(Recommender):
    """Item-item nearest neighbours (implicit's BM25 or cosine) on the weighted matrix.

    scores = user_items @ similarity, the customer's own products included (unless
    filter_already_bought), as implicit's `recommend(filter_already_liked_items=False)` does.
    """

    name = ITEM_KNN

    def __init__(
        self,
        n_neighbors: int = 100,
        similarity: str = "bm25",
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        num_threads: int = 0,
        purchase_weight: float = 5.0,
        cart_weight: float = 2.0,
        view_weight: float = 1.0,
        filter_already_bought: bool = False,
    ) -> None:
        super().__init__(purchase_weight, cart_weight, view_weight, filter_already_bought)
        self.n_neighbors = n_neighbors
        self.similarity = similarity
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.num_threads = num_threads

    def _fit(self) -> None:
        if self.similarity not in ("bm25", "cosine"):
            raise ValueError(f"similarity must be 'bm25' or 'cosine', not {self.similarity!r}")
        # What BM25Recommender / CosineRecommender.fit do, but handing implicit a CSR matrix
        # (theirs is COO, which implicit converts with a warning).
        items_users = self.user_items_.T
        if self.similarity == "bm25":
            weighted = bm25_weight(items_users, K1=self.bm25_k1, B=self.bm25_b).T
        else:
            weighted = normalize(items_users).T
        model = ItemItemRecommender(K=self.n_neighbors, num_threads=self.num_threads)
        model.fit(csr_matrix(weighted, dtype=np.float64), show_progress=False)
        self.similarity_ = csr_matrix(model.similarity, dtype=np.float64)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return (self.user_items_[rows] @ self.similarity_).toarray()


class EASERecommender(Recommender):
    """EASE (Steck 2019): a closed-form item-item linear model with a zero diagonal.

    G = XᵀX + l2·I, P = G⁻¹, B = −P / diag(P), diag(B) = 0, scores = X B, on X = the weighted
    matrix with log1p-damped weights (heavy browsers do not dominate G). The dense p x p inverse
    takes O(p²) memory and O(p³) time: catalogues above `max_products` raise
    CatalogueTooLargeError (evaluate_candidates then leaves EASE out).
    """

    name = EASE

    def __init__(
        self,
        l2: float = 50.0,
        max_products: int = 10_000,
        purchase_weight: float = 5.0,
        cart_weight: float = 2.0,
        view_weight: float = 1.0,
        filter_already_bought: bool = False,
    ) -> None:
        super().__init__(purchase_weight, cart_weight, view_weight, filter_already_bought)
        self.l2 = l2
        self.max_products = max_products

    def _matrix(self, rows: np.ndarray | None = None) -> csr_matrix:
        """log1p-damped weights of all customers, or of those rows."""
        matrix = self.user_items_.copy() if rows is None else self.user_items_[rows]
        matrix.data = np.log1p(matrix.data)
        return matrix

    def _fit(self) -> None:
        n_products = len(self.products_)
        if n_products > self.max_products:
            raise CatalogueTooLargeError(
                f"EASE needs a dense {n_products} x {n_products} matrix inverse; the catalogue "
                f"has more than max_products={self.max_products} products"
            )
        matrix = self._matrix()
        gram = (matrix.T @ matrix).toarray().astype(np.float64)
        gram[np.diag_indices(n_products)] += self.l2
        weights = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        del gram
        weights /= -np.diag(weights)  # in place: peak memory two p x p float64 matrices
        weights[np.diag_indices(n_products)] = 0.0
        self.weights_ = weights.astype(np.float32)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return self._matrix(rows) @ self.weights_


class ALSRecommender(Recommender):
    """Implicit-feedback matrix factorisation (implicit's AlternatingLeastSquares, CPU).

    Confidence = 1 + alpha·log1p(weight) (Hu, Koren & Volinsky 2008, log variant);
    scores = user_factors @ item_factorsᵀ. Fixed random_state and BLAS limited to one thread,
    so the same data gives the same factors.

    implicit's L2 penalty is absolute, and the best value grows with the number of customers
    (holdout NDCG@10 on the synthetic shop: about 20 at 1,000 customers, 30-50 at 3,000, 50-100
    at 30,000; at 400 customers 50 already shrinks everyone to popularity). So the default
    `regularization=None` uses 20·(customers/1,000)^0.4, clipped to [5, 200]; the value used is
    in `regularization_`.
    """

    name = ALS

    def __init__(
        self,
        factors: int = 64,
        regularization: float | None = None,
        alpha: float = 2.0,
        iterations: int = 15,
        random_state: int = 42,
        num_threads: int = 2,
        purchase_weight: float = 5.0,
        cart_weight: float = 2.0,
        view_weight: float = 1.0,
        filter_already_bought: bool = False,
    ) -> None:
        super().__init__(purchase_weight, cart_weight, view_weight, filter_already_bought)
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state
        self.num_threads = num_threads

    def _fit(self) -> None:
        n_customers = self.user_items_.shape[0]
        self.regularization_ = (
            float(self.regularization)
            if self.regularization is not None
            else float(np.clip(20.0 * (n_customers / 1_000) ** 0.4, 5.0, 200.0))
        )
        confidence = self.user_items_.copy()
        confidence.data = 1.0 + self.alpha * np.log1p(confidence.data)
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization_,
                iterations=self.iterations,
                random_state=self.random_state,
                num_threads=self.num_threads,
                use_gpu=False,
            )
            model.fit(confidence, show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)

    def _score(self, rows: np.ndarray) -> np.ndarray:
        return self.user_factors_[rows] @ self.item_factors_.T


# Registry, in order of simplicity: select_candidate breaks NDCG ties towards the front.
CANDIDATES: dict[str, type[Recommender]] = {
    POPULARITY: PopularityRecommender,
    REPEAT: RepeatRecommender,
    ITEM_KNN: ItemKNNRecommender,
    EASE: EASERecommender,
    ALS: ALSRecommender,
}


def build_recommender(name: str, filter_already_bought: bool = False) -> Recommender:
    """An unfitted candidate with its default parameters."""
    if name not in CANDIDATES:
        raise ValueError(f"Unknown recommender {name!r}; candidates: {', '.join(CANDIDATES)}")
    return CANDIDATES[name](filter_already_bought=filter_already_bought)


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


def evaluate_candidates(
    interactions: pd.DataFrame,
    k: int = 10,
    filter_already_bought: bool = False,
    candidates: Iterable[str] | Mapping[str, Recommender] | None = None,
    fitted: MutableMapping[str, Recommender] | None = None,
) -> dict[str, dict[str, float]]:
    """Fit each candidate on the interactions before the holdout; score its top k on the holdout.

    `interactions` has the customer_product_interactions columns (*_before_holdout and
    purchases_in_holdout). `candidates`: names from CANDIDATES (default: all of them), built with
    `filter_already_bought`, or a mapping of name to an unfitted recommender (cloned before
    fitting, its own filter_already_bought kept). Returns, per candidate,
    recall_at_{k}, ndcg_at_{k} (means over holdout buyers with earlier history),
    coverage (share of the products seen before the holdout recommended to any of them),
    customers_evaluated and fit_seconds. A candidate that cannot handle the catalogue size
    (CatalogueTooLargeError) is left out with a warning. If `fitted` is given, each evaluated
    model (fitted before the holdout) is stored in it by name.
    """
    train, truth = holdout_split(interactions)
    if not truth:
        raise ValueError("No customer with history bought anything in the holdout period")
    if candidates is None:
        candidates = list(CANDIDATES)
    elif isinstance(candidates, str):
        candidates = [candidates]
    if isinstance(candidates, Mapping):
        models = {name: clone(model) for name, model in candidates.items()}
    else:
        models = {name: build_recommender(name, filter_already_bought) for name in candidates}
    n_products = train["product_id"].nunique()
    evaluation: dict[str, dict[str, float]] = {}
    for name, model in models.items():
        started = time.perf_counter()
        try:
            model.fit(train)
        except CatalogueTooLargeError as error:
            log.warning("Recommender candidate %s left out: %s", name, error)
            continue
        fit_seconds = time.perf_counter() - started
        if fitted is not None:
            fitted[name] = model
        evaluation[name] = {
            **evaluate_fitted(model, truth, k, n_products),
            "fit_seconds": round(fit_seconds, 3),
        }
    return evaluation


def evaluate_fitted(
    model: Recommender, truth: Mapping[object, set[object]], k: int, n_products: int
) -> dict[str, float]:
    """recall_at_{k}, ndcg_at_{k}, customers_evaluated and coverage of an already fitted model.

    `truth` as from holdout_split; coverage = distinct products in the top k of the customers in
    `truth`, as a share of `n_products` (evaluate_candidates: products in the training data).
    """
    recs = model.recommend(list(truth), k)
    as_lists = recs.groupby("customer_id", sort=False)["product_id"].agg(list).to_dict()
    return {
        **ranking_metrics(as_lists, truth, k),
        "coverage": catalogue_coverage(recs, n_products),
    }


def select_candidate(evaluation: Mapping[str, Mapping[str, float]], k: int = 10) -> str:
    """The candidate with the highest NDCG@k; on a tie the simpler one (CANDIDATES order)."""
    metric = f"ndcg_at_{k}"
    scored = {
        name: float(result[metric])
        for name, result in evaluation.items()
        if metric in result and np.isfinite(result[metric])
    }
    if not scored:
        raise ValueError(f"No candidate with a finite {metric} to select from")
    best = max(scored.values())
    simplicity = {name: i for i, name in enumerate(CANDIDATES)}
    tied = [name for name, value in scored.items() if value >= best - 1e-12]
    return min(tied, key=lambda name: (simplicity.get(name, len(simplicity)), name))


def evaluate_recommender(
    interactions: pd.DataFrame, params: dict[str, object] | None = None, k: int = 10
) -> dict[str, dict[str, float]]:
    """Item-kNN (with `params`) beside popularity on the holdout; see evaluate_candidates."""
    return evaluate_candidates(
        interactions,
        k,
        candidates={
            ITEM_KNN: ItemKNNRecommender(**(params or {})),
            POPULARITY: PopularityRecommender(),
        },
    )
