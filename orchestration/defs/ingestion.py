"""Raw ingestion: one asset per canonical table, loaded from the source the config maps onto it.

Every row read is loaded into `raw.<table>` or quarantined in `raw.quarantine` with its file,
line or row number and reason; a blocking reconciliation check per table proves that rows read =
loaded + quarantined for every file and day. Tables with a timestamp (order lines, web events)
are partitioned by month, and a run for some days replaces exactly those days. A table whose source the
config leaves out exists empty, so every downstream model runs on any deployment.
"""

import dagster as dg

from landing import TABLES, SourceError, ensure_raw_tables, load_source, reconcile
from landing.reconcile import INDEPENDENT_COUNT_SCOPE
from orchestration.defs.partitions import RELOADED_DAYS_KEY, format_days, run_days
from orchestration.lib.warehouse import WarehouseResource, table_metadata
from orchestration.settings import DUCKDB_POOL, RAW_SCHEMA, SOURCE_TABLES, Settings


def build_raw_asset(
    settings: Settings, table: str, partitions: dg.PartitionsDefinition
) -> dg.AssetsDefinition:
    config = settings.config
    source = config.sources.get(table)
    # Partitioned by day when the table has a timestamp and the config has a source for it.
    partitioned = source is not None and TABLES[table].timestamp is not None
    where = (
        f"`{source.path}` ({config.source_format(table)}) from {settings.config_path.name}"
        if source
        else "no source in the config: the table stays empty"
    )

    @dg.asset(
        key=[RAW_SCHEMA, table],
        group_name=RAW_SCHEMA,
        pool=DUCKDB_POOL,
        kinds={"duckdb", config.source_format(table)} if source else {"duckdb"},
        partitions_def=partitions if partitioned else None,
        backfill_policy=dg.BackfillPolicy.single_run() if partitioned else None,
        description=(
            f"`{RAW_SCHEMA}.{table}` loaded from {where}. Rows that break a rule or repeat another "
            f"row go to `{RAW_SCHEMA}.quarantine` with the reason."
            + (" Partitioned by the month of its timestamp." if partitioned else "")
        ),
    )
    def _raw_table(
        context: dg.AssetExecutionContext, duckdb: WarehouseResource
    ) -> dg.MaterializeResult:
        window = run_days(context.run.tags, config) if partitioned else None
        with duckdb.get_connection() as conn:
            if source is None:
                ensure_raw_tables(conn, RAW_SCHEMA)
                return dg.MaterializeResult(
                    metadata={**table_metadata(conn, RAW_SCHEMA, table), "source": "not configured"}
                )
            try:
                report = load_source(
                    conn, config, table, RAW_SCHEMA, window, salt=settings.pii_salt
                )
            except SourceError as error:
                raise dg.Failure(str(error)) from None
            metadata = table_metadata(conn, RAW_SCHEMA, table)
        days = f" for {window[0]}..{window[1]}" if window else ""
        context.log.info(
            f"{table}{days}: read {report.rows_read:,}, loaded {report.rows_loaded:,}, "
            f"quarantined {report.rows_quarantined:,}"
            + (f", erased {report.rows_erased:,}" if report.rows_erased else "")
            + f" {report.reasons or ''}"
        )
        if report.reloaded_files:
            context.log.info(
                f"New or changed since the previous load, reloaded on every day: "
                f"{', '.join(report.reloaded_files)}"
            )
        for warning in report.warnings:
            context.log.warning(warning)
        return dg.MaterializeResult(
            metadata={
                **metadata,
                "rows_read": report.rows_read,
                "rows_loaded": report.rows_loaded,
                "rows_quarantined": report.rows_quarantined,
                "rows_erased": report.rows_erased,
                "quarantine_reasons": dg.MetadataValue.json(report.reasons),
                "source_files": report.files,
                "warnings": dg.MetadataValue.json(list(report.warnings)),
                # the daily dbt models rebuild these days (transform.py reloaded_days)
                **({RELOADED_DAYS_KEY: format_days(report.days)} if partitioned else {}),
            }
        )

    return _raw_table


def build_reconciliation_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey([RAW_SCHEMA, table]),
        name="rows_reconciled",
        description=(
            "For every landing file and day: rows read = rows loaded + rows quarantined; and per "
            "file, an independent count of its rows (not the loader's) = loaded + quarantined."
        ),
        blocking=True,
        pool=DUCKDB_POOL,
    )
    def _check(duckdb: WarehouseResource) -> dg.AssetCheckResult:
        with duckdb.get_connection() as conn:
            problems = reconcile(conn, table, RAW_SCHEMA)
        return dg.AssetCheckResult(
            passed=not problems,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "discrepancies": dg.MetadataValue.json(problems),
                "independent_count": INDEPENDENT_COUNT_SCOPE,
            },
        )

    return _check


def build_ingestion(
    settings: Settings, partitions: dg.PartitionsDefinition
) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    """A raw asset per canonical table, and a reconciliation check per configured source."""
    assets = [build_raw_asset(settings, table, partitions) for table in SOURCE_TABLES]
    checks = [
        build_reconciliation_check(table)
        for table in SOURCE_TABLES
        if table in settings.config.sources
    ]
    return assets, checks
