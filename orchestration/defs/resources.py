"""Resources: the DuckDB warehouse and the dbt CLI, both pointed at DUCKDB_PATH."""

from orchestration.defs.transform import dbt_resource
from orchestration.lib.warehouse import WarehouseResource
from orchestration.settings import DUCKDB_PATH

resources = {
    "duckdb": WarehouseResource(database=str(DUCKDB_PATH)),
    "dbt": dbt_resource,
}
