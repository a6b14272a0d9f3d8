"""Load landing files into the warehouse so that every row is either loaded or quarantined.

Plain DuckDB code, no Dagster: `load_table` reads a source table's files, classifies each row by
the first rule it breaks (or as a duplicate), replaces `raw.<table>` with the clean rows, and, in
the same transaction, records the rejected rows with file, row number and reason in
`raw.quarantine` and the per-file counts in `raw.load_log`.
"""

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration.lib.warehouse import identifier

QUARANTINE_TABLE = "quarantine"
LOAD_LOG_TABLE = "load_log"


@dataclass(frozen=True)
class Rule:
    """A row breaks the rule when `condition` (SQL over the row's columns) is true."""

    condition: str
    reason: str  # SQL expression giving the reason text (may quote the offending value)


@dataclass(frozen=True)
class TableSpec:
    required: tuple[str, ...]  # columns the files must have
    key: tuple[str, ...]  # a second row with the same key but other values is quarantined
    rules: tuple[Rule, ...] = field(default=())


def _missing(column: str) -> Rule:
    return Rule(f"{column} is null or trim(cast({column} as varchar)) = ''", f"'missing {column}'")


def _not_in_future(column: str) -> Rule:
    return Rule(
        f"{column} > now()::timestamp + interval 1 day",
        f"'{column} in the future: ' || cast({column} as varchar)",
    )


def _one_of(column: str, values: tuple[str, ...]) -> Rule:
    listed = ", ".join(f"'{value}'" for value in values)
    return Rule(
        f"{column} is null or lower(trim({column})) not in ({listed})",
        f"'unknown {column} ' || coalesce('''' || {column} || '''', 'NULL') || ' (expected one of {', '.join(values)})'",
    )


TABLES: dict[str, TableSpec] = {
    "customers": TableSpec(
        required=("customer_id", "signup_at"),
        key=("customer_id",),
        rules=(_missing("customer_id"), _missing("signup_at"), _not_in_future("signup_at")),
    ),
    "products": TableSpec(
        required=("product_id", "category", "price"),
        key=("product_id",),
        rules=(
            _missing("product_id"),
            Rule("price < 0", "'negative price ' || cast(price as varchar)"),
        ),
    ),
    "orders": TableSpec(
        required=("order_id", "customer_id", "ordered_at", "status"),
        key=("order_id",),
        rules=(
            _missing("order_id"),
            _missing("customer_id"),
            _missing("ordered_at"),
            _not_in_future("ordered_at"),
            _one_of("status", ("completed", "cancelled", "returned")),
        ),
    ),
    "order_items": TableSpec(
        required=("order_id", "line_number", "product_id", "quantity", "unit_price"),
        key=("order_id", "line_number"),
        rules=(
            _missing("order_id"),
            _missing("product_id"),
            Rule(
                "quantity is null or quantity < 1",
                "'quantity must be at least 1, got ' || coalesce(cast(quantity as varchar), 'NULL')",
            ),
            Rule(
                "unit_price is null or unit_price < 0",
                "'unit_price must be >= 0, got ' || coalesce(cast(unit_price as varchar), 'NULL')",
            ),
        ),
    ),
    "web_events": TableSpec(
        required=("event_id", "session_id", "event_type", "event_at"),
        key=("event_id",),
        rules=(
            _missing("event_id"),
            _missing("event_at"),
            _not_in_future("event_at"),
            _one_of(
                "event_type", ("page_view", "search", "product_view", "add_to_cart", "purchase")
            ),
        ),
    ),
}


class MissingColumnError(ValueError):
    """A landing file lacks a column the platform needs; nothing of the table was loaded."""


@dataclass(frozen=True)
class LoadReport:
    table: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    reasons: dict[str, int]  # reason -> rows
    files: list[str]


def _check_columns(conn: duckdb.DuckDBPyConnection, table: str, files: list[str]) -> list[str]:
    """The union of the files' columns, or MissingColumnError naming the file and the column."""
    columns: dict[str, None] = {}
    for path in files:
        found = [
            row[0]
            for row in conn.execute("describe select * from read_parquet(?)", [path]).fetchall()
        ]
        missing = [column for column in TABLES[table].required if column not in found]
        if missing:
            raise MissingColumnError(
                f"{path}: missing column(s) {', '.join(missing)} for table '{table}' "
                f"(expected at least {', '.join(TABLES[table].required)}); nothing was loaded"
            )
        for column in found:
            identifier(column)  # raises on a name that is not a plain identifier
            columns[column] = None
    return list(columns)


def load_table(
    conn: duckdb.DuckDBPyConnection, table: str, files: list[str], schema: str = "raw"
) -> LoadReport:
    """Load `files` into schema.table, quarantining bad rows; one transaction, all or nothing."""
    spec = TABLES[table]
    data_columns = _check_columns(conn, table, files)
    columns_sql = ", ".join(identifier(c) for c in data_columns)
    rules = "\n".join(f"when {rule.condition} then {rule.reason}" for rule in spec.rules)
    key_sql = ", ".join(identifier(c) for c in spec.key)
    target = f"{identifier(schema)}.{identifier(table)}"
    quarantine = f"{identifier(schema)}.{identifier(QUARANTINE_TABLE)}"
    load_log = f"{identifier(schema)}.{identifier(LOAD_LOG_TABLE)}"
    conn.execute("begin transaction")
    try:
        conn.execute(f"create schema if not exists {identifier(schema)}")
        conn.execute(
            f"""
            create or replace temp table _classified as
            with incoming as (
                select {columns_sql}, filename as _source_file, file_row_number + 1 as _row_number
                from read_parquet($files, filename = true, file_row_number = true,
                                  union_by_name = true)
            ),
            ranked as (
                select *,
                    row_number() over (partition by {columns_sql} order by _source_file, _row_number) as _copy,
                    row_number() over (partition by {key_sql} order by _source_file, _row_number) as _key_copy
                from incoming
            )
            select * exclude (_copy, _key_copy),
                case {rules}
                     when _copy > 1 then 'exact duplicate of an earlier row'
                     when _key_copy > 1 then 'duplicate {"/".join(spec.key)} with different values'
                end as _reason
            from ranked
            """,
            {"files": files},  # file paths are bound, never spliced into the SQL
        )
        conn.execute(
            f"create or replace table {target} as select {columns_sql}, _source_file, "
            "now() as _loaded_at from _classified where _reason is null order by _source_file, _row_number"
        )
        conn.execute(
            f"create table if not exists {quarantine} (source_table varchar, source_file varchar, "
            "row_number bigint, reason varchar, record json, quarantined_at timestamp)"
        )
        conn.execute(f"delete from {quarantine} where source_table = ?", [table])
        record = (
            "to_json(struct_pack("
            + ", ".join(f"{identifier(c)} := {identifier(c)}" for c in data_columns)
            + "))"
        )
        conn.execute(
            f"insert into {quarantine} select ?, _source_file, _row_number, _reason, {record}, now() "
            "from _classified where _reason is not null order by _source_file, _row_number",
            [table],
        )
        conn.execute(
            f"create table if not exists {load_log} (source_table varchar, source_file varchar, "
            "rows_read bigint, rows_loaded bigint, rows_quarantined bigint, loaded_at timestamp)"
        )
        conn.execute(f"delete from {load_log} where source_table = ?", [table])
        conn.execute(
            f"insert into {load_log} select ?, _source_file, count(*), count(*) filter (where _reason is null), "
            "count(*) filter (where _reason is not null), now() from _classified group by _source_file",
            [table],
        )
        read, loaded = conn.execute(
            "select count(*), count(*) filter (where _reason is null) from _classified"
        ).fetchone()
        reasons = dict(
            conn.execute(
                "select _reason, count(*) from _classified where _reason is not null group by 1 order by 2 desc"
            ).fetchall()
        )
        conn.execute("drop table _classified")
        conn.execute("commit")
    except Exception:
        conn.execute("rollback")
        raise
    return LoadReport(table, read, loaded, read - loaded, reasons, files)


def reconcile(conn: duckdb.DuckDBPyConnection, table: str, schema: str = "raw") -> list[str]:
    """Per source file: rows read = loaded + quarantined, and the loaded rows are in the table.
    Returns the discrepancies (empty when every row is accounted for)."""
    rows = conn.execute(
        f"""
        select log.source_file, log.rows_read, log.rows_loaded, log.rows_quarantined,
            (select count(*) from {identifier(schema)}.{identifier(table)} t where t._source_file = log.source_file),
            (select count(*) from {identifier(schema)}.{identifier(QUARANTINE_TABLE)} q
             where q.source_table = log.source_table and q.source_file = log.source_file)
        from {identifier(schema)}.{identifier(LOAD_LOG_TABLE)} log
        where log.source_table = ?
        order by 1
        """,
        [table],
    ).fetchall()
    problems = []
    for source_file, read, loaded, quarantined, in_table, in_quarantine in rows:
        if read != loaded + quarantined or loaded != in_table or quarantined != in_quarantine:
            problems.append(
                f"{Path(source_file).name}: read {read}, loaded {loaded} ({in_table} in {table}), "
                f"quarantined {quarantined} ({in_quarantine} in {QUARANTINE_TABLE})"
            )
    if not rows:
        problems.append(f"no load recorded for {table}")
    return problems
