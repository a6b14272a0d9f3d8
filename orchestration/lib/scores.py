"""The scored tables' contract, as declared once in dbt (the `scores` source in
dbt_project/models/activation/_scores__sources.yml), and the one way to write a scored table."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from landing.sql import identifier, relation
from orchestration.lib.warehouse import table_columns
from orchestration.settings import SCORES_SCHEMA

if TYPE_CHECKING:
    import pandas as pd

Columns = list[tuple[str, str]]  # (name, SQL type), in table order


@functools.cache
def _manifest(manifest_path: Path) -> dict:
    """dbt's manifest, parsed once per process (about 1.6 MB of JSON)."""
    return json.loads(Path(manifest_path).read_text())


def scored_table_contract(manifest_path: Path) -> dict[str, Columns]:
    """Each table of the dbt source `scores` with its declared columns and types."""
    manifest = _manifest(manifest_path)
    contract = {}
    for source in manifest["sources"].values():
        if source["source_name"] != SCORES_SCHEMA:
            continue
        columns = [(c["name"], c.get("data_type")) for c in source["columns"].values()]
        untyped = [name for name, dtype in columns if not dtype]
        if not columns or untyped:
            raise ValueError(
                f"{source['original_file_path']}: source {SCORES_SCHEMA}.{source['name']} must "
                f"declare every column with a data_type (missing for {untyped or 'all columns'})"
            )
        contract[source["name"]] = columns
    return contract


def exported_tables(manifest_path: Path) -> list[str]:
    """The tables users read: the declared scored tables and the dbt models in `scores`."""
    manifest = _manifest(manifest_path)
    models = sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == SCORES_SCHEMA
    )
    return [*scored_table_contract(manifest_path), *models]


def scores_relation(table: str) -> str:
    """scores.`table`, quoted for SQL."""
    return relation(SCORES_SCHEMA, table)


def _definition(columns: Sequence) -> str:
    """The declared columns as a table definition (`name type, ...`)."""
    return ", ".join(f"{identifier(name)} {dtype}" for name, dtype in columns)


def _select_declared(frame: pd.DataFrame, table: str, columns: Sequence) -> str:
    """The select of `frame`'s declared columns cast to their declared types (registered as
    _scores_to_write); a missing or extra column is an error."""
    declared = [name for name, _ in columns]
    if sorted(frame.columns) != sorted(declared):
        raise ValueError(
            f"scores.{table}: the model wrote columns {sorted(frame.columns)}, the contract "
            f"(dbt source scores.{table}) declares {sorted(declared)}"
        )
    casts = ", ".join(
        f"cast({identifier(name)} as {dtype}) as {identifier(name)}" for name, dtype in columns
    )
    return f"select {casts} from _scores_to_write"


def write_scores(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame | None,
    columns: Sequence,
    append: bool = False,
) -> None:
    """Replace scores.`table` with `frame` in one statement (`append`: add its rows to the
    table), with exactly the declared columns, cast to their declared types (a missing or extra
    column is an error); None = empty table."""
    target = scores_relation(table)
    conn.execute(f"create schema if not exists {identifier(SCORES_SCHEMA)}")
    if frame is None:
        conn.execute(f"create or replace table {target} ({_definition(columns)})")
        return
    select = _select_declared(frame, table, columns)
    conn.register("_scores_to_write", frame)
    try:
        if append:
            conn.execute(f"insert into {target} by name {select}")
        else:
            conn.execute(f"create or replace table {target} as {select}")
    finally:
        conn.unregister("_scores_to_write")


def has_declared_columns(conn: duckdb.DuckDBPyConnection, table: str, columns: Sequence) -> bool:
    """True when scores.`table` exists with exactly the declared columns and types, in order."""
    conn.execute(f"create or replace temp table _declared_scores ({_definition(columns)})")
    try:
        declared = table_columns(conn, "main", "_declared_scores")
    finally:
        conn.execute("drop table _declared_scores")
    return table_columns(conn, SCORES_SCHEMA, table) == declared
