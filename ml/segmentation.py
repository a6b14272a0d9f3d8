"""Customer segments, two ways:

- the standard RFM grid: recency, frequency and monetary quintile scores (1-5) and the usual
  named cells (Champions, Loyal customers, At risk, Hibernating, New customers, ...);
- behavioural clusters: scaled features, k-means with k chosen by silhouette, and a marketer's
  name for each cluster derived from its profile. Names are stable across retraining: a new
  cluster that sits where a previous one sat inherits its name, whatever its cluster id.

Customers who never ordered are not scored: they form the rule-based segment "Prospects".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ml.base import CannotTrain, Chart, ScoreResult, TrainResult, day
from ml.models import SegmentationModel  # noqa: F401  (declared there, importable here)

PROSPECTS = "Prospects"

SEGMENT_FEATURES: tuple[str, ...] = (
    "recency_days",
    "orders_per_year",
    "monetary",
    "avg_unit_price",
    "discount_share",
    "sessions_365d",
    "conversion_rate_90d",
)
# Segments are named from a profile over these (the clustering features and tenure).
PROFILE_FEATURES: tuple[str, ...] = (*SEGMENT_FEATURES, "tenure_days")
# Heavy-tailed features are log-scaled before standardizing.
_LOG_FEATURES = {"orders_per_year", "monetary", "avg_unit_price", "sessions_365d"}

# Each name scores a cluster by its standardized profile (positive = the trait is strong).
# Names are assigned one per cluster by maximizing the total score (Hungarian algorithm).
SEGMENT_NAMES: dict[str, dict[str, float]] = {
    "Champions": {"recency_days": -1.0, "orders_per_year": 1.0, "monetary": 1.0},
    "Big spenders": {"avg_unit_price": 1.5, "monetary": 0.5, "discount_share": -0.5},
    "Bargain hunters": {"discount_share": 1.5, "avg_unit_price": -0.5},
    "Window shoppers": {"sessions_365d": 1.0, "conversion_rate_90d": -1.0, "orders_per_year": -0.5},
    "At risk": {"recency_days": 1.0, "orders_per_year": 0.5, "monetary": 0.5},
    "Hibernating": {"recency_days": 1.0, "orders_per_year": -1.0, "sessions_365d": -0.5},
    "New customers": {"tenure_days": -1.5, "recency_days": -0.5},
    "Loyal customers": {"orders_per_year": 1.0, "recency_days": -0.5},
    "Need attention": {},
}


def _prepare(frame: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """Select the features, fill gaps with neutral values and log-scale heavy tails."""
    # Gaps are structural (no completed order -> no average value): zero, not an imputed guess.
    data = frame.loc[:, list(features)].astype("float64").fillna(0.0)
    for column in _LOG_FEATURES.intersection(data.columns):
        data[column] = np.log1p(data[column].clip(lower=0))
    return data


# The RFM grid on (recency score, frequency score), 5 = most recent / most frequent.
RFM_GRID: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("Champions", (5,), (4, 5)),
    ("Loyal customers", (3, 4), (4, 5)),
    ("Potential loyalists", (4, 5), (2, 3)),
    ("New customers", (5,), (1,)),
    ("Promising", (4,), (1,)),
    ("Need attention", (3,), (3,)),
    ("About to sleep", (3,), (1, 2)),
    ("Cannot lose them", (1, 2), (5,)),
    ("At risk", (1, 2), (3, 4)),
    ("Hibernating", (1, 2), (1, 2)),
)
# A cluster inherits a previous cluster's name if their centres are this close (in standard
# deviations of the scaled features, Euclidean).
INHERIT_DISTANCE = 1.0
# The held-out silhouette compares every pair of customers (time grows with their square): it is
# measured on a fixed random sample of at most this many held-out buyers.
HOLDOUT_SILHOUETTE_SAMPLE = 20_000


def _quintile(values: pd.Series) -> np.ndarray:
    """Scores 1-5 by rank; ties share the lower score (most customers have one order)."""
    share = values.rank(method="min", pct=True).to_numpy()
    return np.clip(np.ceil(share * 5), 1, 5).astype(int)


def rfm_segments(features: pd.DataFrame) -> pd.DataFrame:
    """RFM scores and grid segment per customer (same index); Prospects have no scores."""
    result = pd.DataFrame(
        {"rfm_recency": pd.NA, "rfm_frequency": pd.NA, "rfm_monetary": pd.NA}, index=features.index
    ).astype("Int64")
    result["rfm_segment"] = PROSPECTS
    buyers = features[features["frequency"] > 0]
    if buyers.empty:
        return result
    r = _quintile(-buyers["recency_days"])
    f = _quintile(buyers["frequency"])
    result.loc[buyers.index, "rfm_recency"] = r
    result.loc[buyers.index, "rfm_frequency"] = f
    result.loc[buyers.index, "rfm_monetary"] = _quintile(buyers["monetary"])
    names = np.empty(len(buyers), dtype=object)
    for name, r_scores, f_scores in RFM_GRID:
        names[np.isin(r, r_scores) & np.isin(f, f_scores)] = name
    result.loc[buyers.index, "rfm_segment"] = names
    return result


def name_segments(profiles: pd.DataFrame, names: Sequence[str] | None = None) -> dict[int, str]:
    """Map cluster id -> name from standardized cluster profiles (rows: clusters, cols: features),
    one distinct name per cluster, choosing from `names` (default: every name)."""
    names = list(SEGMENT_NAMES if names is None else names)
    scores = np.zeros((len(profiles), len(names)))
    for j, name in enumerate(names):
        for feature, weight in SEGMENT_NAMES.get(name, {}).items():
            if feature in profiles:
                scores[:, j] += weight * profiles[feature].to_numpy()
    clusters, picks = linear_sum_assignment(-scores) if len(profiles) <= len(names) else ([], [])
    mapping = {int(profiles.index[i]): names[j] for i, j in zip(clusters, picks, strict=True)}
    for position, cluster in enumerate(profiles.index):  # more clusters than names
        mapping.setdefault(int(cluster), f"Need attention {position + 1}")
    return mapping


class CustomerSegmenter(ClusterMixin, BaseEstimator):
    """K-means on scaled behaviour features; k maximizes the silhouette over `k_values`."""

    def __init__(
        self,
        features: Sequence[str] = SEGMENT_FEATURES,
        k_values: Sequence[int] = (4, 5, 6, 7, 8),
        silhouette_sample: int = 5000,
        random_state: int = 0,
    ) -> None:
        self.features = features
        self.k_values = k_values
        self.silhouette_sample = silhouette_sample
        self.random_state = random_state

    def _pipeline(self, k: int) -> Pipeline:
        return Pipeline(
            [
                ("scale", StandardScaler()),
                ("cluster", KMeans(n_clusters=k, n_init=4, random_state=self.random_state)),
            ]
        )

    def fit(self, X: pd.DataFrame, y: None = None) -> CustomerSegmenter:
        buyers = X[X["frequency"] > 0]
        data = _prepare(buyers, self.features)
        scaled = StandardScaler().fit_transform(data) if len(data) else np.empty((0, 0))
        # k groups need more than k distinct customers (and the silhouette, two groups at least).
        distinct = len(np.unique(np.round(scaled, 9), axis=0)) if len(scaled) else 0
        k_values = [k for k in self.k_values if k < distinct]
        if not k_values:
            raise CannotTrain(
                f"{len(buyers)} buyers with {distinct} distinct behaviour profile(s): "
                f"segmentation needs more than {min(self.k_values)}"
            )
        rng = np.random.default_rng(self.random_state)
        sample = rng.choice(
            len(scaled), size=min(self.silhouette_sample, len(scaled)), replace=False
        )
        self.silhouette_by_k_: dict[int, float] = {}
        fitted: dict[int, Pipeline] = {}
        for k in k_values:
            pipeline = self._pipeline(k).fit(data)
            labels = pipeline.named_steps["cluster"].labels_
            self.silhouette_by_k_[k] = _silhouette(scaled[sample], labels[sample])
            fitted[k] = pipeline
        self.k_ = max(
            self.silhouette_by_k_, key=lambda k: np.nan_to_num(self.silhouette_by_k_[k], nan=-2.0)
        )
        self.pipeline_ = fitted[self.k_]
        self.silhouette_ = self.silhouette_by_k_[self.k_]
        labels = self.pipeline_.named_steps["cluster"].labels_
        profile_features = [f for f in PROFILE_FEATURES if f in buyers]
        described = StandardScaler().fit_transform(_prepare(buyers, profile_features))
        scaled_profiles = pd.DataFrame(described, columns=profile_features).groupby(labels).mean()
        self.scaled_profiles_ = scaled_profiles
        self.segment_names_ = name_segments(scaled_profiles)
        self.profiles_ = buyers[profile_features].assign(cluster=labels).groupby("cluster").mean()
        return self

    def centers(self) -> pd.DataFrame:
        """Cluster centres in the prepared (log-scaled, unstandardized) feature space."""
        scale = self.pipeline_.named_steps["scale"]
        centers = scale.inverse_transform(self.pipeline_.named_steps["cluster"].cluster_centers_)
        return pd.DataFrame(centers, columns=list(self.features))

    def inherit_names(self, previous: CustomerSegmenter) -> dict[int, str]:
        """Rename clusters after `previous`: a cluster whose centre lies within INHERIT_DISTANCE
        of a previous centre (matched one to one) keeps that cluster's name; the others are
        named from their profile among the names left. Returns the clusters that inherited."""
        scale = self.pipeline_.named_steps["scale"]
        ours = scale.transform(self.centers())
        theirs = scale.transform(previous.centers()[list(self.features)])
        distance = np.linalg.norm(ours[:, None, :] - theirs[None, :, :], axis=2)
        rows, cols = linear_sum_assignment(distance)
        inherited = {
            int(row): previous.segment_names_[int(col)]
            for row, col in zip(rows, cols, strict=True)
            if distance[row, col] <= INHERIT_DISTANCE
        }
        rest = [c for c in self.scaled_profiles_.index if int(c) not in inherited]
        free = [n for n in SEGMENT_NAMES if n not in inherited.values()]
        named = name_segments(self.scaled_profiles_.loc[rest], free) if rest else {}
        self.segment_names_ = {**named, **inherited}
        return inherited

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Cluster id per row; -1 for customers without orders (Prospects)."""
        labels = np.full(len(X), -1, dtype=int)
        buyers = (X["frequency"] > 0).to_numpy()
        if buyers.any():
            labels[buyers] = self.pipeline_.predict(_prepare(X[buyers], self.features))
        return labels

    def predict_names(self, X: pd.DataFrame) -> np.ndarray:
        labels = self.predict(X)
        return np.array(
            [self.segment_names_.get(label, PROSPECTS) for label in labels], dtype=object
        )

    def scaled(self, X: pd.DataFrame) -> np.ndarray:
        """Buyers' features in the fitted model's scaled space (for silhouette and profiles)."""
        return self.pipeline_.named_steps["scale"].transform(_prepare(X, self.features))


def _silhouette(scaled: np.ndarray, labels: np.ndarray) -> float:
    """The silhouette, or NaN where it is undefined (fewer than 2 groups, or a group per row)."""
    groups = len(np.unique(labels))
    return float(silhouette_score(scaled, labels)) if 2 <= groups < len(labels) else float("nan")


def holdout_silhouette(
    model: CustomerSegmenter, holdout: pd.DataFrame, sample: int = HOLDOUT_SILHOUETTE_SAMPLE
) -> dict[str, float]:
    """Silhouette on customers the model did not see, beside a baseline segmentation with the same
    number of groups: monetary-value quantiles (the usual "top spenders" split). Both are measured
    on the same fixed random sample of at most `sample` held-out buyers (the silhouette compares
    every pair of customers). Raises CannotTrain when the held-out buyers are too few to measure
    either."""
    buyers = holdout[holdout["frequency"] > 0]
    if len(buyers) <= model.k_:
        raise CannotTrain(
            f"{len(buyers)} held-out buyer(s): measuring {model.k_} segments needs more; "
            "provide more customers"
        )
    baseline = pd.qcut(buyers["monetary"].rank(method="first"), model.k_, labels=False).to_numpy()
    if len(buyers) > sample:
        rows = np.sort(np.random.default_rng(0).choice(len(buyers), size=sample, replace=False))
        buyers, baseline = buyers.iloc[rows], baseline[rows]
    scaled = model.scaled(buyers)
    labels = model.predict(buyers)
    result = {
        "silhouette": _silhouette(scaled, labels),
        "baseline_silhouette": _silhouette(scaled, baseline),
        "customers_evaluated": len(buyers),
    }
    if np.isnan(result["silhouette"]):
        raise CannotTrain(
            f"the {len(buyers)} held-out buyers fall into one segment: the silhouette is undefined"
        )
    return result


def fit_and_evaluate(
    frames: Mapping[str, pd.DataFrame], current: Any | None, first_day: str | None
) -> TrainResult:
    """`SegmentationModel.train` (ml/models.py): k-means on the customers outside the holdout,
    its silhouette on the held-out ones beside monetary quantiles."""
    features = frames["segmentation_set"]
    in_holdout = features["in_holdout"].to_numpy(dtype=bool)
    model = CustomerSegmenter().fit(features[~in_holdout])
    evaluation = holdout_silhouette(model, features[in_holdout])
    details: dict[str, Any] = {}
    current_metrics = None
    if current is not None:
        inherited = model.inherit_names(current)
        same = np.mean(model.predict_names(features) == current.predict_names(features))
        details["names_inherited"] = ", ".join(sorted(inherited.values())) or "none"
        details["customers_keeping_their_segment"] = round(float(same), 4)
        current_silhouette = holdout_silhouette(current, features[in_holdout])["silhouette"]
        current_metrics = {"silhouette": current_silhouette}
    sizes = pd.Series(model.predict_names(features)).value_counts()
    as_of = day(features["as_of_date"].max())
    return TrainResult(
        model=model,
        metric="silhouette",
        higher_is_better=True,
        metrics={
            "k-means": {"silhouette": evaluation["silhouette"]},
            "monetary quantiles": {"silhouette": evaluation["baseline_silhouette"]},
        },
        baselines=["monetary quantiles"],
        current_metrics=current_metrics,
        train_window=(first_day or as_of, as_of),  # history up to the latest day
        holdout_window=(as_of, as_of),  # the same day, customers the model did not see
        version_metadata={"k": model.k_, "segment_names": model.segment_names_},
        details={
            **details,
            "holdout": "every fifth customer (by id hash), not used to fit",
            "holdout_buyers_measured": evaluation["customers_evaluated"],
            "k": model.k_,
            "k_criterion": "highest silhouette on a sample, k in 4..8 (at least four groups to act on)",
            "silhouette_by_k": {str(k): round(v, 4) for k, v in model.silhouette_by_k_.items()},
        },
        tables={"segment_profiles": model.profiles_.rename(index=model.segment_names_)},
        charts={
            "segment_sizes_chart": Chart(
                "bar",
                "Customers per behavioural segment",
                {"values": sizes, "xlabel": "customers"},
                "segment_sizes.png",
            )
        },
    )


def score_customers(saved: CustomerSegmenter, frames: Mapping[str, pd.DataFrame]) -> ScoreResult:
    """`SegmentationModel.score` (ml/models.py): each customer's segment and RFM cell."""
    features = frames["customer_features"]
    rfm = rfm_segments(features)
    scores = pd.DataFrame(
        {
            "customer_id": features["customer_id"],
            "segment": saved.predict_names(features),
            "cluster_id": saved.predict(features),
            **{column: rfm[column] for column in rfm},
            "as_of_date": features["as_of_date"],
        }
    )
    details, charts = {}, {}
    for column, title in (("segment", "behavioural segment"), ("rfm_segment", "RFM segment")):
        sizes = scores[column].value_counts()
        details[f"{column}_sizes"] = {k: int(v) for k, v in sizes.items()}
        charts[f"{column}_chart"] = Chart(
            "bar",
            f"Customers per {title}",
            {"values": sizes, "xlabel": "customers"},
            f"{column}_sizes.png",
        )
    return ScoreResult(scores, details, charts)
