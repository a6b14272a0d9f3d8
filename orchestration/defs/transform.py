"""dbt models as Dagster assets (dagster-dbt), keyed by warehouse schema and table.

Three @dbt_assets:
- `dbt_daily`: the staging views and the incremental models tagged `daily` (orders, order lines,
  daily browsing). A run for some days (partitions of the raw tables) deletes and re-inserts
  exactly those days (vars partition_start / partition_end); a run without partitions rebuilds
  every day.
- `dbt_features`: the customer features, labels and interactions, rebuilt as of the latest day.
- `dbt_activation` (customer_360, schema `scores`) reads the scored tables, so it runs after them.
Every invocation gets the config's model settings as dbt vars.
"""

import functools
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestration.defs.partitions import run_days
from orchestration.lib.warehouse import WarehouseResource
from orchestration.settings import DBT_PROJECT_DIR, DUCKDB_POOL, get_settings

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# Only acts under `dagster dev`; `make` runs `dbt parse` once at set-up otherwise.
dbt_project.prepare_if_dev()

DAILY_SELECTION = "path:models/staging tag:daily"
ACTIVATION_SELECTION = "path:models/activation"


class ShopDbtTranslator(DagsterDbtTranslator):
    """Models are keyed `<schema>/<model>` and grouped by schema, so the UI mirrors the warehouse."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "model":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "model":
            return dbt_resource_props["schema"]
        return super().get_group_name(dbt_resource_props)


translator = ShopDbtTranslator(
    settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True, enable_source_tests_as_checks=False
    )
)


# What the three @dbt_assets share: the project, the asset keys and groups, the warehouse pool.
shop_dbt_assets = functools.partial(
    dbt_assets,
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    pool=DUCKDB_POOL,
)


def _build(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    duckdb: WarehouseResource,
    extra_vars: Mapping[str, str] | None = None,
) -> Iterator[Any]:
    with duckdb.get_connection():
        pass  # fails with a clear message if a program outside Dagster holds the warehouse
    dbt_vars = {**get_settings().config.dbt_vars(), **(extra_vars or {})}
    yield from dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context).stream()


@shop_dbt_assets(
    select=DAILY_SELECTION,
    name="dbt_daily",
)
def dbt_daily_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, duckdb: WarehouseResource
) -> Iterator[Any]:
    """Staging views and the day-by-day incremental models, for the days the run refreshes."""
    days = run_days(context)
    window = (
        {"partition_start": days[0].isoformat(), "partition_end": days[1].isoformat()}
        if days
        else None  # a run without partitions: the incremental models rebuild every day
    )
    yield from _build(context, dbt, duckdb, window)


@shop_dbt_assets(
    exclude=f"{DAILY_SELECTION} {ACTIVATION_SELECTION}",
    name="dbt_features",
)
def dbt_feature_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, duckdb: WarehouseResource
) -> Iterator[Any]:
    """Features, labels and interactions as of the latest day, with their dbt tests (checks)."""
    yield from _build(context, dbt, duckdb)


@shop_dbt_assets(
    select=ACTIVATION_SELECTION,
    name="dbt_activation",
)
def dbt_activation_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, duckdb: WarehouseResource
) -> Iterator[Any]:
    """customer_360: the wide activation table joining features and every score."""
    yield from _build(context, dbt, duckdb)


# The dbt installed beside this interpreter, so the venv need not be on PATH.
dbt_resource = DbtCliResource(
    project_dir=dbt_project, dbt_executable=str(Path(sys.executable).with_name("dbt"))
)
