"""dbt models as Dagster assets (dagster-dbt), keyed by warehouse schema and table.

Three @dbt_assets:
- `dbt_daily`: the seeds, the staging views, the intermediate views they feed and the incremental
  models tagged `daily` (orders, order lines, daily browsing). A run for some days deletes and
  re-inserts exactly those days (vars partition_start / partition_end; see
  orchestration/defs/partitions.py); a run without partitions rebuilds every day.
- `dbt_features`: the customer features, labels, interactions and the models' inputs
  (`ml_inputs/`), rebuilt as of the latest day.
- `dbt_activation` (customer_360, schema `scores`) reads the scored tables, so it runs after them.
Every invocation gets the config's model settings as dbt vars. The project, its translator and
the dbt CLI resource are in orchestration/lib/dbt.py.
"""

import functools
import json
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.partitions import run_days
from orchestration.lib.dbt import dbt_project, translator
from orchestration.lib.warehouse import WarehouseResource
from orchestration.settings import DUCKDB_POOL, get_settings

DAILY_SELECTION = "path:models/staging tag:daily"
ACTIVATION_SELECTION = "path:models/activation"


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
    days = run_days(context.run.tags, get_settings().config)
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
