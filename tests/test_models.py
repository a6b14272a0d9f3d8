"""Unit tests of ml/ on tiny, hand-made data: milliseconds each, no orchestrator."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from ml import churn, recommend, segmentation
from ml.metrics import ndcg_at_k, ranking_metrics, recall_at_k
from ml.registry import latest_model, save_model


def test_ranking_metrics_known_values():
    assert recall_at_k(["a", "b", "c"], {"b", "z"}, 3) == 0.5
    assert ndcg_at_k(["a", "b"], {"a"}, 2) == 1.0
    assert ndcg_at_k(["x", "a"], {"a"}, 2) == pytest.approx(1 / np.log2(3))
    assert ranking_metrics({"c1": ["a"]}, {"c1": {"a"}, "c2": {"b"}}, 10)["recall_at_10"] == 0.5


def test_registry_returns_newest_version(tmp_path):
    first = save_model(tmp_path, "m", {"v": 1}, {"note": "first"})
    second = save_model(tmp_path, "m", {"v": 2}, {"note": "second"})
    newest = latest_model(tmp_path, "m")
    assert newest.version == second.version > first.version
    assert newest.load() == {"v": 2}
    assert json.loads((newest.path / "metadata.json").read_text())["note"] == "second"
    with pytest.raises(FileNotFoundError, match="materialize"):
        latest_model(tmp_path, "missing")


def _customers(n_per_group: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Three clearly different behaviours plus one customer who never ordered."""
    rng = np.random.default_rng(seed)
    groups = []
    specs = [  # recency, orders/yr, monetary, unit price, discount, sessions, conversion, tenure
        (10, 12, 3000, 40, 0.01, 40, 0.5, 700),
        (300, 1, 60, 15, 0.30, 3, 0.1, 600),
        (40, 3, 2500, 400, 0.0, 15, 0.3, 200),
    ]
    for label, spec in enumerate(specs):
        values = np.array(spec, dtype=float) * rng.lognormal(0, 0.1, size=(n_per_group, len(spec)))
        frame = pd.DataFrame(values, columns=[*segmentation.SEGMENT_FEATURES, "tenure_days"])
        frame["label"] = label
        groups.append(frame)
    data = pd.concat(groups, ignore_index=True)
    data["frequency"] = np.maximum(1, (data["orders_per_year"] * 2).round())
    data["customer_id"] = [f"C{i}" for i in range(len(data))]
    prospect = data.iloc[[0]].assign(frequency=0, customer_id="prospect", label=-1)
    data = pd.concat([data, prospect], ignore_index=True)
    return data, data["label"].to_numpy()


def test_segmenter_recovers_clear_groups_and_names_them():
    data, labels = _customers(150)
    model = segmentation.CustomerSegmenter(k_values=(3, 4, 5)).fit(data)
    predicted = model.predict(data)
    assert predicted[-1] == -1 and model.predict_names(data)[-1] == segmentation.PROSPECTS
    assert adjusted_rand_score(labels[:-1], predicted[:-1]) > 0.9
    names = dict(zip(labels[:-1], model.predict_names(data)[:-1], strict=True))
    assert names[0] == "Champions"
    assert names[1] in {"Hibernating", "Bargain hunters"}
    assert names[2] == "Big spenders"


def test_name_segments_gives_each_cluster_one_distinct_name():
    profiles = pd.DataFrame(
        np.random.default_rng(1).normal(size=(12, 3)),
        columns=["recency_days", "monetary", "discount_share"],
    )
    names = segmentation.name_segments(profiles)
    assert len(set(names.values())) == 12


def test_churn_model_learns_signal_and_beats_recency(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame(
        {
            "customer_id": np.tile(np.arange(n // 2), 2).astype(str),
            "as_of_date": np.repeat(pd.to_datetime(["2026-01-01", "2026-04-01"]), n // 2),
            "recency_days": rng.integers(0, 365, n),
            "frequency": rng.integers(1, 20, n),
            "sessions_30d": rng.poisson(2, n),
        }
    )
    # Churn depends on browsing far more than on recency.
    logit = -2.5 * (frame["sessions_30d"] > 1) + 0.004 * frame["recency_days"]
    frame["churned"] = rng.random(n) < 1 / (1 + np.exp(-logit))
    result = churn.train_churn_model(frame)
    assert result.holdout_cutoff == "2026-04-01 00:00:00"
    assert result.metrics["roc_auc"] > result.baseline_metrics["roc_auc"] + 0.05
    scores = churn.score_churn(result.pipeline, result.features, frame.assign(frequency=1))
    assert scores["churn_probability"].between(0, 1).all()
    with pytest.raises(ValueError, match="two labelled cutoffs"):
        churn.train_churn_model(frame[frame["as_of_date"] == frame["as_of_date"].min()])


def test_risk_tiers():
    assert list(churn.risk_tier(np.array([0.9, 0.6, 0.45, 0.1]))) == [
        "high",
        "high",
        "medium",
        "low",
    ]


def _interactions() -> pd.DataFrame:
    """Customers who buy A also buy B; P is the most popular; cust_new buys only A."""
    rows = []
    for i in range(30):
        rows += [(f"c{i}", "A", 1, 0, 1), (f"c{i}", "B", 1, 0, 1)]
    for i in range(30, 60):
        rows += [(f"c{i}", "P", 1, 0, 0), (f"c{i}", "Q", 1, 1, 2)]
    for i in range(60, 90):
        rows += [(f"c{i}", "P", 1, 0, 0)]
    rows.append(("cust_new", "A", 1, 0, 0))
    return pd.DataFrame(
        rows, columns=["customer_id", "product_id", "purchases", "add_to_carts", "views"]
    )


def test_item_knn_recommends_co_bought_item_and_falls_back_to_popularity():
    model = recommend.ItemKNNRecommender(filter_already_bought=True).fit(_interactions())
    recs = model.recommend(["cust_new", "stranger"], n=3)
    new = recs[recs["customer_id"] == "cust_new"]
    assert new.iloc[0]["product_id"] == "B" and new.iloc[0]["model"] == recommend.ITEM_KNN
    assert "A" not in set(new["product_id"])  # already bought
    stranger = recs[recs["customer_id"] == "stranger"]
    assert list(stranger["rank"]) == [1, 2, 3]
    assert set(stranger["model"]) == {recommend.POPULARITY}
    assert stranger.iloc[0]["product_id"] == "P"


def test_evaluate_recommender_uses_only_pre_holdout_history():
    data = _interactions().rename(
        columns={
            "purchases": "purchases_before_holdout",
            "add_to_carts": "add_to_carts_before_holdout",
            "views": "views_before_holdout",
        }
    )
    data["purchases_in_holdout"] = 0
    data.loc[
        (data["customer_id"] == "cust_new") & (data["product_id"] == "A"), "purchases_in_holdout"
    ] = 1
    data.loc[data["customer_id"] == "cust_new", ["purchases_before_holdout"]] = 0
    data.loc[data["customer_id"] == "cust_new", ["views_before_holdout"]] = 1
    result = recommend.evaluate_recommender(data, k=2)
    assert result[recommend.ITEM_KNN]["customers_evaluated"] == 1
    assert set(result) == {recommend.ITEM_KNN, recommend.POPULARITY}
