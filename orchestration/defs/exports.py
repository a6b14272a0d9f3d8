"""Scored tables exported as files beside the warehouse: Parquet for notebooks and BI tools, CSV
for marketers' spreadsheets and CRM uploads."""

import dagster as dg

from orchestration.lib.dbt import dbt_project
from orchestration.lib.scores import exported_tables
from orchestration.lib.warehouse import WarehouseResource, export_table
from orchestration.settings import DUCKDB_POOL, SCORES_SCHEMA, get_settings

# The scored tables declared in dbt (source `scores`) and the dbt models built in `scores`.
EXPORTED_TABLES = exported_tables(dbt_project.manifest_path)

EXPORT_FORMATS = ("parquet", "csv")


@dg.asset(
    key=[SCORES_SCHEMA, "exports"],
    group_name=SCORES_SCHEMA,
    deps=[dg.AssetKey([SCORES_SCHEMA, table]) for table in EXPORTED_TABLES],
    pool=DUCKDB_POOL,
    kinds={"parquet", "csv"},
    description=(
        "Each scored table written to exports/<table>.parquet and <table>.csv beside "
        "the warehouse (CSV text cells escaped against spreadsheet formula injection)."
    ),
)
def exports(context: dg.AssetExecutionContext, duckdb: WarehouseResource) -> dg.MaterializeResult:
    folder = get_settings().export_dir
    folder.mkdir(parents=True, exist_ok=True)
    with duckdb.get_connection() as conn:
        written = [
            str(export_table(conn, SCORES_SCHEMA, table, folder / f"{table}.{extension}"))
            for table in EXPORTED_TABLES
            for extension in EXPORT_FORMATS
        ]
    return dg.MaterializeResult(metadata={"files": dg.MetadataValue.json(written)})
