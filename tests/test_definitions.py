"""The Dagster definitions load, and every name, pool and schedule is wired as documented."""

import subprocess
import sys

import dagster as dg
import pytest
import yaml

from orchestration.definitions import defs as build_definitions
from orchestration.defs.exports import EXPORTED_TABLES
from orchestration.instance import INSTANCE_YAML
from orchestration.settings import (
    DBT_PROJECT_DIR,
    DEFAULT_DUCKDB_MEMORY_LIMIT,
    DUCKDB_MEMORY_LIMIT_VARIABLE,
    DUCKDB_POOL,
    REFRESH_JOB,
    SOURCE_TABLES,
    get_settings,
)


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return build_definitions()


def test_definitions_load(defs):
    dg.Definitions.validate_loadable(defs)


def test_every_warehouse_connection_gets_the_memory_limit(defs, monkeypatch):
    """The steps' connections and dbt's profile use DuckDB's memory limit from the environment,
    by default a quarter of RAM (DuckDB's own default, 80 %, let a large load pass 17 GiB)."""
    assert DEFAULT_DUCKDB_MEMORY_LIMIT == "25%"
    limit = get_settings().duckdb_memory_limit
    assert defs.resources["duckdb"].connection_config["memory_limit"] == limit
    profile = (DBT_PROJECT_DIR / "profiles.yml").read_text()
    expected = f"env_var('{DUCKDB_MEMORY_LIMIT_VARIABLE}', '{DEFAULT_DUCKDB_MEMORY_LIMIT}')"
    assert expected in profile  # dbt run by hand gets the same default
    monkeypatch.setenv(DUCKDB_MEMORY_LIMIT_VARIABLE, "3GB")
    assert get_settings().duckdb_memory_limit == "3GB"


def test_asset_graph_has_every_layer(defs):
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


def test_lineage_runs_from_raw_to_scores(defs):
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


def test_every_step_that_opens_duckdb_shares_one_pool(defs):
    job = defs.resolve_job_def(REFRESH_JOB)
    pools = {node.name: node.definition.pool for node in job.graph.nodes}
    assert pools and all(pool == DUCKDB_POOL for pool in pools.values()), pools
    assert yaml.safe_load(INSTANCE_YAML)["concurrency"]["pools"]["default_limit"] == 1


def test_raw_suites_are_blocking_checks(defs):
    graph = defs.resolve_asset_graph()
    blocking = {key.name for key in graph.asset_check_keys if graph.get_check_spec(key).blocking}
    assert {"great_expectations_raw_order_lines", "great_expectations_raw_web_events"} <= blocking


def test_daily_schedule_refreshes_everything(defs):
    schedule = defs.resolve_schedule_def("daily_refresh")
    assert schedule.job_name == REFRESH_JOB
    assert schedule.cron_schedule == "0 5 * * *"
    job = defs.resolve_job_def(REFRESH_JOB)
    assert len(job.asset_layer.executable_asset_keys) >= 25


def test_each_model_reports_its_gate_through_a_non_blocking_check_on_its_training_asset(defs):
    """A refused version must not stop scoring (the promoted version scores in its place)."""
    graph = defs.resolve_asset_graph()
    gates = {
        key.asset_key.to_user_string()
        for key in graph.asset_check_keys
        if key.name == "promotion_gate" and not graph.get_check_spec(key).blocking
    }
    assert gates == {
        "models/customer_segmentation",
        "models/churn",
        "models/customer_value",
        "models/recommender",
    }


def test_importing_the_code_reads_and_changes_nothing():
    """Settings are read when asked for: importing with a config that does not exist works, and
    leaves the environment as it was."""
    code = (
        "import os, orchestration.definitions, orchestration.cli, orchestration.summary; "
        "print(sorted(k for k in os.environ if k in ('DUCKDB_PATH', 'DBT_INDIRECT_SELECTION')))"
    )
    env = {"PATH": "/usr/bin:/bin", "SHOP_CONFIG": "/nonexistent/config.yml"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_the_dbt_resource_still_replaces_what_dagster_dbt_does_before_each_command():
    """ShopDbtCliResource overrides two private methods of dagster-dbt's resource: if an upgrade
    renames them, the overrides would silently stop saving their 11 s a run."""
    from importlib.metadata import version

    from dagster_dbt import DbtCliResource

    from orchestration.lib.dbt import ShopDbtCliResource, dbt_resource

    for name in ("_cli_version", "_initialize_dbt_core_adapter"):
        assert name in vars(DbtCliResource), f"dagster-dbt's DbtCliResource has no {name} any more"
        assert name in vars(ShopDbtCliResource)
    assert str(dbt_resource._cli_version) == version("dbt-core")
    assert dbt_resource._initialize_dbt_core_adapter(["build"]) is None
