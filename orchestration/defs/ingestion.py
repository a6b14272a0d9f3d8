"""Raw ingestion: one asset per landing table. Every landing row is loaded into `raw.<table>` or
quarantined in `raw.quarantine` with its file, row number and reason; a blocking reconciliation
check per table proves that rows read = loaded + quarantined for every file."""

import dagster as dg

from orchestration.lib.ingest import MissingColumnError, load_table, reconcile
from orchestration.lib.warehouse import WarehouseResource, table_metadata
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
        description=(
            f"Landing file(s) `{table}.parquet` loaded into `{RAW_SCHEMA}.{table}`; rows that break "
            f"a rule or repeat another row go to `{RAW_SCHEMA}.quarantine` with the reason."
        ),
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
        with duckdb.get_connection() as conn:
            try:
                report = load_table(conn, table, files, RAW_SCHEMA)
            except MissingColumnError as error:
                raise dg.Failure(str(error)) from None
            metadata = table_metadata(conn, RAW_SCHEMA, table)
        context.log.info(
            f"{table}: read {report.rows_read:,}, loaded {report.rows_loaded:,}, "
            f"quarantined {report.rows_quarantined:,} {report.reasons or ''}"
        )
        return dg.MaterializeResult(
            metadata={
                **metadata,
                "rows_read": report.rows_read,
                "rows_loaded": report.rows_loaded,
                "rows_quarantined": report.rows_quarantined,
                "quarantine_reasons": dg.MetadataValue.json(report.reasons),
                "source_files": files,
            }
        )

    return _raw_table


def build_reconciliation_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey([RAW_SCHEMA, table]),
        name="rows_reconciled",
        description="For every landing file: rows read = rows loaded + rows quarantined.",
        blocking=True,
        pool=DUCKDB_POOL,
    )
    def _check(duckdb: WarehouseResource) -> dg.AssetCheckResult:
        with duckdb.get_connection() as conn:
            problems = reconcile(conn, table, RAW_SCHEMA)
        return dg.AssetCheckResult(
            passed=not problems,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"discrepancies": dg.MetadataValue.json(problems)},
        )

    return _check


raw_assets = [build_raw_asset(table) for table in SOURCE_TABLES]
reconciliation_checks = [build_reconciliation_check(table) for table in SOURCE_TABLES]
