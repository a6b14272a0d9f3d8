"""Great Expectations suites (files in expectations/) as Dagster asset checks.

A suite marked `blocking` stops downstream assets in the same run when it fails, so dbt and the
models never build on a raw table that failed its expectations.

A check validates bounded rows, not the whole table (orchestration/lib/expectations.py says what
and why): for the day-partitioned raw tables, the days the run reloaded in full plus a
reproducible sample of `QUALITY_SAMPLE_ROWS` of the other rows (when the days hold more than
`QUALITY_FULL_ROWS`, a full refresh of a large shop, a sample of the whole table instead); any
other table whole up to `QUALITY_SAMPLE_ROWS` rows, else such a sample. Row count and uniqueness
are computed on the whole table in DuckDB. The check's metadata says what was validated (`validated`).

Metadata is kept in Dagster's event log and shown in the UI, so no personal value enters it in
clear: failing examples of personal columns are masked where they are computed
(orchestration/lib/expectations.py, `mask`), and every text below is scrubbed of e-mail-like
values once more before it is written (`scrub`).
"""

import time

import dagster as dg
import duckdb as duckdb_lib

from landing import Config
from landing.tables import TABLES
from orchestration.defs.partitions import run_days
from orchestration.lib.expectations import SuiteFile, discover_suites, scrub, validate_table
from orchestration.lib.warehouse import WarehouseResource
from orchestration.settings import (
    DUCKDB_POOL,
    EXPECTATIONS_DIR,
    QUALITY_FULL_ROWS,
    QUALITY_SAMPLE_ROWS,
    RAW_SCHEMA,
    get_settings,
)


def _cell(text: object) -> str:
    """A markdown table cell: scrubbed of e-mail-like values, pipes and newlines escaped."""
    return scrub(str(text)).replace("|", "\\|").replace("\n", " ")


def _failure_table(outcome_failures: list) -> str:
    rows = ["| expectation | column | observed | details |", "|---|---|---|---|"]
    for failure in outcome_failures:
        cells = (failure.expectation, failure.column or "", failure.observed, failure.details)
        rows.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(rows)


def is_day_partitioned(suite: SuiteFile) -> bool:
    """True for a raw table loaded by day (it has `_partition_day`; runs name the days)."""
    schema, table = suite.table.split(".")
    spec = TABLES.get(table)
    return schema == RAW_SCHEMA and spec is not None and spec.timestamp is not None


def build_suite_check(suite: SuiteFile, config: Config | None = None) -> dg.AssetChecksDefinition:
    """The suite as an asset check; `config` (default: the deployment's) turns a run's tags
    into the days it reloaded."""

    @dg.asset_check(
        asset=dg.AssetKey(list(suite.asset_key)),
        name=f"great_expectations_{suite.name}",
        description=f"{suite.description} (suite file: expectations/{suite.path.name})",
        blocking=suite.blocking,
        pool=DUCKDB_POOL,
    )
    def _check(
        context: dg.AssetCheckExecutionContext, duckdb: WarehouseResource
    ) -> dg.AssetCheckResult:
        days = None
        if is_day_partitioned(suite):
            days = run_days(context.run.tags, config or get_settings().config)
        started = time.perf_counter()
        try:
            with duckdb.get_connection() as conn:
                report = validate_table(
                    conn, suite, days, QUALITY_SAMPLE_ROWS, full_limit=QUALITY_FULL_ROWS
                )
        except duckdb_lib.BinderException as error:  # a referenced column is missing
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"error": scrub(f"{suite.table}: {error}"), "suite": suite.path.name},
            )
        outcome, selection = report.outcome, report.selection
        metadata: dict[str, object] = {
            "suite": suite.path.name,
            "validated": report.validated,
            "rows_validated": selection.rows,
            "table_rows": selection.table_rows,
            "expectations_evaluated": outcome.evaluated,
            "expectations_failed": len(outcome.failures),
            "seconds": round(time.perf_counter() - started, 2),
        }
        if selection.days is not None:
            first, last = selection.days
            metadata["days_in_full"] = f"{first}..{last}"
            metadata["day_rows"] = selection.day_rows
        if not selection.whole:
            metadata["sample_rows"] = selection.sample_rows
            metadata["sample_seed"] = selection.seed
        if report.table_wide:
            metadata["whole_table_in_duckdb"] = "; ".join(report.table_wide)
        if outcome.failures:
            first_failure = outcome.failures[0]
            metadata["failed_expectations"] = dg.MetadataValue.md(_failure_table(outcome.failures))
            metadata["first_failure"] = scrub(
                f"{first_failure.expectation} on {first_failure.column or 'table'}: "
                f"observed {first_failure.observed}"
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

    return [build_suite_check(s, config) for s in discover_suites(EXPECTATIONS_DIR) if applies(s)]
