"""The Dagster definitions load, and every name, pool and schedule is wired as documented."""

import dagster as dg
import yaml

from orchestration.definitions import defs
from orchestration.defs.exports import EXPORTED_TABLES
from orchestration.instance import INSTANCE_YAML
from orchestration.settings import DUCKDB_POOL, REFRESH_JOB, SOURCE_TABLES


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)


def test_asset_graph_has_every_layer():
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    expected = {f"raw/{table}" for table in SOURCE_TABLES}
    expected |= {f"scores/{table}" for table in EXPORTED_TABLES}
    expected |= {
        "staging/stg_shop__order_lines",
        "intermediate/int_orders",
        "ml_inputs/churn_training_set",
        "ml_inputs/model_readiness",
        "marts/dim_customers",
        "marts/fct_orders",
        "marts/fct_order_items",
        "marts/customer_features",
        "marts/customer_product_interactions",
        "models/customer_segmentation",
        "models/churn",
        "models/recommender",
        "models/customer_value",
        "scores/exports",
    }
    assert expected <= keys, expected - keys


def test_lineage_runs_from_raw_to_scores():
    graph = defs.resolve_asset_graph()
    upstream = graph.get(dg.AssetKey(["scores", "customer_360"])).parent_keys
    assert dg.AssetKey(["scores", "churn_scores"]) in upstream
    features = graph.get(dg.AssetKey(["marts", "customer_features"]))
    ancestors, frontier = set(), set(features.parent_keys)
    while frontier:
        key = frontier.pop()
        ancestors.add(key)
        frontier |= set(graph.get(key).parent_keys) - ancestors
    assert dg.AssetKey(["raw", "order_lines"]) in ancestors


def test_every_step_that_opens_duckdb_shares_one_pool():
    job = defs.resolve_job_def(REFRESH_JOB)
    pools = {node.name: node.definition.pool for node in job.graph.nodes}
    assert pools and all(pool == DUCKDB_POOL for pool in pools.values()), pools
    assert yaml.safe_load(INSTANCE_YAML)["concurrency"]["pools"]["default_limit"] == 1


def test_raw_suites_are_blocking_checks():
    graph = defs.resolve_asset_graph()
    blocking = {key.name for key in graph.asset_check_keys if graph.get_check_spec(key).blocking}
    assert {"great_expectations_raw_order_lines", "great_expectations_raw_web_events"} <= blocking


def test_daily_schedule_refreshes_everything():
    schedule = defs.resolve_schedule_def("daily_refresh")
    assert schedule.job_name == REFRESH_JOB
    assert schedule.cron_schedule == "0 5 * * *"
    job = defs.resolve_job_def(REFRESH_JOB)
    assert len(job.asset_layer.executable_asset_keys) >= 25
