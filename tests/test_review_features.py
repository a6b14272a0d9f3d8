"""Reviews and searches as behaviour: the review features are computed point in time from the
raw reviews (recomputed here independently), and they carry the synthetic shop's hidden link
between unhappy reviews and later churn into the churn training rows."""

import numpy as np
import pandas as pd


def test_review_features_count_only_reviews_before_each_cutoff(warehouse):
    reviews = warehouse.execute(
        "select customer_id, cast(rating as integer) as rating, reviewed_at from raw.reviews"
    ).df()
    snapshots = warehouse.execute(
        "select s.customer_id, s.as_of_date, s.review_count, s.mean_rating, s.low_rating_share, "
        "s.days_since_last_review from marts.customer_feature_snapshots s "
        "where s.customer_id in (select customer_id from raw.reviews "
        "group by 1 having count(*) >= 2 order by 1 limit 300)"
    ).df()
    assert len(snapshots) > 300
    cutoffs = warehouse.execute(
        "select as_of_date, cutoff_at from intermediate.int_as_of_dates"
    ).df()
    merged = snapshots.merge(cutoffs, on="as_of_date").merge(reviews, on="customer_id", how="left")
    before = merged[merged["reviewed_at"] < merged["cutoff_at"]]
    expected = before.groupby(["customer_id", "as_of_date"]).agg(
        review_count=("rating", "size"),
        mean_rating=("rating", "mean"),
        low_rating_share=("rating", lambda r: (r <= 2).mean()),
        last_review=("reviewed_at", "max"),
    )
    got = snapshots.set_index(["customer_id", "as_of_date"])
    with_reviews = got[got["review_count"] > 0]
    assert set(with_reviews.index) == set(expected.index)
    assert (got.loc[~got.index.isin(expected.index), "mean_rating"].isna()).all()
    joined = with_reviews.join(expected, rsuffix="_expected")
    assert (joined["review_count"] == joined["review_count_expected"]).all()
    np.testing.assert_allclose(joined["mean_rating"], joined["mean_rating_expected"])
    np.testing.assert_allclose(joined["low_rating_share"], joined["low_rating_share_expected"])
    days = (
        pd.to_datetime(joined.index.get_level_values("as_of_date"))
        - joined["last_review"].dt.normalize()
    ).dt.days
    assert (joined["days_since_last_review"] == days.to_numpy()).all()


def test_unhappy_reviewers_churn_more_than_happy_ones(warehouse):
    rows = warehouse.execute(
        "select mean_rating, churned from ml_inputs.churn_training_set where review_count > 0"
    ).df()
    unhappy = rows[rows["mean_rating"] <= 3]["churned"]
    happy = rows[rows["mean_rating"] >= 4.5]["churned"]
    assert len(unhappy) > 100 and len(happy) > 100
    assert unhappy.mean() > happy.mean() + 0.05, (unhappy.mean(), happy.mean())
