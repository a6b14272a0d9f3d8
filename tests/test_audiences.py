"""Audiences, control groups, the retention list and the activation tables built by dbt in
`scores` (models/activation): their behaviour on the session's shop, recomputed here from the
tables they read."""

import hashlib
import math

import pandas as pd
import pytest

from orchestration.defs.activation import coverage_verdict
from orchestration.settings import get_settings

AUDIENCES = [
    "repurchase_promotion",
    "personalised_recommendations",
    "brand_exposure",
    "retention_care",
    "win_back",
]


def _settings():
    return get_settings().config.models


def _frame(warehouse, sql: str) -> pd.DataFrame:
    return warehouse.execute(sql).df()


def python_in_control_group(audience: str, customer_id: str, share: float) -> bool:
    """The macro in_control_group, computed independently: MD5 of '<audience>:<customer_id>',
    its first 15 hex digits as a number, modulo 10,000, below share x 10,000."""
    digest = hashlib.md5(f"{audience}:{customer_id}".encode()).hexdigest()
    return int(digest[:15], 16) % 10000 < share * 10000


@pytest.fixture(scope="module")
def audiences(warehouse):
    return _frame(warehouse, "select * from scores.audiences")


@pytest.fixture(scope="module")
def features(warehouse):
    return _frame(warehouse, "select * from marts.customer_features")


def test_audiences_columns_are_the_contract(warehouse):
    columns = warehouse.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'scores' and table_name = 'audiences' order by ordinal_position"
    ).fetchall()
    assert columns == [
        ("customer_id", "VARCHAR"),
        ("audience", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("suggested_action", "VARCHAR"),
        ("priority", "INTEGER"),
        ("in_control_group", "BOOLEAN"),
        ("as_of_date", "DATE"),
    ]


def test_every_seed_audience_has_members_with_a_priority_order(audiences):
    assert not audiences.duplicated(["customer_id", "audience"]).any()
    for audience in AUDIENCES:
        members = audiences[audiences.audience == audience]
        if audience == "brand_exposure" and members.empty:
            pytest.skip("no positive reviewers in this shop's reviews")
        assert len(members) > 0, audience
        # priorities are exactly 1..n within an audience
        assert sorted(members.priority) == list(range(1, len(members) + 1)), audience
        assert members.reason.str.len().min() > 10


def test_retention_care_is_exactly_the_high_risk_tier(warehouse, audiences):
    churn = _frame(
        warehouse, "select customer_id, risk_tier, churn_probability from scores.churn_scores"
    )
    value = _frame(warehouse, "select customer_id, expected_revenue from scores.customer_value")
    members = audiences[audiences.audience == "retention_care"].merge(churn, on="customer_id")
    assert (members.risk_tier == "high").all()
    assert set(members.customer_id) == set(churn.customer_id[churn.risk_tier == "high"])
    # ranked by value at risk: the priority order follows churn probability x expected revenue
    members = members.merge(value, on="customer_id", how="left").sort_values("priority")
    at_risk = (members.churn_probability * members.expected_revenue.fillna(0)).to_numpy()
    assert (at_risk[:-1] >= at_risk[1:] - 1e-9).all()


def test_win_back_members_are_lapsed_and_valuable(audiences, features):
    horizon = _settings().churn_horizon_days
    buyers = features[features.frequency > 0]
    threshold = buyers.monetary.quantile(0.75)  # quantile_cont = linear interpolation
    expected = buyers[(buyers.recency_days > horizon) & (buyers.monetary >= threshold)]
    members = audiences[audiences.audience == "win_back"].merge(features, on="customer_id")
    assert len(members) > 0
    assert (members.recency_days > horizon).all()
    assert set(members.customer_id) == set(expected.customer_id)
    top = members.sort_values("priority").iloc[0]
    assert top.monetary == members.monetary.max()
    assert f"no order for {top.recency_days} days" in top.reason


def test_repurchase_promotion_members_are_frequent_and_not_lapsed(audiences, features):
    members = audiences[audiences.audience == "repurchase_promotion"].merge(
        features, on="customer_id"
    )
    repeat = features[features.frequency >= 2]
    assert (members.frequency >= 2).all()
    assert (members.recency_days <= members.mean_days_between_orders).all()
    # the top 20% of repeat buyers by orders per year
    assert members.orders_per_year.min() >= repeat.orders_per_year.quantile(0.79)
    row = members.iloc[0]
    assert row.reason.startswith(f"ordered {row.frequency} times, every ")
    assert row.reason.endswith(f"last order {row.recency_days} days ago")


def test_personalised_recommendations_members_browse_but_rarely_buy(audiences, features):
    members = audiences[audiences.audience == "personalised_recommendations"].merge(
        features, on="customer_id"
    )
    assert (members.frequency <= 1).all()
    assert ((members.sessions_90d >= 8) | (members.product_views_90d >= 25)).all()
    ordered = members.sort_values("priority")
    assert ordered.product_views_90d.is_monotonic_decreasing


def test_brand_exposure_members_are_positive_reviewers(audiences, features):
    if "review_count" not in features:
        pytest.skip("customer_features has no review columns yet")
    members = audiences[audiences.audience == "brand_exposure"].merge(features, on="customer_id")
    expected = features[(features.review_count >= 2) & (features.mean_rating >= 4.5)]
    assert set(members.customer_id) == set(expected.customer_id)


def test_control_share_per_audience_is_close_to_the_setting(audiences):
    share = _settings().control_group_share
    for audience, members in audiences.groupby("audience"):
        n = len(members)
        tolerance = 4 * math.sqrt(share * (1 - share) / n) + 1 / n  # about 4 standard errors
        assert abs(members.in_control_group.mean() - share) <= tolerance, (audience, n)
    assert abs(audiences.in_control_group.mean() - share) <= 4 * math.sqrt(
        share * (1 - share) / len(audiences)
    )


def test_control_membership_matches_an_independent_md5(warehouse, audiences):
    share = _settings().control_group_share
    expected = [
        python_in_control_group(a, c, share)
        for a, c in zip(audiences.audience, audiences.customer_id, strict=True)
    ]
    assert audiences.in_control_group.tolist() == expected
    listed = _frame(warehouse, "select customer_id, in_control_group from scores.retention_list")
    assert listed.in_control_group.tolist() == [
        python_in_control_group("retention_list", c, share) for c in listed.customer_id
    ]


def test_retention_list_ranks_by_value_at_risk(warehouse):
    listed = _frame(warehouse, "select * from scores.retention_list order by rank")
    scored = _frame(
        warehouse,
        "select c.customer_id, c.churn_probability, c.churn_probability * v.expected_revenue "
        "as value_at_risk from scores.churn_scores c join scores.customer_value v using "
        "(customer_id) where v.expected_revenue is not null",
    )
    size = min(_settings().retention_list_size, len(scored))
    assert listed["rank"].tolist() == list(range(1, size + 1))
    values = listed.value_at_risk.to_numpy()
    assert (values[:-1] >= values[1:]).all()
    assert listed.value_at_risk.sum() == pytest.approx(scored.value_at_risk.nlargest(size).sum())
    # as customer_360 computes it
    c360 = _frame(warehouse, "select customer_id, value_at_risk from scores.customer_360")
    joined = listed.merge(c360, on="customer_id", suffixes=("", "_360"))
    assert len(joined) == len(listed)
    assert (joined.value_at_risk - joined.value_at_risk_360).abs().max() < 1e-9
    by_probability = scored.sort_values(
        ["churn_probability", "customer_id"], ascending=[False, True]
    ).head(size)
    assert listed.value_at_risk.sum() >= by_probability.value_at_risk.sum() - 1e-6
    assert listed.churn_reason.notna().all() and listed.suggested_offer.notna().all()


def test_retention_coverage_row_and_its_check(warehouse, pipeline_run):
    row = _frame(warehouse, "select * from scores.retention_list_coverage").iloc[0].to_dict()
    assert row["list_size"] == min(row["configured_size"], row["customers_with_value_at_risk"])
    assert row["list_value_at_risk"] >= row["probability_list_value_at_risk"] - 1e-6
    assert row["coverage_ratio"] >= 1 - 1e-9
    assert 0 < row["list_share_of_total"] <= 1
    evaluations = [
        e
        for e in pipeline_run.get_asset_check_evaluations()
        if e.check_name == "retention_list_coverage"
    ]
    assert len(evaluations) == 1 and evaluations[0].passed
    assert evaluations[0].metadata["list_size"].value == row["list_size"]


def test_the_coverage_check_can_fail():
    good = {
        "configured_size": 500,
        "list_size": 500,
        "customers_with_value_at_risk": 3000,
        "list_value_at_risk": 900.0,
        "probability_list_value_at_risk": 700.0,
    }
    assert coverage_verdict(good)[0]
    assert coverage_verdict({**good, "customers_with_value_at_risk": 300, "list_size": 300})[0]
    short, why = coverage_verdict({**good, "list_size": 499})
    assert not short and "expected 500" in why
    worse, why = coverage_verdict({**good, "list_value_at_risk": 600.0})
    assert not worse and "churn probability alone" in why


def test_recommended_products_carry_the_product_and_its_reviews(warehouse):
    shown = _frame(warehouse, "select * from scores.recommended_products")
    recommendations = warehouse.execute("select count(*) from scores.recommendations").fetchone()[0]
    assert len(shown) == recommendations
    products = _frame(
        warehouse, "select product_id, product_name, price from intermediate.int_products"
    )
    joined = shown.merge(products, on="product_id", suffixes=("", "_catalogue"))
    assert (joined.product_name == joined.product_name_catalogue).all()
    reviews = _frame(
        warehouse,
        "select product_id, avg(rating) as mean_rating, count(*) as n from staging.stg_shop__reviews "
        "where rating is not null group by product_id",
    )
    reviewed = shown.merge(reviews, on="product_id", suffixes=("", "_expected"))
    assert (reviewed.review_count == reviewed.n).all()
    assert ((reviewed.mean_rating - reviewed.mean_rating_expected).abs() < 1e-9).all()
    assert (shown[~shown.product_id.isin(reviews.product_id)].review_count == 0).all()


def test_segments_say_what_to_do(warehouse, audiences):
    profiles = _frame(
        warehouse, "select * from scores.segment_profiles where segment_type = 'behavioural'"
    )
    segments = _frame(warehouse, "select customer_id, segment from scores.customer_segments")
    counts = (
        audiences.merge(segments, on="customer_id")
        .groupby(["segment", "audience"])
        .size()
        .reset_index(name="members")
        .sort_values(["segment", "members", "audience"], ascending=[True, False, True])
        .drop_duplicates("segment")
        .set_index("segment")
    )
    assert profiles.suggested_action.notna().all()
    for row in profiles.itertuples():
        if row.segment in counts.index:
            assert row.main_audience == counts.loc[row.segment, "audience"]
            assert row.main_audience_share == pytest.approx(
                counts.loc[row.segment, "members"] / row.customers
            )
        else:
            assert row.main_audience is None or pd.isna(row.main_audience)
