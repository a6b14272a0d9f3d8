"""Recommender candidates, their shared ranking and fallback, and selection by holdout NDCG.

Small synthetic interaction tables with known structure (seconds in all), plus one timing run
of every candidate on a random 30,000 customers x 800 products table.
"""

import joblib
import numpy as np
import pandas as pd
import pytest

from ml import recommend, recommenders
from ml.metrics import catalogue_coverage
from ml.sampling import customer_sample

COLUMNS = ["customer_id", "product_id", "purchases", "add_to_carts", "views"]
LEARNED = [recommenders.ITEM_KNN, recommenders.TIFU_KNN, recommenders.EASE, recommenders.ALS]


def _structured(n_customers: int = 400, seed: int = 0) -> pd.DataFrame:
    """Known structure, in full-history columns.

    * pairs: every even customer buys A{i} together with B{i} (i = customer % 5);
    * staples: every third customer buys S{c % 4} 3-5 times and S{(c + 1) % 4} once;
    * P, bought by ~70% of customers, is by far the most popular product;
    * T00-T29 are only viewed (two random ones per customer).
    Plus "half_a0" who bought only A0 and "half_b3" who bought only B3.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_customers):
        customer = f"c{c:04d}"
        if c % 2 == 0:
            rows += [(customer, f"A{c % 5}", 1, 0, 1), (customer, f"B{c % 5}", 1, 1, 1)]
        if c % 3 == 0:
            rows.append((customer, f"S{c % 4}", int(rng.integers(3, 6)), 0, 0))
            rows.append((customer, f"S{(c + 1) % 4}", 1, 0, 0))
        if rng.random() < 0.7:
            rows.append((customer, "P", 1, 0, 0))
        rows += [(customer, f"T{t:02d}", 0, 0, 1) for t in rng.choice(30, 2, replace=False)]
    rows += [("half_a0", "A0", 1, 0, 0), ("half_b3", "B3", 1, 0, 0)]
    return pd.DataFrame(rows, columns=COLUMNS)


def _first(recs: pd.DataFrame, customer: str) -> pd.Series:
    rows = recs[recs["customer_id"] == customer].sort_values("rank")
    return rows.iloc[0]


@pytest.fixture(scope="module")
def structured() -> pd.DataFrame:
    return _structured()


@pytest.mark.parametrize("name", LEARNED)
def test_learned_models_recommend_the_co_bought_partner_first(structured, name):
    model = recommenders.build_recommender(name, filter_already_bought=True).fit(structured)
    recs = model.recommend(["half_a0", "half_b3"], n=5)
    for customer, partner in [("half_a0", "B0"), ("half_b3", "A3")]:
        first = _first(recs, customer)
        assert first["product_id"] == partner, (name, customer, recs)
        assert first["model"] == name and first["score"] > 0


def test_ease_ignores_the_customers_own_product_even_without_filtering(structured):
    recs = (
        recommenders.build_recommender(recommenders.EASE).fit(structured).recommend(["half_a0"], 3)
    )
    assert recs.iloc[0]["product_id"] == "B0"  # zero diagonal: A0 does not recommend itself


def test_repeat_ranks_own_purchases_by_count_then_popularity(structured):
    model = recommenders.build_recommender(recommenders.REPEAT).fit(structured)
    recs = model.recommend(["c0003", "half_a0"], n=6)
    c3 = recs[recs["customer_id"] == "c0003"]
    bought = structured[(structured["customer_id"] == "c0003") & (structured["purchases"] > 0)]
    assert c3.iloc[0]["product_id"] == "S3"  # bought 3-5 times; S0 (and maybe P) once
    own = c3[c3["model"] == recommenders.REPEAT]
    assert set(own["product_id"]) == set(bought["product_id"])
    assert own["score"].is_monotonic_decreasing
    fallback = c3[c3["model"] == recommenders.POPULARITY]
    assert (fallback["score"] == 0).all() and fallback["rank"].min() == len(own) + 1
    assert list(recs[recs["customer_id"] == "half_a0"]["product_id"].iloc[:2]) == ["A0", "P"]


def test_popularity_is_the_same_list_for_everyone(structured):
    model = recommenders.build_recommender(recommenders.POPULARITY).fit(structured)
    recs = model.recommend(["c0000", "c0003", "half_a0", "stranger"], n=4)
    lists = recs.groupby("customer_id")["product_id"].agg(tuple)
    assert lists.nunique() == 1 and lists.iloc[0][0] == "P"
    assert set(recs["model"]) == {recommenders.POPULARITY}


@pytest.mark.parametrize("name", list(recommenders.CANDIDATES))
def test_filter_already_bought_removes_bought_products(structured, name):
    customers = ["c0000", "c0003", "c0006", "half_a0", "half_b3"]
    bought = set(
        structured.loc[structured["purchases"] > 0, ["customer_id", "product_id"]].itertuples(
            index=False, name=None
        )
    )
    kept = recommenders.build_recommender(name).fit(structured).recommend(customers, 8)
    filtered = recommenders.build_recommender(name, True).fit(structured).recommend(customers, 8)
    pairs = set(filtered[["customer_id", "product_id"]].itertuples(index=False, name=None))
    assert not pairs & bought
    if name != recommenders.POPULARITY:  # popularity's top 8 need not hold what these bought
        assert set(kept[["customer_id", "product_id"]].itertuples(index=False, name=None)) & bought
    for frame in (kept, filtered):
        assert (frame.groupby("customer_id").size() == 8).all()
        ranks = frame.groupby("customer_id")["rank"].agg(list).tolist()
        assert ranks == [list(range(1, 9))] * len(customers)


@pytest.mark.parametrize("name", list(recommenders.CANDIDATES))
def test_cold_start_customers_get_popularity(structured, name):
    model = recommenders.build_recommender(name).fit(structured)
    recs = model.recommend(["stranger", "c0000", "another"], n=3)
    assert list(recs.columns) == ["customer_id", "rank", "product_id", "score", "model"]
    for customer in ("stranger", "another"):
        cold = recs[recs["customer_id"] == customer]
        assert list(cold["rank"]) == [1, 2, 3]
        assert set(cold["model"]) == {recommenders.POPULARITY}
        assert list(cold["product_id"]) == list(model.popularity_.index[:3])
        assert cold.iloc[0]["product_id"] == "P"
    assert set(recs[recs["customer_id"] == "c0000"]["model"]) <= {name, recommenders.POPULARITY}


@pytest.mark.parametrize("name", list(recommenders.CANDIDATES))
def test_same_input_gives_same_recommendations(structured, name):
    customers = [f"c{c:04d}" for c in range(0, 400, 7)] + ["half_a0", "stranger"]
    first = recommenders.build_recommender(name).fit(structured).recommend(customers, 6)
    shuffled = structured.sample(frac=1.0, random_state=1)
    second = recommenders.build_recommender(name).fit(shuffled).recommend(customers, 6)
    pd.testing.assert_frame_equal(first, second)


@pytest.mark.parametrize("name", list(recommenders.CANDIDATES))
def test_a_customers_recommendations_do_not_depend_on_who_else_is_scored(structured, name):
    """What lets a refresh score only the new customers while the version is unchanged
    (RecommenderModel.scores_fixed_per_customer)."""
    model = recommenders.build_recommender(name).fit(structured)
    everyone = [f"c{c:04d}" for c in range(400)] + ["half_a0", "half_b3", "stranger"]
    some = ["c0003", "half_b3", "stranger", "c0398"]
    together = model.recommend(everyone, 6)
    together = together[together["customer_id"].isin(some)]
    alone = model.recommend(some, 6)
    key = ["customer_id", "rank"]
    pd.testing.assert_frame_equal(
        together.sort_values(key).reset_index(drop=True),
        alone.sort_values(key).reset_index(drop=True),
    )


@pytest.mark.parametrize("name", list(recommenders.CANDIDATES))
def test_a_saved_model_recommends_the_same(structured, name, tmp_path):
    model = recommenders.build_recommender(name).fit(structured)
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    customers = ["c0000", "c0003", "half_a0", "stranger"]
    pd.testing.assert_frame_equal(model.recommend(customers, 5), loaded.recommend(customers, 5))


def test_ease_refuses_a_huge_catalogue(structured):
    with pytest.raises(recommenders.CatalogueTooLargeError, match="max_products"):
        recommenders.EASERecommender(max_products=10).fit(structured)


def test_build_recommender_knows_every_candidate():
    for name, cls in recommenders.CANDIDATES.items():
        model = recommenders.build_recommender(name, filter_already_bought=True)
        assert type(model) is cls and model.name == name and model.filter_already_bought
    with pytest.raises(ValueError, match="Unknown recommender"):
        recommenders.build_recommender("deep_learning")


# --- tifu_knn: time-decayed own purchases and similar customers' ---------------------------------

TIFU_COLUMNS = [*COLUMNS, "decayed_purchases"]


def _tifu_shop() -> pd.DataFrame:
    """Hand-made, with known TIFU-kNN scores.

    * "regular" bought X once, recently (decayed 1.0), and Y three times long ago (0.05 in all);
    * n1-n5 bought A, B and Z; "target" bought A and B, never Z;
    * o1-o6 bought C and D (more popular than Z, unrelated to target);
    * "browser" only viewed A.
    """
    rows = [("regular", "X", 1, 0, 0, 1.0), ("regular", "Y", 3, 0, 0, 0.05)]
    for n in range(1, 6):
        rows += [(f"n{n}", product, 1, 0, 0, 1.0) for product in "ABZ"]
    rows += [("target", "A", 1, 0, 0, 1.0), ("target", "B", 1, 0, 0, 1.0)]
    for o in range(1, 7):
        rows += [(f"o{o}", product, 1, 0, 0, 1.0) for product in "CD"]
    rows.append(("browser", "A", 0, 0, 1, 0.0))
    return pd.DataFrame(rows, columns=TIFU_COLUMNS)


def _ranked(recs: pd.DataFrame, customer: str) -> list:
    return list(recs[recs["customer_id"] == customer].sort_values("rank")["product_id"])


def test_tifu_knn_ranks_a_recent_purchase_above_frequent_old_ones():
    shop = _tifu_shop()
    recs = recommenders.TIFUKNNRecommender().fit(shop).recommend(["regular"], 2)
    assert _ranked(recs, "regular") == ["X", "Y"]  # no neighbour: only X and Y, own vector
    assert set(recs["model"]) == {recommenders.TIFU_KNN}
    # Without the decayed column it falls back to purchase counts: Y (3 orders) first.
    plain = recommenders.TIFUKNNRecommender().fit(shop.drop(columns="decayed_purchases"))
    assert _ranked(plain.recommend(["regular"], 2), "regular") == ["Y", "X"]
    assert plain.decayed_.toarray().tolist() == plain.purchases_.toarray().tolist()


def test_tifu_knn_recommends_what_the_neighbours_buy():
    model = recommenders.TIFUKNNRecommender(n_neighbors=50, alpha=0.7).fit(_tifu_shop())
    assert model.n_neighbors_ == 12  # 13 customers with purchases (not browser), minus self
    target = model.customers_.get_loc("target")
    neighbours = model.customers_[model.neighbours_[target].indices]
    assert sorted(neighbours) == [f"n{n}" for n in range(1, 6)]  # o*: nothing in common
    recs = model.recommend(["target"], 4)
    assert _ranked(recs, "target")[:3] in (["A", "B", "Z"], ["B", "A", "Z"])
    scores = recs.set_index("product_id")["score"]
    # own (A, B) / sqrt(2) weighted 0.7; the neighbours' mean (A, B, Z) / sqrt(3) weighted 0.3
    assert scores["Z"] == pytest.approx(0.3 / np.sqrt(3), rel=1e-5)
    assert scores["A"] == pytest.approx(0.7 / np.sqrt(2) + 0.3 / np.sqrt(3), rel=1e-5)
    assert recs.iloc[3]["model"] == recommenders.POPULARITY  # the top-up
    filtered = recommenders.TIFUKNNRecommender(filter_already_bought=True).fit(_tifu_shop())
    first = _first(filtered.recommend(["target"], 3), "target")
    assert first["product_id"] == "Z" and first["model"] == recommenders.TIFU_KNN
    # With alpha = 1 only the own vector counts: Z is not scored, popularity tops up.
    own_only = recommenders.TIFUKNNRecommender(alpha=1.0).fit(_tifu_shop())
    recs = own_only.recommend(["target"], 3)
    assert list(recs["model"]) == [recommenders.TIFU_KNN] * 2 + [recommenders.POPULARITY]
    assert recs.iloc[2]["product_id"] in ("C", "D")  # the most popular, not Z


def test_tifu_knn_customers_without_purchases_get_popularity():
    model = recommenders.TIFUKNNRecommender().fit(_tifu_shop())
    assert "browser" in model.customers_  # known (a view) but no purchase
    recs = model.recommend(["browser", "stranger"], 3)
    assert set(recs["model"]) == {recommenders.POPULARITY}
    assert (
        _ranked(recs, "browser") == _ranked(recs, "stranger") == list(model.popularity_.index[:3])
    )
    browser = model.customers_.get_loc("browser")
    assert model.neighbours_[browser].nnz == 0 and model.neighbours_[:, browser].nnz == 0


def test_tifu_knn_on_degenerate_frames():
    one = pd.DataFrame([("only", "X", 2, 0, 0, 0.5)], columns=TIFU_COLUMNS)
    model = recommenders.TIFUKNNRecommender().fit(one)
    assert model.n_neighbors_ == 0
    recs = model.recommend(["only", "stranger"], 5)
    assert list(recs["product_id"]) == ["X", "X"]
    assert list(recs["model"]) == [recommenders.TIFU_KNN, recommenders.POPULARITY]
    two = pd.DataFrame([("a", "X", 1, 0, 0, 1.0), ("b", "X", 1, 0, 0, 0.2)], columns=TIFU_COLUMNS)
    model = recommenders.TIFUKNNRecommender(n_neighbors=50).fit(two)
    assert model.n_neighbors_ == 1
    assert model.neighbours_.toarray().tolist() == [[0.0, 1.0], [1.0, 0.0]]
    recs = model.recommend(["a", "b"], 3)
    assert list(recs["product_id"]) == ["X", "X"] and set(recs["model"]) == {"tifu_knn"}
    only_views = pd.DataFrame(
        [("a", "X", 0, 0, 3, 0.0), ("b", "Y", 0, 1, 0, 0.0)], columns=TIFU_COLUMNS
    )
    recs = recommenders.TIFUKNNRecommender().fit(only_views).recommend(["a", "b"], 2)
    assert set(recs["model"]) == {recommenders.POPULARITY} and len(recs) == 4
    with pytest.raises(ValueError, match="alpha"):
        recommenders.TIFUKNNRecommender(alpha=1.5).fit(one)
    with pytest.raises(ValueError, match="n_neighbors"):
        recommenders.TIFUKNNRecommender(n_neighbors=-1).fit(one)
    with pytest.raises(ValueError, match="neighbour_pool"):
        recommenders.TIFUKNNRecommender(neighbour_pool=1).fit(one)


@pytest.mark.parametrize(
    ("n_neighbors", "pool"), [(1, None), (20, None), (3_000, None), (20, 700), (3_000, 700)]
)
def test_tifu_knn_finds_the_most_similar_customers(n_neighbors, pool):
    # 2,600 customers: more than the columns _nearest samples for its bound (2,048), and chunks
    # of several customers. The neighbours must be the exact top n by cosine similarity among
    # the customers of the neighbour pool (all of them without one).
    rng = np.random.default_rng(3)
    n_customers, n_products = 2_600, 120
    customers = rng.integers(0, n_customers, 12_000)
    products = rng.zipf(1.3, len(customers)) % n_products
    data = pd.DataFrame({"customer_id": customers, "product_id": products})
    data = data.drop_duplicates(ignore_index=True)
    data["purchases"], data["add_to_carts"], data["views"] = 1, 0, 0
    data["decayed_purchases"] = rng.uniform(0.01, 1.0, len(data)).round(2)
    model = recommenders.TIFUKNNRecommender(n_neighbors=n_neighbors, neighbour_pool=pool)
    model.fit(data)
    vectors = model.vectors_.toarray().astype(np.float64)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    assert len(model.pool_) == (pool or model.customers_.size)
    outside = np.setdiff1d(np.arange(model.customers_.size), model.pool_)
    similarity[:, outside] = -np.inf  # neighbours come from the pool only
    k = model.n_neighbors_
    assert k == min(n_neighbors, len(model.pool_) - 1)
    for row in rng.choice(model.customers_.size, 300, replace=False):
        found = model.neighbours_[row].indices
        assert np.isin(found, model.pool_).all(), row
        best = np.sort(similarity[row])[::-1][:k]
        best = best[best > 0]
        assert len(found) == len(best), row
        assert np.allclose(np.sort(similarity[row, found])[::-1], best, atol=1e-5), row
        assert np.allclose(model.neighbours_[row].data, 1 / len(found))


# --- evaluation and selection ------------------------------------------------------------------


def _holdout_table() -> pd.DataFrame:
    """The structured shop split in time; full-history columns include the holdout.

    Before the holdout every fourth customer bought only A{i} of their pair; in the holdout they
    buy B{i}, staple customers buy their staple again, and everyone buys LEAK, a product that
    does not exist before the holdout (but is the most bought over the full history).
    "newcomer" has no history before the holdout.
    """
    data = _structured().rename(columns={c: f"{c}_before_holdout" for c in COLUMNS[2:]})
    data["purchases_in_holdout"] = 0
    number = data["customer_id"].str[1:].where(data["customer_id"].str.match(r"c\d+$"))
    number = pd.to_numeric(number)
    held = (number % 4 == 0) & data["product_id"].str.startswith("B")
    data.loc[held, "purchases_in_holdout"] = 1
    data.loc[held, ["purchases_before_holdout", "add_to_carts_before_holdout"]] = 0
    data.loc[held, "views_before_holdout"] = 0
    staple = (number % 3 == 0) & (data["purchases_before_holdout"] >= 3)
    data.loc[staple, "purchases_in_holdout"] = 1
    extra = [(f"c{c:04d}", "LEAK") for c in range(400)] + [("newcomer", "P")]
    data = pd.concat(
        [data, pd.DataFrame(extra, columns=["customer_id", "product_id"])], ignore_index=True
    ).fillna(0)
    new = (data["customer_id"] == "newcomer") | (data["product_id"] == "LEAK")
    data.loc[new, "purchases_in_holdout"] = 1
    for column in COLUMNS[2:]:
        data[column] = data[f"{column}_before_holdout"] + (
            data["purchases_in_holdout"] if column == "purchases" else 0
        )
    return data


@pytest.fixture(scope="module")
def holdout_table() -> pd.DataFrame:
    return _holdout_table()


@pytest.fixture(scope="module")
def evaluation(holdout_table) -> dict:
    return recommend.evaluate_candidates(holdout_table, k=5)


def test_evaluate_candidates_uses_only_pre_holdout_history(holdout_table, evaluation):
    train, truth = recommend.holdout_split(holdout_table)
    assert "newcomer" not in truth and "LEAK" not in set(train["product_id"])
    buyers = holdout_table.loc[holdout_table["purchases_in_holdout"] > 0, "customer_id"]
    assert len(truth) == buyers.nunique() - 1  # all holdout buyers but the newcomer
    assert set(evaluation) == set(recommenders.CANDIDATES)
    for name, result in evaluation.items():
        assert set(result) == {
            "recall_at_5",
            "ndcg_at_5",
            "coverage",
            "customers_evaluated",
            "fit_seconds",
        }
        assert result["customers_evaluated"] == len(truth), name
        assert 0 < result["ndcg_at_5"] < 1 and 0 < result["recall_at_5"] < 1, name
        assert result["fit_seconds"] >= 0
    # LEAK, the most bought product over the full history, must not leak into the evaluation:
    # popularity fitted on the full history would put it first for everyone.
    model = recommenders.build_recommender(recommenders.POPULARITY).fit(holdout_table)
    assert model.popularity_.index[0] == "LEAK"
    train_model = recommenders.build_recommender(recommenders.POPULARITY).fit(train)
    metrics = recommend.evaluate_fitted(train_model, truth, 5, train["product_id"].nunique())
    assert metrics["ndcg_at_5"] == pytest.approx(evaluation[recommenders.POPULARITY]["ndcg_at_5"])


def test_evaluate_candidates_hands_back_the_models_it_evaluated(holdout_table, evaluation):
    fitted: dict = {}
    again = recommend.evaluate_candidates(holdout_table, k=5, fitted=fitted)
    assert set(fitted) == set(again)
    _, truth = recommend.holdout_split(holdout_table)
    n_products = next(iter(fitted.values())).products_.size
    for name, model in fitted.items():
        assert "LEAK" not in set(model.products_), name  # fitted before the holdout
        metrics = recommend.evaluate_fitted(model, truth, 5, n_products)
        assert metrics["ndcg_at_5"] == pytest.approx(evaluation[name]["ndcg_at_5"]), name


def test_evaluate_candidates_fits_tifu_knn_on_the_decayed_counts_before_the_holdout(
    holdout_table,
):
    data = holdout_table.copy()
    data["decayed_purchases_before_holdout"] = 0.5 * data["purchases_before_holdout"]
    data["decayed_purchases"] = 7.0  # full history: must not reach the evaluation
    train, truth = recommend.holdout_split(data)
    assert (train["decayed_purchases"] == 0.5 * train["purchases"]).all()
    fitted: dict = {}
    names = [recommenders.POPULARITY, recommenders.TIFU_KNN]
    evaluation = recommend.evaluate_candidates(data, k=5, candidates=names, fitted=fitted)
    assert set(evaluation) == set(names)
    tifu = evaluation[recommenders.TIFU_KNN]
    assert tifu["customers_evaluated"] == len(truth)
    assert tifu["ndcg_at_5"] > evaluation[recommenders.POPULARITY]["ndcg_at_5"]
    model = fitted[recommenders.TIFU_KNN]
    assert np.allclose(model.decayed_.toarray(), 0.5 * model.purchases_.toarray())
    # The final fit reads the full-history column; tables without decayed columns still work.
    full = recommend.recommender_input(data, recommend.FULL_HISTORY)
    assert list(full.columns) == ["customer_id", "product_id", *recommend.FULL_HISTORY]
    assert (full["decayed_purchases"] == 7.0).all()
    old = recommend.recommender_input(holdout_table, recommend.FULL_HISTORY)
    assert "decayed_purchases" not in old and "purchases" in old


def test_learned_models_beat_popularity_and_one_is_selected(evaluation):
    popularity = evaluation[recommenders.POPULARITY]["ndcg_at_5"]
    for name in [recommenders.REPEAT, *LEARNED]:
        assert evaluation[name]["ndcg_at_5"] > popularity, (name, evaluation)
    assert recommend.select_candidate(evaluation, k=5) in LEARNED


def test_candidates_are_compared_on_a_bounded_sample_of_customers_and_the_winner_fits_all(
    holdout_table,
):
    """Beyond max_compared_customers the candidates are compared on a fixed sample of customers
    (every row of each; the same customers whatever the row order); the chosen one is then
    fitted on every customer, so the model in use is the one a comparison of all would give."""
    sample = customer_sample(holdout_table, 200)
    shuffled = customer_sample(holdout_table.sample(frac=1, random_state=1), 200)
    assert sample["customer_id"].nunique() == 200
    assert set(sample["customer_id"]) == set(shuffled["customer_id"])
    assert len(sample) == holdout_table["customer_id"].isin(sample["customer_id"]).sum()
    assert customer_sample(holdout_table, 403) is holdout_table
    assert customer_sample(holdout_table, None) is holdout_table

    frames = {
        "customer_product_interactions": holdout_table.assign(
            holdout_start_date=pd.Timestamp("2026-06-01")
        ),
        "customer_features": pd.DataFrame({"as_of_date": [pd.Timestamp("2026-06-30")]}),
    }
    results = {
        cap: recommend.fit_and_evaluate(
            frames, None, k=5, already_bought=True, first_day=None, max_compared_customers=cap
        )
        for cap in (200, None)
    }
    sampled, full = results[200], results[None]
    assert sampled.details["customers_compared"] == 200
    assert full.details["customers_compared"] == sampled.details["customers_fitted"] == 403
    assert sampled.details["customers_evaluated"] < full.details["customers_evaluated"]
    assert set(sampled.model["evaluation_model"].customers_) <= set(sample["customer_id"])
    assert sampled.details["chosen_model"] == full.details["chosen_model"]
    customers = holdout_table["customer_id"].unique()
    pd.testing.assert_frame_equal(
        sampled.model["model"].recommend(customers, 5), full.model["model"].recommend(customers, 5)
    )


def test_coverage_is_the_share_of_training_products_recommended(holdout_table, evaluation):
    train, _ = recommend.holdout_split(holdout_table)
    n_products = train["product_id"].nunique()
    assert evaluation[recommenders.POPULARITY]["coverage"] == pytest.approx(5 / n_products)
    recs = pd.DataFrame({"customer_id": [1, 1, 2, 2], "product_id": ["a", "b", "a", "c"]})
    assert catalogue_coverage(recs, 10) == pytest.approx(0.3)
    assert catalogue_coverage(recs.iloc[:0], 10) == 0.0
    with pytest.raises(ValueError):
        catalogue_coverage(recs, 0)


def _popularity_only(seed: int = 0, n_customers: int = 1500, n_products: int = 60) -> pd.DataFrame:
    """Every purchase, before and in the holdout, drawn independently from one Zipf law."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_products + 1) ** 1.1
    p /= p.sum()
    frames = []
    for column, per_customer in [("purchases_before_holdout", 4), ("purchases_in_holdout", 2)]:
        customers = np.repeat(np.arange(n_customers), per_customer)
        products = rng.choice(n_products, len(customers), p=p)
        frames.append(pd.DataFrame({"customer_id": customers, "product_id": products, column: 1}))
    data = pd.concat(frames).fillna(0).groupby(["customer_id", "product_id"], as_index=False).sum()
    data["add_to_carts_before_holdout"] = 0
    data["views_before_holdout"] = 0
    return data


def test_popularity_is_selected_when_there_is_nothing_else_to_learn():
    # With independent draws the popularity order is the best possible ranking; over 8 seeds
    # popularity beat the best other candidate (EASE) by 0.015-0.03 NDCG@5.
    evaluation = recommend.evaluate_candidates(_popularity_only(), k=5)
    assert recommend.select_candidate(evaluation, k=5) == recommenders.POPULARITY


def test_select_candidate_prefers_the_simpler_model_on_a_tie():
    evaluation = {
        recommenders.ALS: {"ndcg_at_10": 0.5},
        recommenders.EASE: {"ndcg_at_10": 0.5},
        recommenders.ITEM_KNN: {"ndcg_at_10": 0.5},
        recommenders.POPULARITY: {"ndcg_at_10": 0.2},
        recommenders.REPEAT: {"ndcg_at_10": float("nan")},
    }
    assert recommend.select_candidate(evaluation, k=10) == recommenders.ITEM_KNN
    evaluation[recommenders.ALS]["ndcg_at_10"] = 0.51
    assert recommend.select_candidate(evaluation, k=10) == recommenders.ALS
    with pytest.raises(ValueError):
        recommend.select_candidate({recommenders.REPEAT: {"ndcg_at_10": float("nan")}}, k=10)


def test_evaluating_given_candidates_matches_evaluating_them_by_name(holdout_table, evaluation):
    candidates = {
        recommenders.ITEM_KNN: recommenders.ItemKNNRecommender(),
        recommenders.POPULARITY: recommenders.PopularityRecommender(),
    }
    result = recommend.evaluate_candidates(holdout_table, 5, candidates=candidates)
    assert set(result) == {recommenders.ITEM_KNN, recommenders.POPULARITY}
    for name in result:
        assert result[name]["ndcg_at_5"] == pytest.approx(evaluation[name]["ndcg_at_5"])
