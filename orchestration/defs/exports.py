"""Scored tables exported as Parquet files beside the warehouse, for notebooks, BI tools and CRMs."""

import dagster as dg

from orchestration.lib.warehouse import WarehouseResource, identifier
from orchestration.settings import DUCKDB_POOL, EXPORT_DIR, SCORED_TABLES, SCORES_SCHEMA


@dg.asset(
    key=[SCORES_SCHEMA, "parquet_exports"],
    group_name=SCORES_SCHEMA,
    deps=[dg.AssetKey([SCORES_SCHEMA, table]) for table in SCORED_TABLES],
    pool=DUCKDB_POOL,
    kinds={"parquet"},
    description=f"Each scored table written to {EXPORT_DIR.name}/<table>.parquet beside the warehouse.",
)
def parquet_exports(
    context: dg.AssetExecutionContext, duckdb: WarehouseResource
) -> dg.MaterializeResult:
    EXPORT_DIR.mkdir(parents=True, exist_ok=True)
    written = {}
    with duckdb.get_connection() as conn:
        for table in SCORED_TABLES:
            path = EXPORT_DIR / f"{table}.parquet"
            temporary = path.with_suffix(".parquet.tmp")
            conn.execute(
                f"copy {identifier(SCORES_SCHEMA)}.{identifier(table)} to '{temporary}' (format parquet)"
            )
            temporary.replace(path)  # readers never see a half-written file
            written[table] = str(path)
    return dg.MaterializeResult(metadata={"files": dg.MetadataValue.json(written)})
