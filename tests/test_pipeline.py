"""The whole graph materialized in-process on a small generated shop: every scored table checked."""

import pandas as pd
import pytest
from dagster import AssetKey

from orchestration.defs.exports import EXPORTED_TABLES
from orchestration.settings import get_settings


def test_run_succeeds_with_every_step(pipeline_run):
    failed = [e.step_key for e in pipeline_run.all_events if e.is_step_failure or e.is_step_skipped]
    assert pipeline_run.success, f"failed or skipped steps: {failed}"


def test_every_asset_check_passes(pipeline_run):
    evaluations = pipeline_run.get_asset_check_evaluations()
    names = {e.check_name for e in evaluations}
    assert {
        f"great_expectations_{s}"
        for s in ("raw_order_lines", "raw_web_events", "customer_features")
    } <= names
    assert any(not n.startswith("great_expectations") for n in names), (
        "dbt tests should be asset checks"
    )
    failed = [(e.asset_key.to_user_string(), e.check_name) for e in evaluations if not e.passed]
    assert not failed


def test_raw_tables_keep_every_landing_row(warehouse):
    config = get_settings().config
    for table in config.sources:
        files = config.source_files(table)
        expected = sum(pd.read_parquet(path).shape[0] for path in files)
        assert warehouse.execute(f"select count(*) from raw.{table}").fetchone()[0] == expected


def test_customer_segments_one_named_segment_per_customer(warehouse):
    customers = warehouse.execute("select count(*) from raw.customers").fetchone()[0]
    rows, distinct, unnamed = warehouse.execute(
        "select count(*), count(distinct customer_id), count(*) filter (where segment is null) "
        "from scores.customer_segments"
    ).fetchone()
    assert rows == distinct == customers
    assert unnamed == 0
    assert (
        warehouse.execute(
            "select count(distinct segment) from scores.customer_segments"
        ).fetchone()[0]
        >= 4
    )


def test_churn_scores_are_probabilities_for_every_buyer(warehouse):
    buyers = warehouse.execute(
        "select count(*) from marts.customer_features where frequency > 0"
    ).fetchone()[0]
    rows, low, high, tiers = warehouse.execute(
        "select count(*), min(churn_probability), max(churn_probability), "
        "list(distinct risk_tier order by risk_tier) from scores.churn_scores"
    ).fetchone()
    assert rows == buyers
    assert 0.0 <= low <= high <= 1.0
    assert set(tiers) <= {"high", "medium", "low"} and len(tiers) >= 2


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("churn_scores", "risk_tier", "churn_probability"),
        ("customer_360", "value_at_risk_tier", "value_at_risk"),
    ],
)
def test_risk_tiers_are_the_configured_shares_by_rank(warehouse, table, column, value):
    """10 % high and 20 % medium by default, ranked by what is at stake."""
    shares = dict(
        warehouse.execute(
            f"select {column}, count(*) / sum(count(*)) over () from scores.{table} "
            f"where {value} is not null group by 1"
        ).fetchall()
    )
    assert abs(shares["high"] - 0.1) < 0.001 and abs(shares["medium"] - 0.2) < 0.001
    lowest_high, highest_medium = warehouse.execute(
        f"select min({value}) filter (where {column} = 'high'), "
        f"max({value}) filter (where {column} = 'medium') from scores.{table}"
    ).fetchone()
    assert lowest_high >= highest_medium


def test_ten_distinct_recommendations_per_customer(warehouse):
    per_customer = warehouse.execute(
        "select customer_id, count(*) as n, count(distinct product_id) as products, "
        "min(rank) as first, max(rank) as last from scores.recommendations group by customer_id"
    ).df()
    customers = warehouse.execute("select count(*) from raw.customers").fetchone()[0]
    assert len(per_customer) == customers
    assert (per_customer["n"] == 10).all() and (per_customer["products"] == 10).all()
    assert (per_customer["first"] == 1).all() and (per_customer["last"] == 10).all()
    unknown = warehouse.execute(
        "select count(*) from scores.recommendations r anti join raw.products p using (product_id)"
    ).fetchone()[0]
    assert unknown == 0


def test_customer_360_one_row_per_source_customer_with_ids_unchanged(warehouse):
    missing, extra = warehouse.execute(
        "select (select count(*) from raw.customers c anti join scores.customer_360 s using (customer_id)), "
        "(select count(*) from scores.customer_360 s anti join raw.customers c using (customer_id))"
    ).fetchone()
    assert missing == extra == 0
    rows, distinct = warehouse.execute(
        "select count(*), count(distinct customer_id) from scores.customer_360"
    ).fetchone()
    assert rows == distinct
    unscored = warehouse.execute(
        "select count(*) from scores.customer_360 where segment is null or recommended_product_ids is null "
        "or (frequency > 0 and churn_probability is null)"
    ).fetchone()[0]
    assert unscored == 0


def test_no_personal_data_past_staging(warehouse):
    """E-mail addresses and names stay in raw; everything downstream holds salted hashes."""
    emails = set(warehouse.execute("select email from raw.customers limit 50").df()["email"])
    columns = warehouse.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema in ('staging', 'intermediate', 'marts', 'scores') and data_type = 'VARCHAR'"
    ).fetchall()
    for schema, table, column in columns:
        found = warehouse.execute(
            f'select count(*) from "{schema}"."{table}" where "{column}" like \'%@%\''
        ).fetchone()[0]
        assert found == 0, f"{schema}.{table}.{column} holds e-mail-like values"
    assert emails  # the raw layer really had addresses to leak


@pytest.mark.parametrize("table", EXPORTED_TABLES)
def test_exports_match_tables(warehouse, table):
    expected = warehouse.execute(f"select count(*) from scores.{table}").fetchone()[0]
    folder = get_settings().export_dir
    assert len(pd.read_parquet(folder / f"{table}.parquet")) == expected
    assert len(pd.read_csv(folder / f"{table}.csv", dtype=str)) == expected


def test_models_report_holdout_metrics_and_beat_their_baselines(pipeline_run):
    for name in ("customer_segmentation", "churn", "customer_value", "recommender"):
        materialization = pipeline_run.asset_materializations_for_node(f"models__{name}")[0]
        assert materialization.asset_key == AssetKey(["models", name])
        metadata = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
        assert metadata["beats_baselines"] and metadata["promoted"], (name, metadata)


# The scored-table contract documented in the README ("Scored tables"): users build on these columns.
CONTRACT = {
    "customer_segments": {
        "customer_id": "VARCHAR",
        "segment": "VARCHAR",
        "cluster_id": "BIGINT",
        "rfm_recency": "BIGINT",
        "rfm_frequency": "BIGINT",
        "rfm_monetary": "BIGINT",
        "rfm_segment": "VARCHAR",
        "as_of_date": "DATE",
        "model_version": "VARCHAR",
        "scored_at": "TIMESTAMP",
    },
    "churn_scores": {
        "customer_id": "VARCHAR",
        "churn_probability": "DOUBLE",
        "risk_tier": "VARCHAR",
        "recency_days": "BIGINT",
        "as_of_date": "DATE",
        "reason_1": "VARCHAR",
        "reason_2": "VARCHAR",
        "reason_3": "VARCHAR",
        "model_version": "VARCHAR",
        "scored_at": "TIMESTAMP",
    },
    "customer_value": {
        "customer_id": "VARCHAR",
        "p_alive": "DOUBLE",
        "expected_orders": "DOUBLE",
        "expected_revenue": "DOUBLE",
        "expected_next_order_date": "DATE",
        "horizon_days": "BIGINT",
        "as_of_date": "DATE",
        "model_version": "VARCHAR",
        "scored_at": "TIMESTAMP",
    },
    "recommendations": {
        "customer_id": "VARCHAR",
        "rank": "BIGINT",
        "product_id": "VARCHAR",
        "score": "DOUBLE",
        "model": "VARCHAR",
        "model_version": "VARCHAR",
        "scored_at": "TIMESTAMP",
    },
    "customer_360": {
        "customer_id": "VARCHAR",
        "email_hash": "VARCHAR",
        "country": "VARCHAR",
        "acquisition_channel": "VARCHAR",
        "signup_date": "DATE",
        "as_of_date": "DATE",
        "tenure_days": "BIGINT",
        "recency_days": "BIGINT",
        "frequency": "BIGINT",
        "monetary": "DOUBLE",
        "avg_order_value": "DOUBLE",
        "orders_90d": "BIGINT",
        "sessions_30d": "BIGINT",
        "days_since_last_session": "BIGINT",
        "segment": "VARCHAR",
        "rfm_segment": "VARCHAR",
        "churn_probability": "DOUBLE",
        "risk_tier": "VARCHAR",
        "churn_reason": "VARCHAR",
        "p_alive": "DOUBLE",
        "expected_orders": "DOUBLE",
        "expected_revenue": "DOUBLE",
        "expected_next_order_date": "DATE",
        "value_at_risk": "DOUBLE",
        "value_at_risk_tier": "VARCHAR",
        "recommended_product_ids": "VARCHAR",
        "recommendation_model": "VARCHAR",
    },
}


@pytest.mark.parametrize("table", sorted(CONTRACT))
def test_scored_tables_keep_their_contract(warehouse, table):
    columns = dict(
        warehouse.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'scores' and table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
    )
    assert columns == CONTRACT[table]
