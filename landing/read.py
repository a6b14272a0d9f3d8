"""Reading a source's files: CSV (with the configured dialect, unreadable lines kept as rejects)
or Parquet, mapped onto canonical column names, and the SQL that types their values.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from landing.config import CANONICAL_COLUMNS, Config, Source
from landing.count import CsvScan, scan_csv
from landing.sql import identifier, string_literal
from landing.tables import FRACTIONAL_QUANTITY_TYPE, PERSONAL_COLUMNS, TABLES, column_types


class SourceError(ValueError):
    """A source cannot be loaded at all (a missing column, no files); nothing was loaded."""


_GLOB_CHARACTERS = re.compile(r"[\[\]*?]")
# DuckDB's readers add the name of the file each row came from under this column; it must be
# the file that was asked for (see _same_file).
_READ_FROM = "_landing_read_from"
_MISMATCH = "landing: DuckDB read another file: "


def _same_file(path: str, number: int) -> str:
    """SQL giving a row's file `number`, after checking that DuckDB read it from `path` (an error
    naming the file it read and the number, which other_file_error turns into a SourceError).
    The check runs only in a query that reads the column: the loader's tally of every row by
    file and day does, and so does file_days.

    The loader's passes name a row's file by this number (load_source), not by its path: the
    path on every row of 111 M web events (1m shop) made the copy of them spill 7.06 GiB to disk
    and take 22.1 s, the number 4.34 GiB and 16.2 s."""
    return (
        f"case when {_READ_FROM} = {string_literal(path)} then cast({number} as integer) "
        f"else error('{_MISMATCH}' || coalesce({_READ_FROM}, '(no file name)') || ' #{number}') "
        "end"
    )


def literal_path(path: str) -> str:
    """`path` as DuckDB's read_csv and read_parquet must be given it to open exactly that file.

    They expand `[`, `]`, `*` and `?` anywhere in the path as a glob (`orders[1].csv` reads
    `orders1.csv`), so each is escaped as a one-character class: `[[]`, `[]]`, `[*]`, `[?]`.
    The config's `path` is a glob on purpose (Config.source_files); the files it matched are
    then read literally. tests/test_literal_paths_and_counts.py checks it with such names."""
    return _GLOB_CHARACTERS.sub(lambda match: f"[{match.group()}]", path)


def file_fingerprint(path: str | Path) -> str:
    """A file's size and modification time: when it differs from the previous load's, the file
    was re-delivered or corrected (the loader reloads it on every day, the landing sensor
    launches a refresh). Cheap for any size; a rewrite with the same bytes counts as a change."""
    stat = Path(path).stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def other_file_error(error: duckdb.Error, paths: Sequence[str]) -> SourceError | None:
    """The SourceError for a read that returned rows of another file than the one asked for, if
    `error` was one (_same_file); `paths`: the files, indexed by their number. The check fails in whichever
    statement first reads the rows (for a Parquet file, one of the loader's passes), so the
    readers' callers (load_source, file_days) turn the error into this one."""
    message = str(error)
    if _MISMATCH not in message:
        return None
    other, number = message.split(_MISMATCH, 1)[1].strip().rsplit(" #", 1)
    path = paths[int(number)]
    return SourceError(
        f"{path}: asked DuckDB for exactly this file, but it returned rows of {other} "
        "(expected every row's file name to be the one asked for); nothing was loaded"
    )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _csv_header(path: str, table: str, source: Source) -> tuple[list[str], list[str]]:
    """The CSV's column names (column1.. without a header), read with the configured dialect,
    and warnings about the header. DuckDB's sniffer is not used: a single odd line would make it
    guess a different dialect.

    A column without a name (a trailing delimiter: `a,b,c,`) and a name repeated in the header
    are tolerated when the config does not use them: they get a placeholder name no config can
    map, and a warning says so. A repeated name the config uses (mapped under
    sources.<table>.columns, or a canonical column taken by its name) raises SourceError."""
    encoding = "utf-8-sig" if source.encoding == "utf-8" else source.encoding
    with open(path, encoding=encoding, errors="replace", newline="") as handle:
        first = next(csv.reader(handle, delimiter=source.delimiter), [])
    if not source.header:
        return [f"column{i + 1}" for i in range(len(first))], []
    names = [name.strip() for name in first]
    used = {
        source.columns.get(canonical, canonical): canonical
        for canonical in CANONICAL_COLUMNS[table]
    }
    warnings: list[str] = []
    positions: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        positions.setdefault(name, []).append(index + 1)
    unique = list(names)
    for name, where in positions.items():
        if name == "":
            for column in where:
                unique[column - 1] = f"<unnamed column {column}>"
            trailing = where[-1] == len(names)
            warnings.append(
                f"{path}: header column(s) {', '.join(map(str, where))} have no name"
                + (" (a trailing delimiter?)" if trailing else "")
                + "; their values are ignored"
            )
        elif len(where) > 1:
            if name in used:
                canonical = used[name]
                how = (
                    f"mapped to '{canonical}' by sources.{table}.columns.{canonical}"
                    if canonical in source.columns
                    else f"taken by its name for '{canonical}'; map another column under "
                    f"sources.{table}.columns.{canonical}"
                )
                raise SourceError(
                    f"{path}: the header names column {name!r} {len(where)} times (columns "
                    f"{', '.join(map(str, where))}), and it is used ({how}): expected a column "
                    "name the config uses to appear once; nothing was loaded"
                )
            for column in where[1:]:
                unique[column - 1] = f"<{name} again, column {column}>"
            warnings.append(
                f"{path}: header names column {name!r} {len(where)} times (columns "
                f"{', '.join(map(str, where))}); the config does not use it, so it is ignored"
            )
    return unique, warnings


def _mapping(table: str, source: Source, found: list[str], path: str) -> dict[str, str]:
    """canonical column -> source column for this file; SourceError if a required one is absent."""
    spec = TABLES[table]
    mapping = {}
    for canonical in CANONICAL_COLUMNS[table]:
        wanted = source.columns.get(canonical, canonical)
        if wanted in found:
            mapping[canonical] = wanted
        elif canonical in source.columns:
            raise SourceError(
                f"{path}: no column {wanted!r} (mapped to '{canonical}' by "
                f"sources.{table}.columns.{canonical}); the file has: {', '.join(found)}. "
                "Nothing was loaded."
            )
    missing = [column for column in spec.required if column not in mapping]
    if spec.one_of and not any(all(c in mapping for c in group) for group in spec.one_of):
        missing.append(" or ".join("+".join(group) for group in spec.one_of))
    if missing:
        raise SourceError(
            f"{path}: missing column(s) {', '.join(missing)} for table '{table}' (map them under "
            f"sources.{table}.columns); the file has: {', '.join(found)}. Nothing was loaded."
        )
    return mapping


@dataclass(frozen=True)
class FileRead:
    """What reading one file gave: the canonical columns it provides, and warnings (a header
    column without a name or named twice, ignored) for the load log."""

    columns: set[str]
    warnings: list[str] = field(default_factory=list)
    # The rows DuckDB counts in the whole file, when _incoming got only some of them (WindowRows).
    rows: int | None = None
    # A Parquet file read whole: the query selecting its rows, for incoming_view.
    query: str | None = None


@dataclass(frozen=True)
class WindowRows:
    """The rows of a file that a load with a day window needs: those it writes (their day, from
    the timestamp as typed, is in the window or is none) and every row sharing a key with one of
    them (the duplicate rules rank those). SQL over the file's canonical columns as read."""

    day: str  # the row's partition day, or NULL
    keys: tuple[str, ...]  # the row's key, typed as the loader types it
    # what `day` and `keys` refer to, with $window_start, $window_end and $changed (changed files)
    params: dict[str, object]

    @property
    def written(self) -> str:
        """SQL: the load writes the row."""
        return written_rows(f"({self.day})")


def written_rows(day: str) -> str:
    """SQL: a load with a day window writes the row whose partition day is `day`: a day in the
    window, no day (re-recorded by every load), or a row of a changed file ($changed, their file
    numbers; a list, not a subquery, so DuckDB filters before it types the other values)."""
    return (
        f"{day} is null or {day} between $window_start and $window_end "
        "or list_contains($changed, _file_number)"
    )


def scan_csv_file(config: Config, table: str, path: str) -> CsvScan:
    """The streaming pass over one CSV file of a source (landing/count.py), with its dialect."""
    source = config.sources[table]
    return scan_csv(path, source.delimiter, source.encoding, source.header)


def _parquet_relation(path: str) -> str:
    """SQL reading a Parquet file (no bound parameters: a view holds it)."""
    return (
        f"read_parquet({string_literal(literal_path(path))}, file_row_number = true, "
        f"filename = '{_READ_FROM}')"
    )


def _parquet_columns(conn: duckdb.DuckDBPyConnection, path: str) -> dict[str, str]:
    """A Parquet file's columns and their DuckDB types (from the file's metadata)."""
    return {
        name: kind
        for name, kind, *_ in conn.execute(
            f"describe select * from {_parquet_relation(path)}"
        ).fetchall()
        if name not in ("file_row_number", _READ_FROM)
    }


# The Parquet types a column keeps in _incoming when its canonical type is the key: they convert
# exactly, so the value is typed without the round trip through text that CSV values take (the
# text and its parsing were most of a large load's time). Doubles are not among them: a decimal
# is parsed from the text, as a CSV's would be.
_NATIVE_TYPES = {
    "timestamp": {"TIMESTAMP", "TIMESTAMP WITH TIME ZONE"},
    "bigint": {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UINTEGER", "USMALLINT", "UTINYINT"},
    "boolean": {"BOOLEAN"},
}


def native_types(
    conn: duckdb.DuckDBPyConnection, config: Config, table: str, files: list[str]
) -> dict[str, str]:
    """The canonical columns of a Parquet source whose values _incoming keeps in the files' own
    type (canonical column -> DuckDB type): every file that has the column stores it in the same
    type, one of _NATIVE_TYPES for its canonical type. Every other value is read as text. A
    timestamp with a configured `timestamp_format` is read as text, for the format to apply."""
    if config.source_format(table) != "parquet":
        return {}
    source = config.sources[table]
    found: dict[str, set[str]] = {}
    for path in files:
        types = _parquet_columns(conn, path)
        for canonical, name in _mapping(table, source, list(types), path).items():
            found.setdefault(canonical, set()).add(types[name])
    kinds = column_types(table, source)
    native = {}
    for column, stored in found.items():
        if len(stored) > 1 or (kinds[column] == "timestamp" and source.timestamp_format):
            continue
        (kind,) = stored
        if kind in _NATIVE_TYPES.get(kinds[column], ()):
            native[column] = kind
    return native


def _read_file(
    conn: duckdb.DuckDBPyConnection,
    config: Config,
    table: str,
    path: str,
    number: int,
    first: bool,
    scan: Callable[[], CsvScan] | None = None,
    native: dict[str, str] | None = None,
    only: WindowRows | None = None,
) -> FileRead:
    """Read one file's rows for the loader's passes, mapped onto canonical names (values still
    as in the file), each with the file's `number` and its line: the passes read them from the
    view _incoming (incoming_view). A CSV file's rows are copied to the temp table
    _incoming_rows, its unreadable lines with `_reject` set, lines recovered from invalid bytes
    with `_note` set. A Parquet file is not copied: FileRead.query selects its rows, read from
    the file by each pass (copied, the 1m shop's 111 M web events spilled up to 9.9 GiB to
    disk; the whole-calendar load took 175 s with the copy, 93 s without). `scan` gives the
    file's CsvScan (made in another thread by the loader); without it the file is scanned here.
    `native` (native_types) names the columns kept in their Parquet type; every other value is
    text. Returns the canonical columns the file provides and the warnings about it. `only`
    (Parquet): only those rows of the file are copied to _incoming_rows, and the result counts
    the file's rows."""
    source = config.sources[table]
    columns = CANONICAL_COLUMNS[table]
    is_csv = config.source_format(table) == "csv"
    native = native or {}
    if first:
        conn.execute(
            "create or replace temp table _incoming_rows as select "
            + ", ".join(
                f"cast(null as {native.get(c, 'varchar')}) as {identifier(c)}" for c in columns
            )
            + ", cast(null as integer) as _file_number, cast(null as bigint) as _row_number, "
            "cast(null as varchar) as _reject, cast(null as varchar) as _note limit 0"
        )
    if is_csv and Path(path).stat().st_size == 0:
        return FileRead(set())  # an empty file has no header and no rows: logged with 0 rows
    if is_csv:
        found, header_warnings = _csv_header(path, table, source)
        relation = (
            "read_csv($file, auto_detect = false, header = $header, delim = $delim, "
            "quote = '\"', escape = '\"', columns = $columns, encoding = $encoding, "
            f"filename = '{_READ_FROM}', store_rejects = true, rejects_table = '_rejects', "
            "rejects_scan = '_reject_scans')"
        )
        params = {
            "file": literal_path(path),
            "header": source.header,
            "delim": source.delimiter,
            "encoding": source.encoding,
            "columns": {name: "VARCHAR" for name in found},
        }
        mapping = _mapping(table, source, found, path)
    else:
        rows, mapping = _parquet_rows(conn, config, table, path, number, native)
    if not is_csv:
        if only is None:
            return FileRead(set(mapping), query=rows)
        return FileRead(set(mapping), rows=_read_window_rows(conn, columns, rows, only))
    conn.execute("drop table if exists _rejects")
    conn.execute("drop table if exists _reject_scans")
    conn.execute(
        f"create or replace temp table _file as select {_selected(table, mapping)}, "
        f"{_same_file(path, number)} as _checked from {relation}",
        params,
    )
    other = conn.execute(
        "select file_path from _reject_scans where file_path is distinct from $path limit 1",
        {"path": path},
    ).fetchall()  # fetched to the end: the connection then takes register() calls
    if other:
        raise SourceError(
            f"{path}: asked DuckDB for exactly this file, but its rejected lines came from "
            f"{other[0][0]} (expected every row's file name to be the one asked for); nothing was "
            "loaded"
        )
    csv_scan = scan() if scan is not None else scan_csv_file(config, table, path)
    _number_and_recover(conn, table, source, path, number, found, mapping, csv_scan)
    conn.execute("drop table _file")
    conn.execute("drop table _recovered")
    return FileRead(set(mapping), header_warnings)


def _selected(table: str, mapping: dict[str, str], types: dict[str, str] | None = None) -> str:
    """SQL selecting a file's columns under their canonical names (NULL for those it lacks),
    each cast to its type in `types` when given."""

    def value(column: str) -> str:
        read = _quoted(mapping[column]) if column in mapping else "null"
        return f"cast({read} as {types[column]})" if types else read

    return ", ".join(f"{value(c)} as {identifier(c)}" for c in CANONICAL_COLUMNS[table])


def _parquet_rows(
    conn: duckdb.DuckDBPyConnection,
    config: Config,
    table: str,
    path: str,
    number: int,
    native: dict[str, str],
) -> tuple[str, dict[str, str]]:
    """A query giving a Parquet file's rows as _incoming has them (the file as `number`, the
    `native` columns in their Parquet type, every other value as text), and the file's column
    for each canonical column it has. The query binds no parameters (a view holds it)."""
    mapping = _mapping(table, config.sources[table], list(_parquet_columns(conn, path)), path)
    types = {c: native.get(c, "varchar") for c in CANONICAL_COLUMNS[table]}
    rows = (
        f"select {_selected(table, mapping, types)}, {_same_file(path, number)} as _file_number, "
        "file_row_number + 1 as _row_number, cast(null as varchar) as _reject, "
        f"cast(null as varchar) as _note from {_parquet_relation(path)}"
    )
    return rows, mapping


def incoming_view(conn: duckdb.DuckDBPyConnection, reads: Iterable[FileRead]) -> None:
    """The temp view _incoming that the loader's passes read: the rows copied to _incoming_rows
    and those the Parquet files read whole select from their files (FileRead.query)."""
    queries = [read.query for read in reads if read.query is not None]
    conn.execute(
        "create or replace temp view _incoming as "
        + " union all ".join(["select * from _incoming_rows", *queries])
    )


def _keyed(only: WindowRows) -> tuple[str, str]:
    """SQL naming a row's typed key _key0, _key1, ...; and matching r's key to w's (NULL to
    NULL, as the duplicate rules partition)."""
    keys = ", ".join(f"{key} as _key{i}" for i, key in enumerate(only.keys))
    same = " and ".join(f"r._key{i} is not distinct from w._key{i}" for i in range(len(only.keys)))
    return keys, same


def window_keys(
    conn: duckdb.DuckDBPyConnection,
    config: Config,
    table: str,
    paths: dict[str, int],
    only: WindowRows,
    incoming: bool,
    native: dict[str, str],
) -> None:
    """The temp table _window_keys: the keys of the rows a day window's load writes, from the
    Parquet files `paths` (path -> file number; read later with `only`) and, when `incoming`,
    from the rows already in _incoming (every row of a changed file is written). A key may be
    listed twice."""
    keys, _ = _keyed(only)
    sources = ["select * from _incoming"] if incoming else []
    sources += [_parquet_rows(conn, config, table, path, n, native)[0] for path, n in paths.items()]
    for index, rows in enumerate(sources):
        into = (
            "insert into _window_keys" if index else "create or replace temp table _window_keys as"
        )
        conn.execute(
            *_bind(f"{into} select distinct {keys} from ({rows}) where {only.written}", only.params)
        )


def _read_window_rows(
    conn: duckdb.DuckDBPyConnection,
    columns: dict[str, str],
    rows: str,
    only: WindowRows,
) -> int:
    """Append to _incoming_rows the rows of `rows` (a query over one Parquet file) whose key is
    in _window_keys (window_keys); returns the rows DuckDB counts in the whole file."""
    keys, same = _keyed(only)
    incoming = ", ".join([*map(identifier, columns), "_file_number, _row_number, _reject, _note"])
    conn.execute(
        *_bind(
            f"insert into _incoming_rows select {incoming} "
            f"from (select *, {keys} from ({rows})) r semi join _window_keys w on {same}",
            only.params,
        )
    )
    return conn.execute(f"select count(*) from ({rows})").fetchone()[0]


# DuckDB's error type for a line with bytes invalid in the file's encoding.
_INVALID_ENCODING = "INVALID ENCODING"


def _number_and_recover(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    source: Source,
    path: str,
    number: int,
    found: list[str],
    mapping: dict[str, str],
    csv_scan: CsvScan,
) -> None:
    """Append the rows of _file (what DuckDB read) and _rejects (the lines it could not read) to
    _incoming_rows, each with the file's `number` and the physical line its record starts on
    (header = line 1), and recover the rejected lines whose only fault is bytes invalid in the
    encoding.

    Numbering is linear: DuckDB's `line` of a rejected record is its item number (records and
    blank lines, see CsvScan); the scan's breakpoints give each item's record ordinal and
    physical line, and the k-th row DuckDB read is the k-th record that was not rejected
    (`_line_numbers`, binary searches over the small breakpoint and reject arrays). The lines
    are attached to the rows by position (DuckDB keeps the file's order). When the scan does not
    agree with DuckDB (it failed, or the records differ), rows are numbered by item number
    instead, as if every record were one line.

    A rejected line with invalid bytes is re-read from the scan, where they are replaced by
    U+FFFD: with the header's number of fields it is loaded (its values then typed and checked
    like any other row) with a note in `_note`; otherwise it stays an unreadable line."""
    columns = CANONICAL_COLUMNS[table]
    ((good,),) = conn.execute("select count(*) from _file").fetchall()
    lines_rejected = conn.execute("select distinct line from _rejects order by 1").fetchall()
    rejected = np.array([line for (line,) in lines_rejected], dtype=np.int64)
    first_line = 2 if source.header else 1
    numbered = _line_numbers(csv_scan.starts, csv_scan.records, good, rejected)
    if numbered is None:  # the scan disagrees with DuckDB: item numbers
        numbered = _line_numbers([(0, first_line, first_line)], None, good, rejected)
    good_lines, rejected_lines = numbered or (0, rejected)  # (never None without records)
    _register_recovered(conn, path, found, mapping, csv_scan)
    conn.register(
        "_rejected_lines", pa.table({"n": pa.array(rejected), "p": pa.array(rejected_lines)})
    )
    # The text of an unreadable line is kept in its reason, unless the table holds personal data
    # (its fields cannot be told apart, so none of it can be masked reliably).
    line_text = (
        "'(its text is not kept: the table holds personal data)'"
        if table in PERSONAL_COLUMNS
        else "coalesce(csv_line, '')"
    )
    recovered_values = ", ".join(
        f"rec.{_quoted(mapping[c])}" if c in mapping else "null" for c in columns
    )
    values = ", ".join(f"f.{identifier(c)}" for c in columns)
    if isinstance(good_lines, int):  # every row is one line after the one before
        good_rows = f"select {values}, $number, f.rowid + {good_lines}, null, null from _file f"
    else:
        conn.register("_good_lines", pa.table({"p": pa.array(good_lines)}))
        good_rows = (
            f"select {values}, $number, l.p, null, null from _file f positional join _good_lines l"
        )
    try:
        conn.execute(
            f"""
            insert into _incoming_rows
            {good_rows}
            union all
            select {recovered_values}, $number, l.p,
                case when rec."<item>" is null
                    then 'unreadable line (' || r.reason || '): ' || {line_text} end,
                rec."<note>"
            from (
                select line as n,
                    first(error_type || ': ' || error_message order by column_idx) as reason,
                    first(csv_line) as csv_line
                from _rejects
                group by line
            ) r
            join _rejected_lines l on l.n = r.n
            left join _recovered rec on rec."<item>" = r.n
            """,
            {"number": number},
        )
    finally:
        conn.unregister("_rejected_lines")
        if not isinstance(good_lines, int):
            conn.unregister("_good_lines")


def _line_numbers(
    starts: list[tuple[int, int, int]], records: int | None, good: int, rejected: np.ndarray
) -> tuple[np.ndarray | int, np.ndarray] | None:
    """The physical starting line of the `good` rows DuckDB read (in file order) and of its
    `rejected` items (sorted DuckDB `line` numbers), from a scan's `starts` and `records`
    (CsvScan); None when the scan's records are not DuckDB's. The good rows' lines are an int
    (line = row index + it) when each row is the line after the one before."""
    if not starts:
        return (0, rejected.copy()) if not good and not len(rejected) else None
    ordinals, items, lines = (
        np.array(column, dtype=np.int64) for column in zip(*starts, strict=True)
    )
    # Each rejected item's breakpoint, record ordinal and line.
    at = np.searchsorted(items, rejected, side="right") - 1
    if len(rejected) and at.min() < 0:
        if records is not None:
            return None  # a rejected item before the scan's first record
        at = np.maximum(at, 0)
    rejected_ordinals = rejected - items[at] + ordinals[at]
    rejected_lines = rejected - items[at] + lines[at]
    if records is not None:  # the scan's own records: check that DuckDB's are the same
        if good + len(rejected) != records:
            return None
        back = np.searchsorted(ordinals, rejected_ordinals, side="right") - 1
        if len(rejected) and (
            rejected_ordinals.min() < 0
            or rejected_ordinals.max() >= records
            or not np.array_equal(rejected_ordinals - ordinals[back] + items[back], rejected)
        ):
            return None  # a rejected item that is a blank line, or beyond the records
    if not len(rejected) and len(ordinals) == 1:
        return int(lines[0] - ordinals[0]), rejected_lines
    # The k-th good row is the k-th record that was not rejected: before the j-th rejected
    # record (0-based) come rejected_ordinals[j] - j good rows.
    row_ordinals = np.arange(good, dtype=np.int64)
    if len(rejected):
        good_before = rejected_ordinals - np.arange(len(rejected), dtype=np.int64)
        row_ordinals += np.searchsorted(good_before, row_ordinals, side="right")
    if len(ordinals) == 1:
        row_ordinals += lines[0] - ordinals[0]
        return row_ordinals, rejected_lines
    at = np.searchsorted(ordinals, row_ordinals, side="right") - 1
    return row_ordinals - ordinals[at] + lines[at], rejected_lines


def _register_recovered(
    conn: duckdb.DuckDBPyConnection,
    path: str,
    found: list[str],
    mapping: dict[str, str],
    csv_scan: CsvScan,
) -> None:
    """The temp table _recovered: the rejected lines with invalid bytes that the scan read with
    the header's number of fields (item number, the fields by header name, and a note)."""
    items = [
        item
        for (item,) in conn.execute(
            "select distinct line from _rejects where error_type = $type order by 1",
            {"type": _INVALID_ENCODING},
        ).fetchall()
        if len(csv_scan.replaced.get(item, ())) == len(found)
    ]
    canonical = {name: column for column, name in mapping.items()}
    notes = []
    for item in items:
        where = [
            canonical.get(name, f"unused column {name!r}")
            for name, value in zip(found, csv_scan.replaced[item], strict=True)
            if "\ufffd" in value
        ]
        notes.append(f"invalid bytes replaced by U+FFFD in {', '.join(where)}")
    table = {"<item>": pa.array(items, pa.int64())}
    for index, name in enumerate(found):
        table[name] = pa.array([csv_scan.replaced[item][index] for item in items], pa.string())
    table["<note>"] = pa.array(notes, pa.string())
    conn.register("_recovered_arrow", pa.table(table))
    conn.execute("create or replace temp table _recovered as select * from _recovered_arrow")
    conn.unregister("_recovered_arrow")


def _other_zone(source: Source, config: Config) -> bool:
    return (source.timezone or config.timezone) != config.timezone


# An ISO timestamp that ends in a UTC offset or Z, after a time of day (a bare date's `-01` is no
# offset): it names its own instant, converted to the shop's zone whatever the source's zone.
_OFFSET_PATTERN = r"(?i)\d:\d\d(:\d\d(\.\d+)?)?\s*(z|[+-]\d\d(:?\d\d)?)$"


def _format_has_offset(source: Source) -> bool:
    """A strptime format with %z (or %Z) parses to an instant (TIMESTAMP WITH TIME ZONE)."""
    return bool(source.timestamp_format) and any(
        code in source.timestamp_format for code in ("%z", "%Z")
    )


def _timestamp_params(source: Source, config: Config) -> dict[str, object]:
    """The bound parameters the timestamp SQL from _typed refers to."""
    params: dict[str, object] = {}
    if source.timestamp_format:
        params["timestamp_format"] = source.timestamp_format
    else:
        params["offset_pattern"] = _OFFSET_PATTERN
    if _other_zone(source, config) or _format_has_offset(source) or not source.timestamp_format:
        params["shop_zone"] = config.timezone
    if _other_zone(source, config):
        params["source_zone"] = source.timezone
    return params


def _bind(sql: str, params: dict[str, object]) -> tuple[str, dict[str, object]]:
    """`sql` with the named parameters it uses (DuckDB rejects a parameter a statement lacks)."""
    return sql, {name: value for name, value in params.items() if re.search(rf"\${name}\b", sql)}


def _typed(
    column: str, kind: str, source: Source, config: Config, native: str | None = None
) -> str:
    """SQL giving `column` as its canonical type, or NULL where the value does not convert.
    `native`: the column's Parquet type, when _incoming keeps it (native_types), else text."""
    value = identifier(column)
    if native == "TIMESTAMP WITH TIME ZONE":  # an instant: the shop's local time of it
        return f"timezone($shop_zone, {value})"
    if native and kind == "timestamp" and _other_zone(source, config):
        return f"timezone($shop_zone, timezone($source_zone, {value}))"
    if native:
        return f"cast({value} as {kind})"
    if kind == "timestamp":
        text = f"trim(cast({value} as varchar))"
        if source.timestamp_format:
            parsed = f"try_strptime({text}, $timestamp_format)"
            if _format_has_offset(source):  # an instant: the shop's local time of it
                return f"timezone($shop_zone, {parsed})"
        else:
            parsed = f"try_cast({text} as timestamp)"
        if _other_zone(source, config):  # a naive time in the source's zone: the shop's time
            parsed = f"timezone($shop_zone, timezone($source_zone, {parsed}))"
        if source.timestamp_format:
            return parsed
        # With an offset (or Z) the text is an instant: converted to the shop's local time, never
        # read as the same wall-clock time with the offset dropped.
        return (
            f"case when regexp_matches({text}, $offset_pattern) "
            f"then timezone($shop_zone, try_cast({text} as timestamptz)) else {parsed} end"
        )
    if kind == "varchar":
        return f"nullif(trim(cast({value} as varchar)), '')"
    number = f"try_cast(trim(cast({value} as varchar)) as decimal(38, 10))"
    if kind == "bigint":  # a whole number; 2.5 is not rounded to 3 but does not convert
        return f"case when {number} = trunc({number}) then try_cast({number} as bigint) end"
    if column == "quantity" and kind == FRACTIONAL_QUANTITY_TYPE:  # exactly, or not at all
        return f"case when {number} = cast({number} as {kind}) then cast({number} as {kind}) end"
    return f"try_cast(trim(cast({value} as varchar)) as {kind})"


def file_days(config: Config, table: str, path: str) -> tuple[date, date] | None:
    """The first and last day of the usable timestamps in one source file (None if it has none):
    the partitions a new file touches. Reads the file in a private in-memory DuckDB."""
    spec, source = TABLES[table], config.sources[table]
    if spec.timestamp is None:
        return None
    conn = duckdb.connect()
    try:
        conn.execute(f"set TimeZone = '{config.timezone}'")
        native = native_types(conn, config, table, [path])
        incoming_view(conn, [_read_file(conn, config, table, path, 0, True, native=native)])
        params = _timestamp_params(source, config)
        kind = CANONICAL_COLUMNS[table][spec.timestamp]
        parsed = _typed(spec.timestamp, kind, source, config, native.get(spec.timestamp))
        # count(_file_number): the file check (_same_file) runs only where the column is read.
        first, last, _ = conn.execute(
            *_bind(
                f"select cast(min({parsed}) as date), cast(max({parsed}) as date), "
                "count(_file_number) from _incoming",
                params,
            )
        ).fetchone()
    except duckdb.Error as error:
        raise other_file_error(error, [path]) or error from None
    finally:
        conn.close()
    return (first, last) if first is not None else None
