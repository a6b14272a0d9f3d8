"""Small DuckDB helpers shared by the assets: writing frames, describing tables."""

from __future__ import annotations

import re

import dagster as dg
import duckdb
import pandas as pd

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def identifier(name: str) -> str:
    """Return `name` quoted for SQL after checking it is a plain identifier (never user SQL)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"Not a valid table or column name: {name!r}")
    return f'"{name}"'


def replace_table(
    conn: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pd.DataFrame
) -> int:
    """Atomically replace schema.table with the rows of `frame`; return the row count."""
    target = f"{identifier(schema)}.{identifier(table)}"
    conn.execute(f"create schema if not exists {identifier(schema)}")
    conn.register("_frame_to_write", frame)
    try:
        conn.execute(f"create or replace table {target} as select * from _frame_to_write")
    finally:
        conn.unregister("_frame_to_write")
    return len(frame)


def table_metadata(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, object]:
    """Row count and column schema of a warehouse table, as Dagster metadata."""
    target = f"{identifier(schema)}.{identifier(table)}"
    rows = conn.execute(f"select count(*) from {target}").fetchone()[0]
    columns = conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return {
        "dagster/row_count": dg.MetadataValue.int(int(rows)),
        "dagster/table_name": f"{schema}.{table}",
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, str(dtype)) for name, dtype in columns]
        ),
    }


def read_table(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> pd.DataFrame:
    """A whole warehouse table as a pandas frame."""
    return conn.execute(f"select * from {identifier(schema)}.{identifier(table)}").df()
