"""Models against the synthetic shop's hidden truth, which the pipeline never reads.

Each test also scores a deliberately broken model (shuffled outputs) with the same yardstick, to
show that the threshold is one a broken model cannot pass.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, roc_auc_score

from orchestration.settings import TRUTH_DIR

RNG = np.random.default_rng(0)


def _shuffled(values: pd.Series) -> np.ndarray:
    return RNG.permutation(values.to_numpy())


@pytest.fixture(scope="module")
def churn_vs_truth(warehouse, truth):
    scores = warehouse.execute(
        "select c.customer_id, c.churn_probability, f.recency_days from scores.churn_scores c "
        "join marts.customer_features f using (customer_id)"
    ).df()
    return scores.merge(truth[["customer_id", "alive_at_end"]], on="customer_id")


def test_churn_probability_finds_customers_who_really_dropped_out(churn_vs_truth):
    dropped = ~churn_vs_truth["alive_at_end"]
    model_auc = roc_auc_score(dropped, churn_vs_truth["churn_probability"])
    recency_auc = roc_auc_score(dropped, churn_vs_truth["recency_days"])
    broken_auc = roc_auc_score(dropped, _shuffled(churn_vs_truth["churn_probability"]))
    assert model_auc >= 0.80, model_auc
    assert model_auc > recency_auc + 0.02, (model_auc, recency_auc)
    assert broken_auc < 0.80 and broken_auc < recency_auc


def test_segments_recover_hidden_personas_far_better_than_chance(warehouse, truth):
    segments = warehouse.execute("select customer_id, segment from scores.customer_segments").df()
    joined = segments.merge(truth[["customer_id", "persona"]], on="customer_id")
    ari = adjusted_rand_score(joined["persona"], joined["segment"])
    chance = max(
        adjusted_rand_score(joined["persona"], _shuffled(joined["segment"])) for _ in range(20)
    )
    assert ari >= 0.10, ari
    assert ari > 20 * max(chance, 0.001), (ari, chance)


def _recall(recommended: dict, future: dict) -> float:
    """Mean share of each customer's future purchases that were among their recommendations."""
    return float(
        np.mean(
            [len(set(recommended.get(c, [])) & items) / len(items) for c, items in future.items()]
        )
    )


def test_recommendations_find_true_future_purchases_better_than_popularity(warehouse):
    future_items = pd.read_parquet(TRUTH_DIR / "future_order_items.parquet")
    future_items = future_items[future_items["status"] != "cancelled"]
    future = future_items.groupby("customer_id")["product_id"].agg(set).to_dict()
    recs = warehouse.execute("select customer_id, product_id from scores.recommendations").df()
    recommended = recs.groupby("customer_id")["product_id"].agg(list).to_dict()
    popular = (
        warehouse.execute(
            "select product_id from marts.customer_product_interactions where purchases > 0 "
            "group by 1 order by count(*) desc, 1 limit 10"
        )
        .df()["product_id"]
        .tolist()
    )
    model_rate = _recall(recommended, future)
    popularity_rate = _recall({c: popular for c in future}, future)
    shuffled = dict(zip(recommended, RNG.permutation(list(recommended.values())), strict=True))
    broken_rate = _recall(shuffled, future)
    print(
        f"recall of future purchases: model {model_rate:.3f}, popularity {popularity_rate:.3f}, "
        f"shuffled {broken_rate:.3f}"
    )
    assert model_rate > 1.5 * popularity_rate, (model_rate, popularity_rate)
    assert broken_rate < 1.5 * popularity_rate, broken_rate
