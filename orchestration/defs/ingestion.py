"""Raw ingestion: one asset per landing table, loaded as-is into DuckDB's `raw` schema."""

import dagster as dg

from orchestration.lib.warehouse import WarehouseResource, identifier, table_metadata
from orchestration.settings import DUCKDB_POOL, LANDING_DIR, RAW_SCHEMA, SOURCE_TABLES


def landing_files(table: str) -> list[str]:
    """The landing Parquet files of a table: `<table>.parquet` or `<table>/*.parquet`."""
    files = sorted(LANDING_DIR.glob(f"{table}.parquet")) + sorted(
        LANDING_DIR.glob(f"{table}/*.parquet")
    )
    return [str(path) for path in files]


def build_raw_asset(table: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=[RAW_SCHEMA, table],
        group_name=RAW_SCHEMA,
        pool=DUCKDB_POOL,
        kinds={"duckdb", "parquet"},
        description=f"Landing file(s) `{table}.parquet` loaded as-is into `{RAW_SCHEMA}.{table}`.",
    )
    def _raw_table(
        context: dg.AssetExecutionContext, duckdb: WarehouseResource
    ) -> dg.MaterializeResult:
        files = landing_files(table)
        if not files:
            raise dg.Failure(
                f"No landing file for table '{table}': expected {LANDING_DIR / (table + '.parquet')} "
                f"or Parquet files in {LANDING_DIR / table}/"
            )
        target = f"{identifier(RAW_SCHEMA)}.{identifier(table)}"
        with duckdb.get_connection() as conn:
            conn.execute(f"create schema if not exists {identifier(RAW_SCHEMA)}")
            conn.execute(
                f"create or replace table {target} as "
                "select * exclude (filename), filename as _source_file, now() as _loaded_at "
                "from read_parquet(?, filename = true)",
                [files],
            )
            metadata = table_metadata(conn, RAW_SCHEMA, table)
        context.log.info(f"Loaded {metadata['dagster/row_count'].value:,} rows into {target}")
        return dg.MaterializeResult(metadata={**metadata, "source_files": files})

    return _raw_table


raw_assets = [build_raw_asset(table) for table in SOURCE_TABLES]
