"""Erasing one customer from everything the platform wrote (plain code, no Dagster).

The raw layer and the erasure list belong to the loader (landing/erasure.py): the customer's id is
recorded pseudonymized (a salted SHA-256) in `raw.erasures`, their rows leave raw and the
quarantine, and their order lines stay with the customer id set to NULL, so revenue does not
change. Every load applies the same list again, so a re-delivered file does not bring them back.

This module does the rest, in the same transaction as the raw part:
- every other table of the warehouse (dbt's staging, marts, ml_inputs and activation tables, the
  incremental ones included, and the scored tables): found through information_schema by their
  customer-id columns. A row of an order-level table (one with an `order_id` column: the order
  facts) keeps its amounts with the customer id set to NULL, exactly what rebuilding it from the
  anonymized raw lines gives; every other row of the customer is deleted. Views need nothing.
- the export files (`exports/*.csv|parquet`), rewritten from the cleaned tables.
Then, outside the warehouse: model versions whose files hold the id (as UTF-8 or as UTF-32-LE,
numpy's encoding of string arrays) are deleted, and the models retrained (orchestration/defs/
erasure.py runs the `retrain_models` job); `verify_erasure` scans every text column, export file
and model file for what is left.
"""

from __future__ import annotations

import mmap
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from landing import ensure_raw_tables
from landing.erasure import ERASED_KEPT, erase_from_raw, erasure_hash, record_erasure
from landing.sql import identifier, relation
from ml.registry import PROMOTED
from orchestration.lib.warehouse import export_table, table_columns
from orchestration.settings import RAW_SCHEMA, SCORES_SCHEMA

# A column holding a customer id in any table the platform writes: `customer_id`, or a name
# ending in `_customer_id` (e.g. `referrer_customer_id`).
CUSTOMER_ID_COLUMN = re.compile(r"^(.+_)?customer_id$")
# A table with this column holds order-level facts: its rows count for revenue, so an erased
# customer's rows stay, with the customer id set to NULL (as in raw.order_lines).
ORDER_COLUMN = "order_id"
# dbt's staging derives an order id `<customer_id>@<time>` when a source has none, and
# `anonymous@<time>` when the line has no customer: an erased customer's derived ids become the
# latter, as a rebuild from the anonymized raw lines would make them.
ANONYMOUS_ORDER_PREFIX = "anonymous"
# Schemas the erasure does not touch table by table: raw belongs to landing.erasure.
_SKIPPED_SCHEMAS = (RAW_SCHEMA, "information_schema", "pg_catalog")
_TEXT_TYPES = ("VARCHAR", "JSON")
EXPORT_SUFFIXES = (".csv", ".parquet")


class ErasureError(RuntimeError):
    """The erasure could not be completed; the message says what is left and where."""


@dataclass
class ErasureReport:
    """What one erasure did. Holds the customer's hash, never their id (it goes into Dagster's
    metadata and logs)."""

    customer_hash: str
    newly_recorded: bool  # False: the id was already on the erasure list
    raw: dict[str, int] = field(default_factory=dict)  # raw table (and quarantine) -> rows
    deleted: dict[str, int] = field(default_factory=dict)  # schema.table -> rows deleted
    anonymized: dict[str, int] = field(default_factory=dict)  # schema.table -> rows kept, id NULL
    exports: list[str] = field(default_factory=list)  # export files rewritten
    model_versions: list[str] = field(default_factory=list)  # version folders holding the id
    reports: list[str] = field(default_factory=list)  # report files holding the id (rebuilt)

    @property
    def found(self) -> bool:
        """Whether the customer had any row anywhere (False: an unknown id)."""
        return any(self.raw.values()) or any(self.deleted.values()) or any(self.anonymized.values())

    def lines(self) -> list[str]:
        """The report as lines for a terminal: what was removed per table and file."""
        out = [
            f"  {RAW_SCHEMA}.{table}: {rows:,} row(s) "
            + ("kept with customer_id set to NULL" if table in ERASED_KEPT else "deleted")
            for table, rows in sorted(self.raw.items())
        ]
        out += [f"  {table}: {rows:,} row(s) deleted" for table, rows in self.deleted.items()]
        out += [
            f"  {table}: {rows:,} row(s) kept with customer_id set to NULL"
            for table, rows in self.anonymized.items()
        ]
        out += [f"  rewritten: {path}" for path in self.exports]
        out += [f"  model version holding the id: {path}" for path in self.model_versions]
        out += [f"  report holding the id (rebuilt): {path}" for path in self.reports]
        return out


def masked_id(customer_id: str) -> str:
    """A customer id shown without revealing it (logs, metadata): first and last character."""
    text = customer_id.strip()
    return f"{text[:1]}***{text[-1:]}" if len(text) > 2 else "***"


def customer_tables(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str, list[str], bool]]:
    """(schema, table, customer-id columns, is order-level) of every base table outside raw
    with a customer-id column; views are left out (they read the tables)."""
    rows = conn.execute(
        "select c.table_schema, c.table_name, list(c.column_name order by c.ordinal_position) "
        "from information_schema.columns c join information_schema.tables t "
        "on t.table_catalog = c.table_catalog and t.table_schema = c.table_schema "
        "and t.table_name = c.table_name "
        "where t.table_type = 'BASE TABLE' and c.table_catalog = current_database() "
        "and c.table_schema not in (select unnest(?)) group by 1, 2 order by 1, 2",
        [list(_SKIPPED_SCHEMAS)],
    ).fetchall()
    found = []
    for schema, table, columns in rows:
        ids = [c for c in columns if CUSTOMER_ID_COLUMN.match(c)]
        if ids:
            found.append((schema, table, ids, ORDER_COLUMN in columns))
    return found


def _erase_downstream(
    conn: duckdb.DuckDBPyConnection, customer_id: str, report: ErasureReport
) -> None:
    for schema, table, ids, order_level in customer_tables(conn):
        target = relation(schema, table)
        name = f"{schema}.{table}"
        if order_level:
            rows = 0
            for column in ids:
                (changed,) = conn.execute(
                    f"update {target} set {identifier(column)} = null "
                    f"where trim(cast({identifier(column)} as varchar)) = ?",
                    [customer_id],
                ).fetchone()
                rows += changed
            derived = f"{customer_id}@"
            conn.execute(
                f"update {target} set {ORDER_COLUMN} = ? || substr({ORDER_COLUMN}, ?) "
                f"where starts_with({ORDER_COLUMN}, ?)",
                [ANONYMOUS_ORDER_PREFIX, len(customer_id) + 1, derived],
            )
            if rows:
                report.anonymized[name] = rows
        else:
            condition = " or ".join(f"trim(cast({identifier(c)} as varchar)) = $id" for c in ids)
            (rows,) = conn.execute(
                f"delete from {target} where {condition}", {"id": customer_id}
            ).fetchone()
            if rows:
                report.deleted[name] = rows


def rewrite_exports(conn: duckdb.DuckDBPyConnection, export_dir: Path) -> list[str]:
    """Rewrite every export file (exports/<table>.csv|parquet) from its table in `scores`; the
    files the exports asset writes, from the tables as they are now."""
    if not export_dir.is_dir():
        return []
    tables = {
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = ?",
            [SCORES_SCHEMA],
        ).fetchall()
    }
    written = []
    for path in sorted(export_dir.iterdir()):
        if path.suffix in EXPORT_SUFFIXES and path.stem in tables:
            written.append(str(export_table(conn, SCORES_SCHEMA, path.stem, path)))
    return written


def needle_bytes(values: Iterable[str]) -> list[bytes]:
    """Each value as UTF-8 and as UTF-32-LE (numpy stores string arrays as UTF-32)."""
    out: list[bytes] = []
    for value in values:
        if value:
            out += [value.encode("utf-8"), value.encode("utf-32-le")]
    return out


def file_holds(path: Path, needles: Sequence[bytes]) -> bool:
    """Whether a file's bytes contain any of `needles` (memory-mapped: model files can be big)."""
    if path.stat().st_size == 0:
        return False
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return any(data.find(needle) >= 0 for needle in needles)


def model_versions_holding(model_dir: Path, values: Iterable[str]) -> list[Path]:
    """Every model version folder (<model_dir>/<name>/<version>/) with a file holding one of
    `values` as UTF-8 or UTF-32-LE bytes; folders that are not version ids are scanned too."""
    needles = needle_bytes(values)
    if not model_dir.is_dir() or not needles:
        return []
    holding = []
    for model in sorted(p for p in model_dir.iterdir() if p.is_dir()):
        for version in sorted(p for p in model.iterdir() if p.is_dir()):
            if any(f.is_file() and file_holds(f, needles) for f in version.rglob("*")):
                holding.append(version)
    return holding


def remove_model_versions(versions: Sequence[Path]) -> list[str]:
    """Delete these version folders; a model whose PROMOTED pointer named one loses its pointer
    (no version scores until it is retrained: the gate then judges the new version against the
    baselines only). Returns the names of the models that lost a version."""
    models: list[str] = []
    for version in versions:
        model = version.parent
        pointer = model / PROMOTED
        if pointer.exists() and pointer.read_text(errors="replace").strip() == version.name:
            pointer.unlink()
        shutil.rmtree(version)
        if model.name not in models:
            models.append(model.name)
    return models


def erase_customer(
    conn: duckdb.DuckDBPyConnection,
    customer_id: str,
    salt: str,
    export_dir: Path,
    model_dir: Path,
    report_dir: Path | None = None,
) -> ErasureReport:
    """Erase one customer from the warehouse and the exports, and list the model versions and
    report files that hold their id (the caller removes the versions and retrains, and rebuilds
    the reports: see remove_model_versions).

    One transaction: the erasure list, raw, the quarantine and every other table change together
    or not at all. The export files are rewritten after the commit."""
    customer_id = customer_id.strip()
    if not customer_id:
        raise ErasureError("customer id: expected a non-empty id, got an empty string")
    conn.execute("begin transaction")
    try:
        # A warehouse loaded by an older version gets the bookkeeping columns erasure needs.
        ensure_raw_tables(conn, RAW_SCHEMA)
        newly = record_erasure(conn, customer_id, salt, RAW_SCHEMA)
        report = ErasureReport(erasure_hash(customer_id, salt), newly)
        report.raw = dict(erase_from_raw(conn, customer_id, salt, RAW_SCHEMA))
        _erase_downstream(conn, customer_id, report)
        conn.execute("commit")
    except Exception:
        conn.execute("rollback")
        raise
    report.exports = rewrite_exports(conn, export_dir)
    report.model_versions = [str(p) for p in model_versions_holding(model_dir, [customer_id])]
    if report_dir is not None:
        report.reports = file_traces([report_dir], [customer_id])
    return report


def _word(value: str) -> str:
    """A regular expression matching `value` as a whole token (not inside a longer id)."""
    return rf"(^|[^A-Za-z0-9_]){re.escape(value)}($|[^A-Za-z0-9_])"


def warehouse_traces(conn: duckdb.DuckDBPyConnection, values: Iterable[str]) -> dict[str, int]:
    """Rows, per `schema.table.column`, of every base table in every schema whose text (VARCHAR
    or JSON) column holds one of `values` as a whole token."""
    values = [v for v in values if v]
    tables = conn.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_type = 'BASE TABLE' and table_catalog = current_database() "
        "and table_schema not in ('information_schema', 'pg_catalog') order by 1, 2"
    ).fetchall()
    found: dict[str, int] = {}
    for schema, table in tables:
        for column, dtype in table_columns(conn, schema, table):
            if dtype not in _TEXT_TYPES:
                continue
            text = f"cast({identifier(column)} as varchar)"
            for value in values:
                (rows,) = conn.execute(
                    f"select count(*) from {relation(schema, table)} "
                    f"where contains({text}, ?) and regexp_matches({text}, ?)",
                    [value, _word(value)],
                ).fetchone()
                if rows:
                    key = f"{schema}.{table}.{column}"
                    found[key] = found.get(key, 0) + rows
    return found


def file_traces(folders: Iterable[Path], values: Iterable[str]) -> list[str]:
    """Files under `folders` (exports, models, reports) whose bytes hold one of `values` as
    UTF-8 or UTF-32-LE."""
    needles = needle_bytes(values)
    return [
        str(path)
        for folder in folders
        if folder.is_dir()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and file_holds(path, needles)
    ]


def verify_erasure(
    conn: duckdb.DuckDBPyConnection, customer_id: str, folders: Iterable[Path]
) -> dict[str, object]:
    """What is left of the customer's id: table columns (rows) and files. Empty when erased."""
    left: dict[str, object] = dict(warehouse_traces(conn, [customer_id.strip()]))
    for path in file_traces(folders, [customer_id.strip()]):
        left[path] = "file holds the id"
    return left
