"""Proof that every row read was loaded or quarantined, per source file and day, and that the
loader read every row of each file, by a count that is not the loader's (landing/count.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from landing.sql import relation
from landing.tables import FILE_COUNT_TABLE, LOAD_LOG_TABLE, QUARANTINE_TABLE

# How the independent count is compared; the reconciliation check can show it in its metadata.
INDEPENDENT_COUNT_SCOPE = (
    "Each file of the latest load is counted by a reader that is not the loader (CSV: Python's "
    "csv module, blank lines skipped, lines folded into a quoted field by an unbalanced quote "
    "counted as records; Parquet: the row count in its metadata). When the load covered the "
    "whole file (no day window, or every row of the file in the window), that count must equal "
    "loaded + quarantined summed over the file's days of that load in raw.load_log. When a day "
    "window covered only part of the file, loaded + quarantined holds only those days, so the "
    "count is compared with the rows DuckDB read from the whole file in that load instead."
)


def _independent_count_problems(
    conn: duckdb.DuckDBPyConnection, table: str, schema: str
) -> list[str]:
    """Per file of the latest load: its independent count against loaded + quarantined."""
    known = conn.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
        [schema, FILE_COUNT_TABLE],
    ).fetchone()[0]
    if not known:
        return []  # a warehouse loaded before the independent count existed
    rows = conn.execute(
        f"""
        select fc.source_file, fc.rows_in_file, fc.counted_by, fc.count_note,
            fc.rows_read_by_loader, fc.rows_in_window, fc.window_start, fc.window_end,
            (select coalesce(sum(log.rows_loaded + log.rows_quarantined
                + coalesce(log.rows_erased, 0)), 0)
             from {relation(schema, LOAD_LOG_TABLE)} log
             where log.source_table = fc.source_table and log.source_file = fc.source_file
               and (fc.window_start is null or log.partition_day is null
                    or log.partition_day between fc.window_start and fc.window_end)),
            (select count(*)
             from {relation(schema, LOAD_LOG_TABLE)} log
             where log.source_table = fc.source_table and log.source_file = fc.source_file
               and (fc.window_start is null or log.partition_day is null
                    or log.partition_day between fc.window_start and fc.window_end))
        from {relation(schema, FILE_COUNT_TABLE)} fc
        where fc.source_table = ?
        order by 1
        """,
        [table],
    ).fetchall()
    problems = []
    for file, in_file, method, note, read, in_window, start, end, accounted, days in rows:
        name = file
        detail = f"; {note}" if note else ""
        if in_file is None:
            problems.append(
                f"{name}: no independent count ({method}{detail}); the loader read {read}"
            )
        elif in_window == read:  # the load covered the whole file
            if in_file != accounted:
                problems.append(
                    f"{name}: {in_file} rows in the file by the {method}, but loaded + "
                    f"quarantined + erased {accounted} (summed over {days} day(s) of "
                    f"raw.load_log){detail}"
                )
        elif in_file != read:
            problems.append(
                f"{name}: {in_file} rows in the file by the {method}, but the loader read {read} "
                f"(every day; this load covered {start}..{end} only){detail}"
            )
    return problems


def reconcile(conn: duckdb.DuckDBPyConnection, table: str, schema: str = "raw") -> list[str]:
    """Per source file and day: rows read = loaded + quarantined + erased (customers on the
    erasure list), and the loaded and quarantined rows are in their tables; per file: its
    independent count = loaded + quarantined + erased (see
    INDEPENDENT_COUNT_SCOPE). Returns the discrepancies (empty when every row is accounted for)."""
    rows = conn.execute(
        f"""
        select log.source_file, log.partition_day, log.rows_read, log.rows_loaded,
            log.rows_quarantined, coalesce(log.rows_erased, 0),
            (select count(*) from {relation(schema, table)} t
             where t._source_file = log.source_file
               and t._partition_day is not distinct from log.partition_day),
            (select count(*) from {relation(schema, QUARANTINE_TABLE)} q
             where q.source_table = log.source_table and q.source_file = log.source_file
               and q.partition_day is not distinct from log.partition_day)
        from {relation(schema, LOAD_LOG_TABLE)} log
        where log.source_table = ?
        order by 1, 2
        """,
        [table],
    ).fetchall()
    problems = []
    for source_file, day, read, loaded, quarantined, erased, in_table, in_quarantine in rows:
        if (
            read != loaded + quarantined + erased
            or loaded != in_table
            or quarantined != in_quarantine
        ):
            problems.append(
                f"{Path(source_file).name} day {day or '(none)'}: read {read}, loaded {loaded} "
                f"({in_table} in {table}), quarantined {quarantined} ({in_quarantine} in "
                f"{QUARANTINE_TABLE}), erased {erased}"
            )
    return problems + _independent_count_problems(conn, table, schema)
