"""Proof that every row read was loaded or quarantined, per source file and day."""

from __future__ import annotations

from pathlib import Path

import duckdb

from landing.sql import identifier
from landing.tables import LOAD_LOG_TABLE, QUARANTINE_TABLE


def reconcile(conn: duckdb.DuckDBPyConnection, table: str, schema: str = "raw") -> list[str]:
    """Per source file and day: rows read = loaded + quarantined, and the loaded and quarantined
    rows are in their tables. Returns the discrepancies (empty when every row is accounted for)."""
    rows = conn.execute(
        f"""
        select log.source_file, log.partition_day, log.rows_read, log.rows_loaded,
            log.rows_quarantined,
            (select count(*) from {identifier(schema)}.{identifier(table)} t
             where t._source_file = log.source_file
               and t._partition_day is not distinct from log.partition_day),
            (select count(*) from {identifier(schema)}.{identifier(QUARANTINE_TABLE)} q
             where q.source_table = log.source_table and q.source_file = log.source_file
               and q.partition_day is not distinct from log.partition_day)
        from {identifier(schema)}.{identifier(LOAD_LOG_TABLE)} log
        where log.source_table = ?
        order by 1, 2
        """,
        [table],
    ).fetchall()
    problems = []
    for source_file, day, read, loaded, quarantined, in_table, in_quarantine in rows:
        if read != loaded + quarantined or loaded != in_table or quarantined != in_quarantine:
            problems.append(
                f"{Path(source_file).name} day {day or '(none)'}: read {read}, loaded {loaded} "
                f"({in_table} in {table}), quarantined {quarantined} ({in_quarantine} in "
                f"{QUARANTINE_TABLE})"
            )
    return problems
