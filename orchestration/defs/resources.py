"""Resources: the DuckDB warehouse and the dbt CLI, both pointed at DUCKDB_PATH."""

from dagster_duckdb import DuckDBResource

from orchestration.defs.transform import dbt_resource
from orchestration.settings import DUCKDB_PATH

resources = {
    "duckdb": DuckDBResource(database=str(DUCKDB_PATH)),
    "dbt": dbt_resource,
}
