"""Models against the synthetic shop's hidden truth, which the pipeline never reads.

Each test also scores a deliberately broken model (shuffled outputs) with the same yardstick, to
show that the threshold is one a broken model cannot pass.
"""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, roc_auc_score

from orchestration.settings import get_settings

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
    future_items = pd.read_parquet(get_settings().truth_dir / "future_order_items.parquet")
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


def test_lifetime_value_predicts_true_future_spend_better_than_the_historical_rate(
    warehouse, truth
):
    """The promoted value model, asked about the truth's window after the data ends, against
    what each customer really spent (the generator's future orders, never loaded)."""
    from ml import clv
    from ml.registry import require_promoted_model
    from simulator import ShopConfig

    horizon = ShopConfig().future_days
    features = warehouse.execute("select * from marts.customer_features").df()
    summary = clv.summary_from_features(features)
    model = require_promoted_model(get_settings().model_dir, "customer_value").load()["model"]
    predicted = model.predict(summary, horizon).assign(customer_id=summary["customer_id"])
    baseline = clv.naive_rate_baseline(summary, horizon).assign(customer_id=summary["customer_id"])
    actual = truth.set_index("customer_id").loc[summary["customer_id"], "future_spend"].to_numpy()

    def mae(values: np.ndarray) -> float:
        return float(np.mean(np.abs(values - actual)))

    model_mae = mae(predicted["expected_revenue"].to_numpy())
    baseline_mae = mae(baseline["expected_revenue"].to_numpy())
    broken_mae = mae(_shuffled(predicted["expected_revenue"]))
    total_error = predicted["expected_revenue"].sum() / actual.sum() - 1
    print(
        f"future spend MAE: model {model_mae:.1f}, historical rate {baseline_mae:.1f}, "
        f"shuffled {broken_mae:.1f}; total {total_error:+.1%}"
    )
    assert model_mae < 0.95 * baseline_mae, (model_mae, baseline_mae)
    assert model_mae < 0.8 * broken_mae, (model_mae, broken_mae)
    # No test on the total: the truth window (November to January) is the shop's seasonal peak,
    # which BG/NBD does not model (it predicts about a third too little there; see the README).
    # Among repeat buyers, P(alive) separates customers who are still active from those who
    # dropped out. (BG/NBD gives everyone with a single order P(alive) = 1: it assumes nobody
    # drops out before their first repeat purchase.)
    repeat = (summary["frequency"] > 0).to_numpy()
    alive = truth.set_index("customer_id").loc[summary["customer_id"], "alive_at_end"]
    p_alive_auc = roc_auc_score(alive[repeat], predicted["p_alive"][repeat])
    print(f"P(alive) ROC AUC among repeat buyers: {p_alive_auc:.3f}")
    assert p_alive_auc > 0.75


def test_every_model_beats_its_baselines_on_the_held_out_window(warehouse, pipeline_run):
    runs = warehouse.execute(
        "select model, metric, higher_is_better, value, metrics, promoted, gate_reason "
        "from scores.model_runs where dagster_run_id = ?",
        [pipeline_run.run_id],
    ).df()
    assert set(runs["model"]) == {"customer_segmentation", "churn", "customer_value", "recommender"}
    for run in runs.itertuples():
        metrics = json.loads(run.metrics)
        ours, *baselines = [name for name in metrics if name != "current model"]
        for baseline in baselines:
            if baseline == "popularity" or run.model != "recommender":
                sign = 1 if run.higher_is_better else -1
                assert sign * (metrics[ours][run.metric] - metrics[baseline][run.metric]) > 0, (
                    run.model,
                    baseline,
                )
        assert run.promoted, run.gate_reason
