"""Resources: the DuckDB warehouse and the dbt CLI, both pointed at the deployment's warehouse."""

import os

from orchestration.lib.dbt import dbt_resource
from orchestration.lib.warehouse import WarehouseResource
from orchestration.settings import DUCKDB_MEMORY_LIMIT_VARIABLE, Settings


def build_resources(settings: Settings) -> dict[str, object]:
    """The warehouse resource, and the dbt CLI (whose profile reads DUCKDB_PATH and
    DUCKDB_MEMORY_LIMIT, so both are handed to every dbt process this code location starts)."""
    os.environ["DUCKDB_PATH"] = str(settings.duckdb_path)
    os.environ[DUCKDB_MEMORY_LIMIT_VARIABLE] = settings.duckdb_memory_limit
    warehouse = WarehouseResource(
        database=str(settings.duckdb_path),
        connection_config={"memory_limit": settings.duckdb_memory_limit},
    )
    return {"duckdb": warehouse, "dbt": dbt_resource}
