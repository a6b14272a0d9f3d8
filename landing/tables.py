"""The canonical raw tables: what a source must provide, the rules that quarantine a row, the
lineage and bookkeeping tables (quarantine, load log), and their DDL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from landing.config import CANONICAL_COLUMNS, Source
from landing.sql import identifier, relation, string_literal
from landing.vocabulary import event_types, order_statuses

QUARANTINE_TABLE = "quarantine"
LOAD_LOG_TABLE = "load_log"
# Per file of a table's latest load: its rows counted by a reader that is not the loader
# (landing/count.py), and what the loader read of it, for the reconciliation (landing/reconcile.py).
FILE_COUNT_TABLE = "file_counts"
# Canonical columns that hold personal data. Their values live only in raw.<table>; in the
# quarantine (its record and reason) they are masked (see masked_sql).
PERSONAL_COLUMNS: dict[str, tuple[str, ...]] = {"customers": ("email", "first_name", "last_name")}
CUSTOMER_COLUMN = "customer_id"  # the customer a row belongs to (landing/erasure.py)
# An e-mail address anywhere in a text (a reason quoting a line): masked by scrubbed_sql.
_EMAIL_IN_TEXT = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*"


def masked_sql(value: str) -> str:
    """SQL masking one personal value so that it does not reveal it: an e-mail address keeps its
    first character, the domain's first character and its top-level domain (`j***@e***.com`), a
    name the first letter of each word (`J*** D***`). NULL stays NULL."""
    return (
        f"case when {value} like '%@%' then left({value}, 1) || '***@' "
        f"|| left(split_part({value}, '@', 2), 1) || '***' "
        f"|| coalesce(nullif(regexp_extract(split_part({value}, '@', 2), "
        r"'(\.[A-Za-z]{2,})$'), ''), '') "
        rf"else regexp_replace({value}, '([\pL\pN])[\pL\pN]*', '\1***', 'g') end"
    )


def scrubbed_sql(text: str) -> str:
    """SQL replacing every e-mail address in a text (a quarantine reason) by `***@***`."""
    return f"regexp_replace({text}, {string_literal(_EMAIL_IN_TEXT)}, '***@***', 'g')"


LINEAGE_COLUMNS = {
    "_source_file": "varchar",
    "_row_number": "bigint",
    "_partition_day": "date",
    "_loaded_at": "timestamp",
}


@dataclass(frozen=True)
class Rule:
    """A row breaks the rule when `condition` (SQL over the typed columns) is true."""

    condition: str
    reason: str  # SQL expression giving the reason text (may quote the offending value)


@dataclass(frozen=True)
class TableSpec:
    required: tuple[str, ...]  # columns a source must provide (mapped or same-named)
    key: tuple[str, ...]  # a second row with the same key but other values is quarantined
    timestamp: str | None = None  # partitions the table by day; None: loaded whole every time
    rules: tuple[Rule, ...] = field(default=())
    one_of: tuple[tuple[str, ...], ...] = ()  # at least one of these column groups is required


def _missing(column: str) -> Rule:
    return Rule(f"{column} is null or trim(cast({column} as varchar)) = ''", f"'missing {column}'")


def _one_of(column: str, values: tuple[str, ...]) -> Rule:
    listed = ", ".join(f"'{value}'" for value in values)
    return Rule(
        f"{column} is not null and lower(trim({column})) not in ({listed})",
        f"'unknown {column} ' || '''' || {column} || '''' || ' (expected one of {', '.join(values)})'",
    )


ORDER_STATUSES = order_statuses()  # the dbt seed order_statuses.csv

TABLES: dict[str, TableSpec] = {
    "order_lines": TableSpec(
        required=("customer_id", "ordered_at"),
        one_of=(("amount",), ("quantity", "unit_price")),
        key=("order_id", "line_number"),
        timestamp="ordered_at",
        rules=(
            # A missing customer id is kept: the line counts for revenue, not for any customer.
            _missing("ordered_at"),
            Rule("quantity = 0", "'quantity is 0'"),
            Rule(
                "unit_price < 0",
                "'unit_price must be >= 0, got ' || cast(unit_price as varchar)",
            ),
            Rule(
                "amount is null and (quantity is null or unit_price is null)",
                "'no amount and no quantity with unit_price'",
            ),
            _one_of("status", ORDER_STATUSES),
        ),
    ),
    "customers": TableSpec(
        required=("customer_id",),
        key=("customer_id",),
        rules=(_missing("customer_id"),),
    ),
    "products": TableSpec(
        required=("product_id",),
        key=("product_id",),
        rules=(
            _missing("product_id"),
            Rule("price < 0", "'negative price ' || cast(price as varchar)"),
        ),
    ),
    "web_events": TableSpec(
        required=("session_id", "event_type", "event_at"),
        key=("event_id",),
        timestamp="event_at",
        rules=(
            _missing("session_id"),
            _missing("event_at"),
            _missing("event_type"),
            _one_of("event_type", event_types()),  # the dbt seed event_types.csv
        ),
    ),
    # Small tables, loaded whole every time (no daily partitions).
    "reviews": TableSpec(
        required=("customer_id", "product_id", "rating", "reviewed_at"),
        key=("review_id",),
        rules=(
            _missing("customer_id"),
            _missing("product_id"),
            _missing("reviewed_at"),
            Rule(
                "rating not between 1 and 5 or rating <> floor(rating)",
                "'rating must be a whole number from 1 to 5, got ' || cast(rating as varchar)",
            ),
        ),
    ),
    "campaign_sends": TableSpec(
        required=("campaign_id", "customer_id", "sent_at"),
        key=("campaign_id", "customer_id"),
        rules=(_missing("campaign_id"), _missing("customer_id"), _missing("sent_at")),
    ),
}


# The type of order_lines.quantity when the source says quantities may be fractional.
FRACTIONAL_QUANTITY_TYPE = "decimal(18, 4)"


def column_types(table: str, source: Source | None = None) -> dict[str, str]:
    """The canonical columns of `table` and their DuckDB types for this source: as in
    CANONICAL_COLUMNS, except order_lines.quantity, which is FRACTIONAL_QUANTITY_TYPE when the
    source sets `fractional_quantities` (weights, litres) and a whole number (bigint) otherwise."""
    types = dict(CANONICAL_COLUMNS[table])
    if table == "order_lines" and source is not None and source.fractional_quantities:
        types["quantity"] = FRACTIONAL_QUANTITY_TYPE
    return types


def raw_table_ddl(schema: str, table: str, source: Source | None = None) -> str:
    columns = {**column_types(table, source), **LINEAGE_COLUMNS}
    listed = ", ".join(f"{identifier(name)} {kind}" for name, kind in columns.items())
    return f"create table if not exists {relation(schema, table)} ({listed})"


def ensure_raw_tables(conn: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Create every canonical raw table and the bookkeeping tables if missing (empty)."""
    conn.execute(f"create schema if not exists {identifier(schema)}")
    for table in CANONICAL_COLUMNS:
        conn.execute(raw_table_ddl(schema, table))
    conn.execute(
        f"create table if not exists {relation(schema, QUARANTINE_TABLE)} ("
        "source_table varchar, source_file varchar, row_number bigint, partition_day date, "
        "reason varchar, record json, quarantined_at timestamp)"
    )
    conn.execute(
        f"create table if not exists {relation(schema, LOAD_LOG_TABLE)} ("
        "source_table varchar, source_file varchar, partition_day date, rows_read bigint, "
        "rows_loaded bigint, rows_quarantined bigint, loaded_at timestamp, warnings varchar)"
    )
    # warnings: what was tolerated in the file (see LoadReport.warnings); added to a load log
    # created before it existed.
    conn.execute(
        f"alter table {relation(schema, LOAD_LOG_TABLE)} add column if not exists warnings varchar"
    )
    # rows_erased: rows of customers on the erasure list (landing/erasure.py), neither loaded nor
    # quarantined: rows_read = rows_loaded + rows_quarantined + rows_erased.
    conn.execute(
        f"alter table {relation(schema, LOAD_LOG_TABLE)} "
        "add column if not exists rows_erased bigint default 0"
    )
    # rows_in_file: the independent count (null: not countable, count_note says why);
    # rows_read_by_loader: the rows DuckDB read from the whole file, every day;
    # rows_in_window: those of them in the load's window (all of them when the load covered the
    # file); window_start/window_end: the load's days (null: every day).
    conn.execute(
        f"create table if not exists {relation(schema, FILE_COUNT_TABLE)} ("
        "source_table varchar, source_file varchar, rows_in_file bigint, counted_by varchar, "
        "count_note varchar, rows_read_by_loader bigint, rows_in_window bigint, "
        "window_start date, window_end date, counted_at timestamp)"
    )
    # fingerprint: the file's size and modification time at that load (landing.read
    # file_fingerprint); a file whose fingerprint changed is reloaded on every day.
    conn.execute(
        f"alter table {relation(schema, FILE_COUNT_TABLE)} "
        "add column if not exists fingerprint varchar"
    )
