"""Small DuckDB helpers shared by the assets: writing frames, describing tables."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from landing.sql import identifier, relation, string_literal

if TYPE_CHECKING:  # pandas loads in the steps that read frames, not with the definitions
    import pandas as pd

_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")
LOCK_WAIT_SECONDS = 5.0


class WarehouseLockedError(RuntimeError):
    """Another process outside Dagster holds DuckDB's lock on the warehouse file."""


def lock_message(error: Exception, path: str | Path) -> str | None:
    """A clear explanation of a DuckDB lock error (who holds the file, what to do), else None."""
    match = _LOCK_HOLDER.search(str(error))
    if "Could not set lock" not in str(error) and match is None:
        return None
    holder = "another process"
    if match:
        pid = match.group("pid")
        try:
            command = (
                Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            )
        except OSError:
            command = match.group("program")
        holder = f"process {pid} ({command})"
        stop = f" or stop it (kill {pid})"
    else:
        stop = ""
    return (
        f"The warehouse {path} is locked by {holder}. DuckDB allows one writer per file. Dagster "
        f"runs wait for each other on the 'duckdb' pool, so the holder is a program outside "
        f"Dagster, such as a notebook or a duckdb shell with the file open. Close that "
        f"connection{stop}, then run again."
    )


def _open(
    path: str | Path, read_only: bool = False, config: dict | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting briefly if it is locked; a lock that persists raises
    WarehouseLockedError with lock_message's explanation instead of DuckDB's IO error. DuckDB's
    progress bar is off: it writes to the terminal beneath Python, through `make run`'s progress
    lines (a 300k shop's long queries cut two of them)."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            conn = duckdb.connect(str(path), read_only=read_only, config=config or {})
            conn.execute("set enable_progress_bar = false")  # a session setting, not a config one
            return conn
        except duckdb.IOException as error:
            message = lock_message(error, path)
            if message is None:
                raise
            if time.monotonic() > deadline:
                raise WarehouseLockedError(message) from None
            time.sleep(0.25)


class TurnConnection:
    """A warehouse connection opened during a turn in the `duckdb` pool (connect): used like the
    DuckDB connection it wraps; closing it, or leaving its `with` block, also ends the turn."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, turn: ExitStack) -> None:
        self._conn, self._turn = conn, turn

    def __getattr__(self, name: str) -> object:
        return getattr(self._conn, name)

    def close(self) -> None:
        try:
            self._conn.close()
        finally:
            self._turn.close()

    def __enter__(self) -> TurnConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def connect(
    path: str | Path, read_only: bool = False, config: dict | None = None
) -> TurnConnection:
    """Open the warehouse from outside a Dagster step (the CLI's check before a run, `make run`'s
    summary). First wait for a turn in the instance's `duckdb` pool, as every step that opens the
    file does (orchestration.instance.pool_turn), so a run's step in progress is waited for, not
    reported as a lock, and a step starting meanwhile waits for this connection. A lock that still
    persists is a program outside Dagster: WarehouseLockedError, naming it. Steps open the file
    through WarehouseResource, under the slot Dagster claimed for them."""
    from orchestration.instance import pool_turn

    turn = ExitStack()
    try:
        turn.enter_context(pool_turn(f"open the warehouse (process {os.getpid()})"))
        return TurnConnection(_open(path, read_only, config), turn)
    except BaseException:
        turn.close()
        raise


class WarehouseResource(DuckDBResource):
    """DuckDBResource that always closes its connection and explains lock conflicts. It opens the
    file without taking a turn in the pool: Dagster holds the step's slot already."""

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        try:
            conn = _open(
                self.database, config={"custom_user_agent": "dagster", **self.connection_config}
            )
        except WarehouseLockedError as error:
            raise dg.Failure(description=str(error)) from None
        try:
            yield conn
        finally:
            conn.close()


def table_columns(
    conn: duckdb.DuckDBPyConnection, schema: str, table: str
) -> list[tuple[str, str]]:
    """(name, type) of each column of schema.table, in table order."""
    return conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()


def table_metadata(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, object]:
    """Row count and column schema of a warehouse table, as Dagster metadata."""
    target = relation(schema, table)
    rows = conn.execute(f"select count(*) from {target}").fetchone()[0]
    columns = table_columns(conn, schema, table)
    return {
        "dagster/row_count": dg.MetadataValue.int(int(rows)),
        "dagster/table_name": f"{schema}.{table}",
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, str(dtype)) for name, dtype in columns]
        ),
    }


# Vectors of 2,048 rows fetched at a time by read_asset.
READ_CHUNK_VECTORS = 100


def asset_relation(key: dg.AssetKey) -> str:
    """The warehouse table of an asset (key `<schema>/<table>`), quoted for SQL."""
    schema, table = key.path
    return relation(schema, table)


def read_asset(
    conn: duckdb.DuckDBPyConnection, key: dg.AssetKey, where: str | None = None
) -> pd.DataFrame:
    """The warehouse table of an asset (key `<schema>/<table>`) as a pandas frame, in the order
    its rows are stored (only the rows that `where`, a SQL condition, keeps). The dbt models the
    ML steps read end with `order by` their key, and DuckDB keeps a table's insertion order when
    reading it (`preserve_insertion_order`), so the same table always gives the same frame
    (models trained on the same rows in a different order can differ, e.g. k-means
    initialisation); tests/test_read_asset.py checks those tables are stored sorted. Sorting
    here instead held DuckDB's sort of the whole table beside the frame: on 300k customers'
    interactions (a 0.77 GiB frame) the read peaked 2.43 GiB above the process's start and left
    it 2.08 GiB larger, in 5.9 s; without, 1.59 GiB and 1.17 GiB, in 4.3 s. Fetched
    READ_CHUNK_VECTORS of DuckDB's vectors at a time: DuckDB then holds one chunk of the result
    beside the frame, not the whole result."""
    import pandas as pd

    result = conn.execute(f"select * from {asset_relation(key)} where {where or 'true'}")
    chunks = [result.fetch_df_chunk(READ_CHUNK_VECTORS)]
    while len(chunks[-1]):
        chunks.append(result.fetch_df_chunk(READ_CHUNK_VECTORS))
    if len(chunks) == 1:
        return chunks[0]
    return pd.concat(chunks[:-1], ignore_index=True)


# A text cell starting with one of these is run as a formula by spreadsheet programs (CSV
# injection); CSV exports prefix such cells with an apostrophe, which displays them as text.
SPREADSHEET_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# The test on a cell's first character, as SQL (a regular expression cost 1.1 s more on the 1m
# shop's 10 M recommended products, 5.8 s against 4.7 s).
_FORMULA_START_SQL = ", ".join(f"chr({ord(character)})" for character in SPREADSHEET_FORMULA_START)


def export_table(conn: duckdb.DuckDBPyConnection, schema: str, table: str, path: Path) -> Path:
    """Write schema.table to `path` (.parquet or .csv) under a temporary name, then rename it, so
    readers never see a half-written file. CSV text cells are escaped against formula injection."""
    columns = table_columns(conn, schema, table)
    if path.suffix == ".csv":
        escaped = "case when left({c}, 1) in ({starts}) then chr(39) || {c} else {c} end as {c}"
        select = ", ".join(
            escaped.format(c=identifier(name), starts=_FORMULA_START_SQL)
            if dtype == "VARCHAR"
            else identifier(name)
            for name, dtype in columns
        )
        options = "format csv, header true"
    elif path.suffix == ".parquet":
        select, options = "*", "format parquet"
    else:
        raise ValueError(f"{path}: exports are .csv or .parquet")
    temporary = path.with_name(path.name + ".tmp")
    target = string_literal(str(temporary))
    conn.execute(f"copy (select {select} from {relation(schema, table)}) to {target} ({options})")
    temporary.replace(path)
    return path
