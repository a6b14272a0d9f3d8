"""Unit tests of ml/ on tiny, hand-made data: milliseconds each, no orchestrator."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, roc_auc_score

from ml import churn, recommend, recommenders, segmentation
from ml.base import CannotTrain
from ml.btyd import simulate_mbgnbd
from ml.metrics import ndcg_at_k, ranking_metrics, recall_at_k
from ml.registry import gate_decision, promote, promoted_model, require_promoted_model, save_model
from ml.sampling import bounded_sample


def test_ranking_metrics_known_values():
    assert recall_at_k(["a", "b", "c"], {"b", "z"}, 3) == 0.5
    assert ndcg_at_k(["a", "b"], {"a"}, 2) == 1.0
    assert ndcg_at_k(["x", "a"], {"a"}, 2) == pytest.approx(1 / np.log2(3))
    assert ranking_metrics({"c1": ["a"]}, {"c1": {"a"}, "c2": {"b"}}, 10)["recall_at_10"] == 0.5


def test_registry_scores_with_the_promoted_version_only(tmp_path):
    assert promoted_model(tmp_path, "m") is None
    first = save_model(tmp_path, "m", {"v": 1}, {"note": "first"})
    promote(first)
    second = save_model(tmp_path, "m", {"v": 2}, {"note": "second"})
    assert second.version > first.version
    in_use = require_promoted_model(tmp_path, "m")
    assert in_use.version == first.version and in_use.load() == {"v": 1}
    promote(second)
    in_use = require_promoted_model(tmp_path, "m")
    assert in_use.load() == {"v": 2}
    assert json.loads((in_use.path / "metadata.json").read_text())["note"] == "second"
    with pytest.raises(FileNotFoundError, match="materialize"):
        require_promoted_model(tmp_path, "missing")


@pytest.mark.parametrize(
    ("candidate", "baselines", "current", "higher", "promoted", "reason"),
    [
        (0.85, {"recency": 0.80}, None, True, True, "beats every baseline"),
        (0.79, {"recency": 0.80}, None, True, False, "does not beat the recency baseline"),
        (0.85, {"recency": 0.80}, 0.90, True, False, "worse than the current model"),
        (0.85, {"recency": 0.80}, 0.855, True, True, "within 1% of the model in use"),
        (10.0, {"naive": 12.0}, 9.0, False, False, "worse than the current model"),
        (10.0, {"naive": 12.0}, 10.05, False, True, "beats every baseline"),
        (12.5, {"naive": 12.0}, None, False, False, "lower is better"),
    ],
)
def test_gate_refuses_models_worse_than_a_baseline_or_the_model_in_use(
    candidate, baselines, current, higher, promoted, reason
):
    decision = gate_decision("m", candidate, baselines, current, higher_is_better=higher)
    assert decision.promoted is promoted
    assert reason in decision.reason


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


def test_holdout_silhouette_is_measured_on_a_bounded_sample_close_to_all_buyers():
    data, _ = _customers(400)
    model = segmentation.CustomerSegmenter(k_values=(3,)).fit(data)
    every = segmentation.holdout_silhouette(model, data)
    sampled = segmentation.holdout_silhouette(model, data, sample=300)
    assert every["customers_evaluated"] == 1200 and sampled["customers_evaluated"] == 300
    assert abs(sampled["silhouette"] - every["silhouette"]) < 0.05
    assert abs(sampled["baseline_silhouette"] - every["baseline_silhouette"]) < 0.05
    assert sampled["silhouette"] > sampled["baseline_silhouette"]
    assert segmentation.holdout_silhouette(model, data, sample=300) == sampled  # a fixed sample


def test_segment_names_are_stable_when_cluster_ids_permute():
    data, _ = _customers(150)
    first = segmentation.CustomerSegmenter(k_values=(3,), random_state=0).fit(data)
    # Other seeds and row order give the same clusters under other ids.
    shuffled = data.sample(frac=1.0, random_state=3)
    for seed in range(1, 6):
        second = segmentation.CustomerSegmenter(k_values=(3,), random_state=seed).fit(shuffled)
        if not np.array_equal(first.predict(data), second.predict(data)):
            break
    assert not np.array_equal(first.predict(data), second.predict(data)), "ids did not permute"
    second.segment_names_ = {c: f"renamed {c}" for c in second.segment_names_}  # forget names
    inherited = second.inherit_names(first)
    assert len(inherited) == 3
    assert (first.predict_names(data) == second.predict_names(data)).all()


def test_a_new_cluster_gets_a_fresh_name_not_an_inherited_one():
    data, _ = _customers(150)
    two_groups = data[data["label"] != 2]
    first = segmentation.CustomerSegmenter(k_values=(2,)).fit(two_groups)
    second = segmentation.CustomerSegmenter(k_values=(3,)).fit(data)
    inherited = second.inherit_names(first)
    assert len(inherited) == 2
    names = second.segment_names_
    assert len(set(names.values())) == 3
    new_cluster = (set(names) - set(inherited)).pop()
    assert names[new_cluster] not in first.segment_names_.values()


def test_rfm_grid_scores_and_names():
    n = 100
    features = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n + 1)],
            "recency_days": [*np.arange(n), 0],
            "frequency": [*np.arange(n, 0, -1), 0],  # the most recent also buy most often
            "monetary": [*np.linspace(1000, 10, n), 0.0],
        }
    )
    rfm = segmentation.rfm_segments(features)
    assert rfm["rfm_segment"].iloc[0] == "Champions"  # most recent, most frequent
    assert rfm["rfm_segment"].iloc[n - 1] == "Hibernating"  # least recent, least frequent
    assert rfm["rfm_segment"].iloc[n] == segmentation.PROSPECTS
    assert pd.isna(rfm["rfm_recency"].iloc[n])
    assert rfm["rfm_recency"].iloc[:n].value_counts().to_dict() == {s: 20 for s in range(1, 6)}
    # Ties share a score: everyone with one order is in the same frequency quintile.
    tied = segmentation.rfm_segments(features.assign(frequency=[*([1] * 60), *([5] * 40), 0]))
    assert tied["rfm_frequency"].iloc[:60].nunique() == 1


def test_name_segments_gives_each_cluster_one_distinct_name():
    profiles = pd.DataFrame(
        np.random.default_rng(1).normal(size=(12, 3)),
        columns=["recency_days", "monetary", "discount_share"],
    )
    names = segmentation.name_segments(profiles)
    assert len(set(names.values())) == 12


def _churn_frame(n_per_cutoff: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Three cutoffs; churn depends on browsing far more than on recency, frequency or spend."""
    rng = np.random.default_rng(seed)
    cutoffs = pd.to_datetime(["2025-10-01", "2026-01-01", "2026-04-01"])
    n = n_per_cutoff * len(cutoffs)
    frame = pd.DataFrame(
        {
            "customer_id": np.tile(np.arange(n_per_cutoff), len(cutoffs)).astype(str),
            "as_of_date": np.repeat(cutoffs, n_per_cutoff),
            "recency_days": rng.integers(0, 365, n),
            "frequency": rng.integers(1, 20, n),
            "monetary": rng.lognormal(5, 1, n),
            "sessions_30d": rng.poisson(2, n),
        }
    )
    logit = -2.5 * (frame["sessions_30d"] > 1) + 0.004 * frame["recency_days"]
    frame["churned"] = rng.random(n) < 1 / (1 + np.exp(-logit))
    return frame


def test_churn_backtest_beats_both_baselines_with_calibrated_probabilities():
    frame = _churn_frame()
    result = churn.train_churn_model(frame)
    assert result.holdout_cutoff == "2026-04-01"
    assert result.train_cutoffs == ["2025-10-01", "2026-01-01"]
    # Two rolling folds (train on 1 cutoff -> test the 2nd; train on 2 -> test the 3rd), 3 models.
    assert sorted(result.backtest["cutoff"].unique()) == ["2026-01-01", "2026-04-01"]
    assert len(result.backtest) == 6
    assert result.chosen == churn.MODEL
    ours = result.metrics[churn.MODEL]
    for baseline in churn.BASELINES:
        assert ours["roc_auc"] > result.metrics[baseline]["roc_auc"] + 0.05
        assert ours["pr_auc"] > result.metrics[baseline]["pr_auc"]
        assert ours["brier"] < result.metrics[baseline]["brier"]
    assert ours["lift_top_decile"] > 1.3
    # Calibrated: the mean predicted probability matches the observed churn rate.
    probability = result.holdout[churn.MODEL]
    assert abs(probability.mean() - result.holdout["churned"].mean()) < 0.03
    assert list(result.importance)[0] == "sessions_30d"

    scores = churn.score_churn(result.model, frame[frame["as_of_date"] == "2026-04-01"])
    assert scores["churn_probability"].between(0, 1).all()
    # Customers who barely browse are at risk mostly because of it, and the reason says so.
    # Reasons are given for the high and medium tiers only (the customers someone acts on).
    at_risk = scores["risk_tier"] != "low"
    assert at_risk.mean() == pytest.approx(0.3, abs=0.01)
    assert scores.loc[at_risk, "reason_1"].notna().all()
    assert scores.loc[~at_risk, ["reason_1", "reason_2", "reason_3"]].isna().all().all()
    quiet = scores[
        (frame.loc[frame["as_of_date"] == "2026-04-01", "sessions_30d"].to_numpy() == 0) & at_risk
    ]
    assert len(quiet) > 50
    assert quiet["reason_1"].str.startswith("sessions_30d = 0").mean() > 0.8
    with pytest.raises(ValueError, match="two labelled cutoffs"):
        churn.train_churn_model(frame[frame["as_of_date"] == frame["as_of_date"].min()])


def test_churn_fits_on_a_bounded_sample_and_still_scores_every_held_out_row():
    """Beyond max_train_rows every fit sees a fixed sample (the same rows whatever their order);
    the holdout is scored in full, and the signal is still found."""
    frame = _churn_frame(n_per_cutoff=3000)
    sample = bounded_sample(frame, 1000)
    shuffled = bounded_sample(frame.sample(frac=1, random_state=1), 1000)
    assert len(sample) == 1000 and sample.index.is_monotonic_increasing
    assert set(sample.index) == set(shuffled.index)
    assert bounded_sample(frame, len(frame)) is frame
    assert bounded_sample(frame, None) is frame

    result = churn.train_churn_model(frame, max_train_rows=1500)
    assert result.train_rows == 1500 and result.train_rows_available == 6000
    assert (result.backtest["train_rows"] <= 1500).all()
    assert result.holdout_rows == 3000 and len(result.holdout) == 3000
    full = churn.train_churn_model(frame, max_train_rows=None)
    assert full.train_rows == full.train_rows_available == 6000
    sampled_auc = result.metrics[churn.MODEL]["roc_auc"]
    assert sampled_auc > result.metrics[churn.RFM_BASELINE]["roc_auc"] + 0.05
    assert abs(sampled_auc - full.metrics[churn.MODEL]["roc_auc"]) < 0.03


def test_churn_without_signal_does_not_beat_the_rfm_baseline_by_luck():
    """Labels unrelated to any feature: the gate must not see a model worth promoting."""
    frame = _churn_frame(seed=1)
    frame["churned"] = np.random.default_rng(2).random(len(frame)) < 0.5
    result = churn.train_churn_model(frame)
    ours = result.metrics[churn.MODEL]
    assert abs(ours["roc_auc"] - 0.5) < 0.05
    assert ours["lift_top_decile"] < 1.2


def test_churn_ships_the_rfm_baseline_where_boosting_cannot_beat_it():
    """Churn driven by recency, frequency and spend alone, smoothly: logistic RFM is the right
    model, and boosting on few rows does not beat it; the RFM model is chosen and scores."""
    frame = _churn_frame(n_per_cutoff=600, seed=4)
    logit = 0.01 * frame["recency_days"] - 0.15 * frame["frequency"] - 0.5
    frame["churned"] = np.random.default_rng(5).random(len(frame)) < 1 / (1 + np.exp(-logit))
    result = churn.train_churn_model(frame)
    assert result.chosen in churn.BASELINES
    assert result.model.features in (["recency_days"], list(churn.RFM_FEATURES))
    scores = churn.score_churn(result.model, frame[frame["as_of_date"] == "2026-04-01"])
    assert scores["reason_1"].str.match(r"(recency_days|frequency|monetary) = ").any()


@pytest.mark.parametrize("n_per_cutoff", [3, 12, 40, 150])
def test_churn_trains_or_says_why_on_a_handful_of_customers(n_per_cutoff):
    """A small shop: churn fits (uncalibrated where too few rows) and scores probabilities, or
    raises CannotTrain with its reason; never another error."""
    frame = _churn_frame(n_per_cutoff=n_per_cutoff, seed=n_per_cutoff)
    try:
        result = churn.train_churn_model(frame)
    except CannotTrain as error:
        assert "churners and stayers" in str(error)
        return
    latest = frame[frame["as_of_date"] == frame["as_of_date"].max()]
    scores = churn.score_churn(result.model, latest)
    assert len(scores) == len(latest) and scores["churn_probability"].between(0, 1).all()


def test_a_fold_without_both_outcomes_is_left_out_of_the_backtest():
    frame = _churn_frame(n_per_cutoff=300)
    frame.loc[frame["as_of_date"] == "2026-04-01", "churned"] = False  # nobody churned
    result = churn.train_churn_model(frame)
    assert result.holdout_cutoff == "2026-01-01"
    assert result.train_cutoffs == ["2025-10-01"]
    assert set(result.backtest["cutoff"]) == {"2026-01-01"}


def test_churn_without_any_usable_fold_cannot_train():
    frame = _churn_frame(n_per_cutoff=100)
    frame["churned"] = frame["as_of_date"] == "2025-10-01"  # one outcome per cutoff
    with pytest.raises(CannotTrain, match="churners and stayers"):
        churn.train_churn_model(frame)


def test_calibration_needs_enough_rows_of_each_outcome():
    X = pd.DataFrame({"x": np.arange(60, dtype=float)})
    y = (np.arange(60) % 3 == 0).astype(int)
    few = churn.CalibratedBooster().fit(X, y)
    assert few.calibration_.startswith("none: 20 rows of the rarer outcome")
    assert few.predict_proba(X).shape == (60, 2)
    X = pd.DataFrame({"x": np.arange(1000, dtype=float)})
    y = (np.arange(1000) % 2).astype(int)
    assert churn.CalibratedBooster().fit(X, y).calibration_.startswith("isotonic")


def test_risk_tiers_are_shares_of_buyers_by_rank():
    probability = np.array([0.9, 0.6, 0.45, 0.1, 0.95, 0.7, 0.8, 0.3, 0.2, 0.5])
    tiers = churn.risk_tier(probability, high_share=0.2, medium_share=0.3)
    assert list(tiers[np.argsort(-probability)]) == ["high"] * 2 + ["medium"] * 3 + ["low"] * 5
    # A shop where almost everyone churns: fixed bounds would call everyone "high".
    rng = np.random.default_rng(0)
    counts = pd.Series(churn.risk_tier(rng.uniform(0.85, 0.99, 1000), 0.1, 0.2)).value_counts()
    assert counts.to_dict() == {"low": 700, "medium": 200, "high": 100}
    # Ties (calibrated probabilities are steps) are ordered by the tie-break, then position.
    tied = churn.risk_tier(np.array([0.5, 0.5, 0.5, 0.1]), 0.25, 0.25, np.array([3, 9, 5, 1]))
    assert list(tied) == ["low", "high", "medium", "low"]
    assert list(churn.risk_tier(np.array([0.5, 0.5, 0.5, 0.5]), 0.25, 0.25)) == [
        "high",
        "medium",
        "low",
        "low",
    ]
    with pytest.raises(ValueError, match="sum to at most 1"):
        churn.risk_tier(probability, 0.8, 0.3)


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
    model = recommenders.ItemKNNRecommender(filter_already_bought=True).fit(_interactions())
    recs = model.recommend(["cust_new", "stranger"], n=3)
    new = recs[recs["customer_id"] == "cust_new"]
    assert new.iloc[0]["product_id"] == "B" and new.iloc[0]["model"] == recommenders.ITEM_KNN
    assert "A" not in set(new["product_id"])  # already bought
    stranger = recs[recs["customer_id"] == "stranger"]
    assert list(stranger["rank"]) == [1, 2, 3]
    assert set(stranger["model"]) == {recommenders.POPULARITY}
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
    result = recommend.evaluate_candidates(data, k=2)
    assert set(result) == set(recommenders.CANDIDATES)
    assert all(metrics["customers_evaluated"] == 1 for metrics in result.values())


def test_btyd_features_carry_who_is_still_a_customer():
    rng = np.random.default_rng(5)
    shop = simulate_mbgnbd(4000, 0.3, 30.0, 0.9, 3.0, rng.uniform(60, 540, 4000), rng, 90)
    X = pd.DataFrame(
        {
            "frequency": shop["frequency"] + 1,
            "recency_days": np.floor(shop["T"] - shop["recency"]),
            "days_since_first_order": np.floor(shop["T"]),
        }
    )
    features = churn.BTYDFeatures(horizon_days=90).fit(X)
    added = features.transform(X)
    assert features.fitted_.startswith("MBG/NBD on 4,000 rows")
    assert added["btyd_p_alive"].between(0, 1).all()
    # One-order customers are not all "alive": the feature separates who buys again.
    stays = shop["future_purchases"].to_numpy() > 0
    assert roc_auc_score(stays, added["btyd_p_alive"]) > 0.7
    assert roc_auc_score(stays, added["btyd_expected_orders"]) > 0.75
    # Nothing to fit (no repeat buyer) or no input column: the features are left out, not NaN.
    once = X.assign(frequency=1, recency_days=X["days_since_first_order"])
    nothing = churn.BTYDFeatures().fit(once)
    assert nothing.fitted_.startswith("none") and list(nothing.transform(once)) == list(once)
    partial = X.drop(columns="days_since_first_order")
    assert churn.BTYDFeatures().fit(partial).fitted_ == "none: no column days_since_first_order"
