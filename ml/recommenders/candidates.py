"""The candidate recommenders, from simplest to most elaborate, and their registry."""

from __future__ import annotations

import numpy as np
import scipy.linalg
from implicit.als import AlternatingLeastSquares
from implicit.nearest_neighbours import ItemItemRecommender, bm25_weight, normalize
from scipy.sparse import csr_matrix
from sklearn.preprocessing import normalize as normalize_rows
from threadpoolctl import threadpool_limits

from ml.recommenders.base import (
    ALS,
    EASE,
    ITEM_KNN,
    MAX_CHUNK_CELLS,
    POPULARITY,
    REPEAT,
    TIFU_KNN,
    CatalogueTooLargeError,
    Recommender,
)

# TIFU-kNN seeks each customer's neighbours among at most this many customers with purchases.
NEIGHBOUR_POOL = 50_000


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


def _nearest(similarity: np.ndarray, k: int, sample: int = 2_048) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of the up to k highest positive similarities in each row (0 < k < columns).

    Faster than an argpartition of every row: the k-th highest of `sample` evenly spaced columns
    is a lower bound of the row's k-th highest, so only the columns at or above it (a few per
    cent) are partitioned. Which of several tied columns is kept depends only on the values.
    """
    n_rows, n_columns = similarity.shape
    bound = np.full(n_rows, np.finfo(similarity.dtype).tiny, dtype=similarity.dtype)  # > 0
    if k < sample < n_columns:
        spaced = similarity[:, np.linspace(0, n_columns - 1, sample).astype(np.int64)]
        bound = np.maximum(bound, np.partition(spaced, sample - k, axis=1)[:, sample - k])
    flat = np.flatnonzero(similarity >= bound[:, None])
    row, column = np.divmod(flat, n_columns)  # row-major: rows ascending
    count = np.bincount(row, minlength=n_rows)
    if not len(row) or count.max() <= k:
        return row, column
    # Candidates left-aligned in a rows x width array padded with -inf; keep the k highest.
    width = int(count.max())
    slot = np.arange(len(row)) - (np.cumsum(count) - count)[row]
    values = np.full((n_rows, width), -np.inf, dtype=similarity.dtype)
    values[row, slot] = similarity[row, column]
    candidates = np.zeros((n_rows, width), dtype=np.int64)
    candidates[row, slot] = column
    top = np.argpartition(values, width - k, axis=1)[:, width - k :]
    kept_row, kept_slot = np.nonzero(np.take_along_axis(values, top, axis=1) >= bound[:, None])
    return kept_row, candidates[kept_row, top[kept_row, kept_slot]]


class TIFUKNNRecommender(Recommender):
    """Next-basket recommendation in the spirit of TIFU-kNN (Hu et al., SIGIR 2020, "Modeling
    Personalized Item Frequency Information for Next-basket Recommendation").

    Each customer is their vector of time-decayed purchase counts (`decayed_`: every order
    weighs 0.5 ** (age / half life), computed in customer_product_interactions; plain purchase
    counts when the frame has no decayed_purchases column), scaled to unit length so that a
    heavy buyer does not outweigh the others. The neighbours of a customer are the
    `n_neighbors` other customers with purchases whose vectors have the highest cosine
    similarity (> 0: at least one product in common) to theirs, and

        score = alpha * own vector + (1 - alpha) * mean of the neighbours' vectors,

    so a customer's own recent purchases rank first (repeat buying), then what similar
    customers bought recently. Customers without purchases (views or carts only) have no
    vector and no neighbours: they get popularity, as cold-start customers do. (The weights of
    purchases, add-to-carts and views only decide which customers are known.)

    Neighbours are sought among at most `neighbour_pool` customers with purchases (None: all
    of them): a shop with more has a fixed random sample of them as its pool (the same on every
    fit of the same customers). Without a pool the time grows with customers² (100,000 random
    customers x 5,000 products: 75 s to fit; a 300,000-customer shop did not finish in 17
    minutes), with it linearly. The similarities are computed `MAX_CHUNK_CELLS` at a time
    (sparse products of a batch of customers with the pool), so memory stays flat whatever the
    number of customers. `neighbours_` (customers x customers, 1 / number of neighbours at each
    neighbour), `pool_` (the rows of the customers in the pool) and `n_neighbors_` (n_neighbors
    clamped to the pool minus one) are kept.
    """

    name = TIFU_KNN

    def __init__(
        self,
        n_neighbors: int = 50,
        alpha: float = 0.7,
        neighbour_pool: int | None = NEIGHBOUR_POOL,
        purchase_weight: float = 5.0,
        cart_weight: float = 2.0,
        view_weight: float = 1.0,
        filter_already_bought: bool = False,
    ) -> None:
        super().__init__(purchase_weight, cart_weight, view_weight, filter_already_bought)
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.neighbour_pool = neighbour_pool

    def _fit(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be between 0 and 1, not {self.alpha!r}")
        if int(self.n_neighbors) != self.n_neighbors or self.n_neighbors < 0:
            raise ValueError(f"n_neighbors must be a whole number >= 0, not {self.n_neighbors!r}")
        if self.neighbour_pool is not None and (
            int(self.neighbour_pool) != self.neighbour_pool or self.neighbour_pool < 2
        ):
            raise ValueError(
                f"neighbour_pool must be a whole number >= 2 or None, not {self.neighbour_pool!r}"
            )
        self.vectors_ = csr_matrix(normalize_rows(self.decayed_, norm="l2"), dtype=np.float32)
        buyers = np.flatnonzero(np.diff(self.vectors_.indptr) > 0)
        pool = np.arange(len(buyers))  # positions in buyers of the customers neighbours come from
        if self.neighbour_pool is not None and len(buyers) > self.neighbour_pool:
            rng = np.random.default_rng(0)
            pool = np.sort(rng.choice(len(buyers), size=int(self.neighbour_pool), replace=False))
        self.pool_ = buyers[pool]
        self.n_neighbors_ = int(max(0, min(int(self.n_neighbors), len(pool) - 1)))
        rows, columns = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        if self.n_neighbors_ > 0:
            matrix = self.vectors_[buyers]
            transposed = matrix[pool].T.tocsr()
            in_pool = np.full(len(buyers), -1)
            in_pool[pool] = np.arange(len(pool))
            chunk = max(1, MAX_CHUNK_CELLS // len(pool))
            for start in range(0, len(buyers), chunk):
                stop = min(start + chunk, len(buyers))
                similarity = (matrix[start:stop] @ transposed).toarray()
                own = np.flatnonzero(in_pool[start:stop] >= 0)
                similarity[own, in_pool[start:stop][own]] = -np.inf  # not one's own neighbour
                row, column = _nearest(similarity, self.n_neighbors_)
                rows.append(buyers[start + row])
                columns.append(buyers[pool[column]])
        row, column = np.concatenate(rows), np.concatenate(columns)
        count = np.bincount(row, minlength=self.vectors_.shape[0])
        self.neighbours_ = csr_matrix(
            (1.0 / count[row], (row, column)),
            shape=(self.vectors_.shape[0],) * 2,
            dtype=np.float32,
        )

    def _score(self, rows: np.ndarray) -> np.ndarray:
        own = self.vectors_[rows].toarray()
        neighbours = (self.neighbours_[rows] @ self.vectors_).toarray()
        return self.alpha * own + (1.0 - self.alpha) * neighbours


# Registry, in order of simplicity: select_candidate breaks NDCG ties towards the front.
CANDIDATES: dict[str, type[Recommender]] = {
    POPULARITY: PopularityRecommender,
    REPEAT: RepeatRecommender,
    ITEM_KNN: ItemKNNRecommender,
    TIFU_KNN: TIFUKNNRecommender,
    EASE: EASERecommender,
    ALS: ALSRecommender,
}


def build_recommender(name: str, filter_already_bought: bool = False) -> Recommender:
    """An unfitted candidate with its default parameters."""
    if name not in CANDIDATES:
        raise ValueError(f"Unknown recommender {name!r}; candidates: {', '.join(CANDIDATES)}")
    return CANDIDATES[name](filter_already_bought=filter_already_bought)
