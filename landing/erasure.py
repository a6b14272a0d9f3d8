"""The erasure list: customers whose data the platform must no longer hold, by salted hash.

A customer is erased once (orchestration/lib/erasure.py removes them from every table, export and
model); the list keeps only the SHA-256 of the salt and their id, never the id, so that every
later load (landing/load.py) applies the same rule and a re-delivered file cannot bring them back:

- their rows in customers, web_events, reviews and campaign_sends are not loaded, and counted in
  raw.load_log.rows_erased (read = loaded + quarantined + erased);
- their order lines are loaded without a customer id (ERASED_KEPT): an order line without a
  customer counts for revenue and for its products, not for any customer, so revenue totals do
  not change when a customer is erased.

The hash is computed the same way in Python (erasure_hash) and in SQL (erased_sql), with the
salt always a bound parameter.
"""

from __future__ import annotations

import hashlib
import re

import duckdb

from landing.sql import identifier, relation
from landing.tables import (
    CUSTOMER_COLUMN,
    LOAD_LOG_TABLE,
    QUARANTINE_TABLE,
    TABLES,
    ensure_raw_tables,
)

ERASURE_TABLE = "erasures"
# Tables whose rows of an erased customer are kept, anonymized (customer id set to NULL).
ERASED_KEPT = ("order_lines",)
_SEPARATOR = "\x1f"  # between salt and id, so that ("ab", "c") and ("a", "bc") differ


def erasure_hash(customer_id: str, salt: str) -> str:
    """The hex SHA-256 of the salt and the trimmed customer id: what the erasure list holds."""
    return hashlib.sha256(f"{salt}{_SEPARATOR}{customer_id.strip()}".encode()).hexdigest()


def erased_sql(column: str, schema: str = "raw") -> str:
    """SQL that is true when `column` (a customer id) is on the erasure list; binds $erasure_salt."""
    return (
        f"({column} is not null and sha256($erasure_salt || chr(31) || trim(cast({column} as "
        f"varchar))) in (select customer_hash from {relation(schema, ERASURE_TABLE)}))"
    )


def ensure_erasure_table(conn: duckdb.DuckDBPyConnection, schema: str = "raw") -> None:
    conn.execute(f"create schema if not exists {identifier(schema)}")
    conn.execute(
        f"create table if not exists {relation(schema, ERASURE_TABLE)} ("
        "customer_hash varchar primary key, erased_at timestamp)"
    )


def erasure_count(conn: duckdb.DuckDBPyConnection, schema: str = "raw") -> int:
    """How many customers are on the erasure list (0 when it does not exist yet)."""
    (exists,) = conn.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
        [schema, ERASURE_TABLE],
    ).fetchone()
    if not exists:
        return 0
    return conn.execute(f"select count(*) from {relation(schema, ERASURE_TABLE)}").fetchone()[0]


def record_erasure(
    conn: duckdb.DuckDBPyConnection, customer_id: str, salt: str, schema: str = "raw"
) -> bool:
    """Put a customer on the erasure list; False when they already were."""
    ensure_erasure_table(conn, schema)
    digest = erasure_hash(customer_id, salt)
    (known,) = conn.execute(
        f"select count(*) from {relation(schema, ERASURE_TABLE)} where customer_hash = ?",
        [digest],
    ).fetchone()
    if known:
        return False
    conn.execute(f"insert into {relation(schema, ERASURE_TABLE)} values (?, now())", [digest])
    return True


def erase_from_raw(
    conn: duckdb.DuckDBPyConnection, customer_id: str, salt: str, schema: str = "raw"
) -> dict[str, int]:
    """Apply the loader's erasure rule to what is already loaded, for one customer: remove their
    rows (order lines: clear the customer id) and their quarantine records, moving their counts
    in raw.load_log to rows_erased so that the reconciliation still holds; an id quoted in another
    quarantine reason is masked. Returns the rows affected per table (`quarantine` included).
    Run it in the caller's transaction, with record_erasure."""
    customer_id = customer_id.strip()
    ensure_raw_tables(conn, schema)  # a warehouse loaded before rows_erased existed gets it
    params = {"customer_id": customer_id}
    load_log = relation(schema, LOAD_LOG_TABLE)
    affected: dict[str, int] = {}

    def move_to_erased(table: str, counted: str, removed: str) -> None:
        """Per file and day of the removed rows (a query of source_file, partition_day, rows):
        rows_erased += rows, `counted` -= rows in the load log."""
        conn.execute(
            f"""
            update {load_log} log set rows_erased = coalesce(log.rows_erased, 0) + gone.n,
                {counted} = log.{counted} - gone.n
            from ({removed}) gone (file, day, n)
            where log.source_table = $table and log.source_file = gone.file
              and log.partition_day is not distinct from gone.day
            """,
            params | {"table": table},
        )

    match = f"trim(cast({CUSTOMER_COLUMN} as varchar)) = $customer_id"
    for table in TABLES:
        if CUSTOMER_COLUMN not in _columns(conn, schema, table):
            continue
        target = relation(schema, table)
        if table in ERASED_KEPT:
            statement = f"update {target} set {CUSTOMER_COLUMN} = null where {match}"
        else:
            move_to_erased(
                table,
                "rows_loaded",
                f"select _source_file, _partition_day, count(*) from {target} where {match} "
                "group by all",
            )
            statement = f"delete from {target} where {match}"
        affected[table] = conn.execute(statement, params).fetchone()[0]
    quarantine = relation(schema, QUARANTINE_TABLE)
    theirs = f"trim(record ->> '{CUSTOMER_COLUMN}') = $customer_id"
    for table in TABLES:
        if table in ERASED_KEPT:  # quarantined order lines stay, without the customer id
            affected[f"{QUARANTINE_TABLE} ({table}, customer id cleared)"] = conn.execute(
                f"update {quarantine} set record = regexp_replace(record::varchar, $their_id, "
                f"'\"{CUSTOMER_COLUMN}\":null')::json where source_table = $table and {theirs}",
                params | {"table": table, "their_id": rf'"{CUSTOMER_COLUMN}":"([^"\\]|\\.)*"'},
            ).fetchone()[0]
            continue
        move_to_erased(
            table,
            "rows_quarantined",
            f"select source_file, partition_day, count(*) from {quarantine} "
            f"where source_table = $table and {theirs} group by all",
        )
    affected[QUARANTINE_TABLE] = conn.execute(
        f"delete from {quarantine} where source_table not in (select unnest($kept)) and {theirs}",
        params | {"kept": list(ERASED_KEPT)},
    ).fetchone()[0]
    # The id quoted in a reason (an unreadable line, a duplicate's value): masked in place.
    conn.execute(
        f"update {quarantine} set reason = regexp_replace(reason, $quoted, '\\1***\\2', 'g') "
        "where contains(reason, $customer_id)",
        params | {"quoted": rf"(^|[^0-9A-Za-z]){re.escape(customer_id)}($|[^0-9A-Za-z])"},
    )
    return affected


def _columns(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    return {
        name
        for (name,) in conn.execute(
            "select column_name from duckdb_columns() where schema_name = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    }
