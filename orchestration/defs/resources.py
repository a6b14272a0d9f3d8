"""Resources: the DuckDB warehouse and the dbt CLI, both pointed at the deployment's warehouse."""

import os

from orchestration.lib.dbt import dbt_resource
from orchestration.lib.warehouse import WarehouseResource
from orchestration.settings import Settings


def build_resources(settings: Settings) -> dict[str, object]:
    """The warehouse resource, and the dbt CLI (whose profile reads DUCKDB_PATH, so the path is
    handed to every dbt process this code location starts)."""
    os.environ["DUCKDB_PATH"] = str(settings.duckdb_path)
    return {"duckdb": WarehouseResource(database=str(settings.duckdb_path)), "dbt": dbt_resource}
