"""Reading the scored tables: the columns the report reads from each (its contract with the
models that write them), and a table's state: missing, empty, or lacking a column (a bug,
ReportDataError)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from orchestration.lib.scores import scores_relation
from orchestration.settings import SCORES_SCHEMA

# The columns the report reads from each table: the contract with the models that write them.
SEGMENT_PROFILE_COLUMNS = (
    "segment_type",
    "segment",
    "customers",
    "customer_share",
    "revenue",
    "revenue_share",
    "mean_churn_probability",
    "mean_expected_revenue",
    "top_categories",
)
AUDIENCE_COLUMNS = (
    "customer_id",
    "audience",
    "reason",
    "suggested_action",
    "priority",
    "in_control_group",
    "as_of_date",
)
RETENTION_LIST_COLUMNS = (
    "rank",
    "customer_id",
    "churn_probability",
    "expected_revenue",
    "value_at_risk",
    "churn_reason",
    "suggested_offer",
    "risk_tier",
    "segment",
    "in_control_group",
    "as_of_date",
)
CUSTOMER_VALUE_COLUMNS = ("customer_id", "p_alive", "expected_orders", "expected_revenue")
RECOMMENDED_PRODUCT_COLUMNS = (
    "customer_id",
    "rank",
    "product_id",
    "product_name",
    "category",
    "price",
    "mean_rating",
    "review_count",
    "score",
    "model",
)
CAMPAIGN_RESULT_COLUMNS = (
    "campaign_id",
    "audience",
    "window_days",
    "outcome_complete",
    "treated_customers",
    "control_customers",
    "treated_conversion_rate",
    "control_conversion_rate",
    "conversion_uplift",
    "conversion_uplift_ci_low",
    "conversion_uplift_ci_high",
    "treated_revenue_per_customer",
    "control_revenue_per_customer",
    "revenue_uplift_per_customer",
    "revenue_uplift_ci_low",
    "revenue_uplift_ci_high",
    "significant",
)
# retention_list_coverage's one row: the list's size, the value at risk it covers, what the same
# number of customers ranked by churn probability alone would cover, their ratio, and the total.
COVERAGE_COLUMNS = (
    "list_size",
    "list_value_at_risk",
    "probability_list_value_at_risk",
    "coverage_ratio",
    "total_value_at_risk",
)
# The tables (in `scores`) the report reads: the report asset depends on each.
REPORT_TABLES = (
    "segment_profiles",
    "audiences",
    "retention_list",
    "retention_list_coverage",
    "customer_value",
    "recommended_products",
    "campaign_results",
)


class ReportDataError(RuntimeError):
    """A table the report reads exists but lacks a column of its contract."""


def _existing_columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[str] | None:
    """The columns of scores.`table` in order, or None when the table does not exist."""
    rows = conn.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [SCORES_SCHEMA, table],
    ).fetchall()
    return [name for (name,) in rows] or None


def _require(table: str, columns: list[str], required: Sequence[str]) -> None:
    missing = [c for c in required if c not in columns]
    if missing:
        raise ReportDataError(
            f"{SCORES_SCHEMA}.{table} has no column {', '.join(map(repr, missing))}: the "
            f"marketing report reads {', '.join(required)} (the table has {', '.join(columns)})"
        )


@dataclass
class _Source:
    """A table's state: None columns = missing; rows = its row count."""

    table: str
    columns: list[str] | None
    rows: int

    @property
    def missing(self) -> bool:
        return self.columns is None


def _source(conn: duckdb.DuckDBPyConnection, table: str, required: Sequence[str] = ()) -> _Source:
    columns = _existing_columns(conn, table)
    if columns is None:
        return _Source(table, None, 0)
    _require(table, columns, required)
    rows = conn.execute(f"select count(*) from {scores_relation(table)}").fetchone()[0]
    return _Source(table, columns, int(rows))


def _not_built(table: str, what: str) -> str:
    return (
        f"Not available yet: the table {SCORES_SCHEMA}.{table} does not exist in this "
        f"warehouse, so there are no {what} to show. It appears after a refresh that builds it."
    )


def _as_of(conn: duckdb.DuckDBPyConnection) -> str | None:
    for table in ("customer_value", "retention_list", "audiences"):
        columns = _existing_columns(conn, table)
        if columns and "as_of_date" in columns:
            value = conn.execute(
                f"select max(as_of_date) from {scores_relation(table)}"
            ).fetchone()[0]
            if value is not None:
                return str(value)
    return None
