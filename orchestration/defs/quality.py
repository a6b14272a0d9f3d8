"""Great Expectations suites (files in expectations/) as Dagster asset checks.

A suite marked `blocking` stops downstream assets in the same run when it fails, so dbt and the
models never build on a raw table that failed its expectations.
"""

import time

import dagster as dg
import duckdb as duckdb_lib

from landing import Config
from orchestration.lib.expectations import SuiteFile, discover_suites, validate
from orchestration.lib.warehouse import WarehouseResource, identifier
from orchestration.settings import DUCKDB_POOL, EXPECTATIONS_DIR, RAW_SCHEMA


def _failure_table(outcome_failures: list) -> str:
    rows = ["| expectation | column | observed | details |", "|---|---|---|---|"]
    for failure in outcome_failures:
        rows.append(
            f"| {failure.expectation} | {failure.column or ''} | {failure.observed} | {failure.details} |"
        )
    return "\n".join(rows)


def build_suite_check(suite: SuiteFile) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=dg.AssetKey(list(suite.asset_key)),
        name=f"great_expectations_{suite.name}",
        description=f"{suite.description} (suite file: expectations/{suite.path.name})",
        blocking=suite.blocking,
        pool=DUCKDB_POOL,
    )
    def _check(duckdb: WarehouseResource) -> dg.AssetCheckResult:
        schema, table = suite.table.split(".")
        columns = ", ".join(identifier(column) for column in suite.columns)
        started = time.perf_counter()
        try:
            with duckdb.get_connection() as conn:
                frame = conn.execute(
                    f"select {columns} from {identifier(schema)}.{identifier(table)}"
                ).df()
        except duckdb_lib.BinderException as error:  # a referenced column is missing
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"error": f"{suite.table}: {error}", "suite": suite.path.name},
            )
        outcome = validate(frame, suite)
        metadata: dict[str, object] = {
            "suite": suite.path.name,
            "rows_validated": len(frame),
            "expectations_evaluated": outcome.evaluated,
            "expectations_failed": len(outcome.failures),
            "seconds": round(time.perf_counter() - started, 2),
        }
        if outcome.failures:
            first = outcome.failures[0]
            metadata["failed_expectations"] = dg.MetadataValue.md(_failure_table(outcome.failures))
            metadata["first_failure"] = (
                f"{first.expectation} on {first.column or 'table'}: observed {first.observed}"
            )
        return dg.AssetCheckResult(
            passed=outcome.success, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata
        )

    return _check


def build_suite_checks(config: Config) -> list[dg.AssetChecksDefinition]:
    """A check per suite file; a raw table's suite only when the config has that source."""

    def applies(suite: SuiteFile) -> bool:
        schema, table = suite.table.split(".")
        return schema != RAW_SCHEMA or table in config.sources

    return [build_suite_check(s) for s in discover_suites(EXPECTATIONS_DIR) if applies(s)]
