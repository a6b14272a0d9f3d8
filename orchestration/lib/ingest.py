"""Load a configured source into its canonical raw table so that every row is loaded or quarantined.

Plain DuckDB code, no Dagster. `load_source` reads a source's files (CSV or Parquet) through the
config's column mapping, types every value, classifies each row by the first rule it breaks (or
as a duplicate), and in one transaction replaces the rows of the requested days in
`raw.<table>`, records rejected rows with file, line or row number and reason in
`raw.quarantine`, and records per file and day counts in `raw.load_log`.

Partitioned tables (those with a timestamp, see TABLES) are loaded a window of days at a time:
re-loading a day replaces exactly that day. Rows that belong to no day (an unreadable line, an
unparseable, too old or future timestamp) are re-recorded each time their file is read.
Source column names are validated by the config and quoted; file paths, formats and other values
are always bound parameters, never spliced into SQL.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from orchestration.config import CANONICAL_COLUMNS, Config, Source
from orchestration.lib.warehouse import identifier

QUARANTINE_TABLE = "quarantine"
LOAD_LOG_TABLE = "load_log"
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


ORDER_STATUSES = ("completed", "cancelled", "returned", "refund")

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
            _one_of(
                "event_type", ("page_view", "search", "product_view", "add_to_cart", "purchase")
            ),
        ),
    ),
}


class SourceError(ValueError):
    """A source cannot be loaded at all (a missing column, no files); nothing was loaded."""


@dataclass(frozen=True)
class LoadReport:
    table: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    reasons: dict[str, int]  # reason -> rows
    files: list[str]
    window: tuple[date, date] | None  # [first day, last day]; None: every day


def raw_table_ddl(schema: str, table: str) -> str:
    columns = {**CANONICAL_COLUMNS[table], **LINEAGE_COLUMNS}
    listed = ", ".join(f"{identifier(name)} {kind}" for name, kind in columns.items())
    return f"create table if not exists {identifier(schema)}.{identifier(table)} ({listed})"


def ensure_raw_tables(conn: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Create every canonical raw table and the bookkeeping tables if missing (empty)."""
    conn.execute(f"create schema if not exists {identifier(schema)}")
    for table in CANONICAL_COLUMNS:
        conn.execute(raw_table_ddl(schema, table))
    conn.execute(
        f"create table if not exists {identifier(schema)}.{identifier(QUARANTINE_TABLE)} ("
        "source_table varchar, source_file varchar, row_number bigint, partition_day date, "
        "reason varchar, record json, quarantined_at timestamp)"
    )
    conn.execute(
        f"create table if not exists {identifier(schema)}.{identifier(LOAD_LOG_TABLE)} ("
        "source_table varchar, source_file varchar, partition_day date, rows_read bigint, "
        "rows_loaded bigint, rows_quarantined bigint, loaded_at timestamp)"
    )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _file_columns(conn: duckdb.DuckDBPyConnection, relation: str, params: dict) -> list[str]:
    return [row[0] for row in conn.execute(f"describe select * from {relation}", params).fetchall()]


def _csv_header(path: str, source: Source) -> list[str]:
    """The CSV's column names (column1.. without a header), read with the configured dialect.
    DuckDB's sniffer is not used: a single odd line would make it guess a different dialect."""
    encoding = "utf-8-sig" if source.encoding == "utf-8" else source.encoding
    with open(path, encoding=encoding, errors="replace", newline="") as handle:
        first = next(csv.reader(handle, delimiter=source.delimiter), [])
    if not source.header:
        return [f"column{i + 1}" for i in range(len(first))]
    names = [name.strip() for name in first]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated or "" in names:
        raise SourceError(
            f"{path}: the header names a column twice or leaves one unnamed "
            f"({', '.join(repeated) or 'an empty name'}); nothing was loaded"
        )
    return names


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


def _read_file(
    conn: duckdb.DuckDBPyConnection, config: Config, table: str, path: str, first: bool
) -> set[str]:
    """Append one file's rows, mapped onto canonical names (values still as in the file), to the
    temp table _incoming; unreadable CSV lines are appended with `_reject` set. Returns the
    canonical columns the file provides."""
    source = config.sources[table]
    columns = CANONICAL_COLUMNS[table]
    is_csv = config.source_format(table) == "csv"
    if first:
        conn.execute(
            "create or replace temp table _incoming as select "
            + ", ".join(f"cast(null as varchar) as {identifier(c)}" for c in columns)
            + ", cast(null as varchar) as _source_file, cast(null as bigint) as _row_number, "
            "cast(null as varchar) as _reject limit 0"
        )
    if is_csv and Path(path).stat().st_size == 0:
        return set()  # an empty file has no header and no rows: logged with 0 rows read
    if is_csv:
        found = _csv_header(path, source)
        relation = (
            "read_csv($path, auto_detect = false, header = $header, delim = $delim, "
            "quote = '\"', escape = '\"', columns = $columns, encoding = $encoding, "
            "store_rejects = true, rejects_table = '_rejects', rejects_scan = '_reject_scans')"
        )
        params = {
            "path": path,
            "header": source.header,
            "delim": source.delimiter,
            "encoding": source.encoding,
            "columns": {name: "VARCHAR" for name in found},
        }
    else:
        relation = "read_parquet($path, file_row_number = true)"
        params = {"path": path}
        found = [c for c in _file_columns(conn, relation, params) if c != "file_row_number"]
    mapping = _mapping(table, source, found, path)
    selected = ", ".join(
        f"{_quoted(mapping[c])} as {identifier(c)}" if c in mapping else f"null as {identifier(c)}"
        for c in columns
    )
    if not is_csv:
        conn.execute(
            f"insert into _incoming select {selected}, $path, file_row_number + 1, null "
            f"from {relation}",
            params,
        )
        return set(mapping)
    conn.execute("drop table if exists _rejects")
    conn.execute("drop table if exists _reject_scans")
    conn.execute(f"create or replace temp table _file as select {selected} from {relation}", params)
    first_line = 2 if source.header else 1
    # Line numbers: DuckDB reports the line of each rejected row; a loaded row is the k-th line
    # (in file order) that was not rejected. Assumes one record per line (no quoted newlines).
    conn.execute(
        f"""
        insert into _incoming
        with rejected as (
            select line, row_number() over (order by line) - 1 as j,
                first(error_type || ': ' || error_message order by column_idx) as reason,
                first(csv_line) as csv_line
            from _rejects
            group by line
        )
        select {", ".join(f"f.{identifier(c)}" for c in columns)}, $path,
            f.rowid + {first_line}
                + (select count(*) from rejected r where r.line - {first_line} - r.j <= f.rowid),
            null
        from _file f
        union all
        select {", ".join("null" for _ in columns)}, $path, line,
            'unreadable line (' || reason || '): ' || coalesce(csv_line, '')
        from rejected
        """,
        {"path": path},
    )
    conn.execute("drop table _file")
    return set(mapping)


def _other_zone(source: Source, config: Config) -> bool:
    return (source.timezone or config.timezone) != config.timezone


def _timestamp_params(source: Source, config: Config) -> dict[str, object]:
    """The bound parameters the timestamp SQL from _typed refers to."""
    params: dict[str, object] = {}
    if source.timestamp_format:
        params["timestamp_format"] = source.timestamp_format
    if _other_zone(source, config):
        params |= {"shop_zone": config.timezone, "source_zone": source.timezone}
    return params


def _typed(column: str, kind: str, source: Source, config: Config) -> str:
    """SQL giving `column` as its canonical type, or NULL where the value does not convert."""
    value = identifier(column)
    if kind == "timestamp":
        if source.timestamp_format:
            parsed = f"try_strptime(trim(cast({value} as varchar)), $timestamp_format)"
        else:
            parsed = f"try_cast({value} as timestamp)"
        if _other_zone(source, config):  # convert to the shop's local time
            parsed = f"timezone($shop_zone, timezone($source_zone, {parsed}))"
        return parsed
    if kind == "varchar":
        return f"nullif(trim(cast({value} as varchar)), '')"
    return f"try_cast(trim(cast({value} as varchar)) as {kind})"


_QUOTE = "''''"  # SQL for one quote character, to quote an offending value in a reason
_EXPECTED = {
    "bigint": "a whole number",
    "decimal(18, 4)": "a number",
    "timestamp": "a date and time",
}


def reason_kind(reason: str) -> str:
    """A quarantine reason without the offending value, to count rows by kind of problem."""
    kind = re.split(r", got | \(", reason)[0]
    return kind.split(": ")[0] if ": " in kind and ": expected" not in kind else kind


def load_source(
    conn: duckdb.DuckDBPyConnection,
    config: Config,
    table: str,
    schema: str = "raw",
    window: tuple[date, date] | None = None,
) -> LoadReport:
    """Load the configured source of `table` for the days in `window` (inclusive; None: all days,
    and always for tables without a timestamp). One transaction: all or nothing."""
    spec = TABLES[table]
    columns = CANONICAL_COLUMNS[table]
    source = config.sources[table]
    files = [str(path) for path in config.source_files(table)]
    if not files:
        raise SourceError(
            f"sources.{table}.path: no file matches {config.resolve(source.path)}; nothing was loaded"
        )
    if spec.timestamp is None:
        window = None
    target = f"{identifier(schema)}.{identifier(table)}"
    quarantine = f"{identifier(schema)}.{identifier(QUARANTINE_TABLE)}"
    load_log = f"{identifier(schema)}.{identifier(LOAD_LOG_TABLE)}"
    conn.execute(f"set TimeZone = '{config.timezone}'")  # a validated IANA zone name
    ensure_raw_tables(conn, schema)
    mapped: set[str] = set()
    for index, path in enumerate(files):
        mapped |= _read_file(conn, config, table, path, first=index == 0)

    params = _timestamp_params(source, config)
    typed = ", ".join(
        f"{_typed(column, kind, source, config)} as {identifier(column)}"
        for column, kind in columns.items()
    )
    raw_values = ", ".join(
        f"cast({identifier(c)} as varchar) as {identifier('_raw_' + c)}" for c in columns
    )
    fmt = " in the format ' || $timestamp_format || '" if source.timestamp_format else ""
    type_rules = "\n".join(
        f"when {identifier(c)} is null and trim(_raw_{c}) <> '' then "
        f"'{c}: expected {_EXPECTED[kind]}{fmt if kind == 'timestamp' else ''}, got ' "
        f"|| {_QUOTE} || _raw_{c} || {_QUOTE}"
        for c, kind in columns.items()
        if kind in _EXPECTED
    )
    rules = "\n".join(f"when {rule.condition} then {rule.reason}" for rule in spec.rules)
    ts = identifier(spec.timestamp) if spec.timestamp else None
    day, day_rules = "null::date", ""
    if ts:
        params["first_day"] = config.first_day
        day_rules = (
            f"when {ts} < $first_day then '{spec.timestamp} before first_day ' "
            f"|| cast($first_day as varchar) || ': ' || cast({ts} as varchar)\n"
            f"when {ts} > now()::timestamp + interval 1 day then '{spec.timestamp} in the "
            f"future: ' || cast({ts} as varchar)"
        )
        day = (
            f"case when {ts} >= $first_day and {ts} <= now()::timestamp + interval 1 day "
            f"then cast({ts} as date) end"
        )
    # Canonical values the platform derives: returns (negative quantity or amount, or an order
    # id with the configured prefix) get status 'refund'; a missing currency is the source's.
    replaced = []
    if table == "order_lines":
        is_return = "quantity < 0 or amount < 0"
        if source.returns.order_id_prefix:
            is_return += " or starts_with(order_id, $return_prefix)"
            params["return_prefix"] = source.returns.order_id_prefix
        replaced = [
            f"case when {is_return} then 'refund' else coalesce(lower(status), 'completed') end "
            "as status",
            "coalesce(upper(currency), $currency) as currency",
        ]
        params["currency"] = source.currency or config.currency
    key = [c for c in spec.key if c in mapped] if all(c in mapped for c in spec.key) else []
    key_rule = (
        f"when _rule is null and _copy = 1 and row_number() over (partition by "
        f"{', '.join(identifier(c) for c in key)}, _rule is null and _copy = 1 "
        f"order by _source_file, _row_number) > 1 "
        f"then 'duplicate {'/'.join(key)} with different values'"
        if key
        else ""
    )
    data = ", ".join(identifier(c) for c in columns)
    window_filter = ""
    if window and ts:
        params |= {"window_start": window[0], "window_end": window[1]}
        window_filter = (
            "where _partition_day is null or _partition_day between $window_start and $window_end"
        )
    conn.execute("begin transaction")
    try:
        conn.execute(
            f"""
            create or replace temp table _classified as
            with typed as (
                select {typed}, {raw_values}, _source_file, _row_number, _reject from _incoming
            ),
            checked as (
                select * {"replace (" + ", ".join(replaced) + ")" if replaced else ""},
                    {day} as _partition_day,
                    case when _reject is not null then _reject
                         {type_rules}
                         {rules}
                         {day_rules}
                    end as _rule
                from typed
            ),
            ranked as (
                select *,
                    row_number() over (partition by {data} order by _source_file, _row_number) as _copy
                from checked
                {window_filter}
            )
            select * exclude (_copy, _rule, _reject),
                case when _rule is not null then _rule
                     when _copy > 1 then 'exact duplicate of an earlier row'
                     {key_rule}
                end as _reason
            from ranked
            """,
            params,
        )
        if window:
            conn.execute(f"delete from {target} where _partition_day between ? and ?", list(window))
            scope = (
                "source_table = $table and (partition_day between $window_start and $window_end "
                "or (partition_day is null and source_file in (select unnest($files))))"
            )
            scope_params = {
                "table": table,
                "window_start": window[0],
                "window_end": window[1],
                "files": files,
            }
        else:
            conn.execute(f"delete from {target}")
            scope, scope_params = "source_table = $table", {"table": table}
        conn.execute(
            f"insert into {target} select {data}, _source_file, _row_number, _partition_day, "
            "now() from _classified where _reason is null order by _source_file, _row_number"
        )
        conn.execute(f"delete from {quarantine} where {scope}", scope_params)
        record = (
            "to_json(struct_pack("
            + ", ".join(f"{identifier(c)} := _raw_{c}" for c in columns)
            + "))"
        )
        conn.execute(
            f"insert into {quarantine} select ?, _source_file, _row_number, _partition_day, "
            f"_reason, {record}, now() from _classified where _reason is not null "
            "order by _source_file, _row_number",
            [table],
        )
        conn.execute(f"delete from {load_log} where {scope}", scope_params)
        conn.execute(
            f"""
            insert into {load_log}
            select ?, f.file, c._partition_day, count(c._source_file),
                count(c._source_file) filter (where c._reason is null),
                count(c._source_file) filter (where c._reason is not null), now()
            from (select unnest(?) as file) f
            left join _classified c on c._source_file = f.file
            group by f.file, c._partition_day
            """,
            [table, files],
        )
        read, loaded = conn.execute(
            "select count(*), count(*) filter (where _reason is null) from _classified"
        ).fetchone()
        reasons: dict[str, int] = {}
        for reason, rows in conn.execute(
            "select _reason, count(*) from _classified where _reason is not null group by 1"
        ).fetchall():
            kind = reason_kind(reason)
            reasons[kind] = reasons.get(kind, 0) + rows
        conn.execute("drop table _classified")
        conn.execute("drop table _incoming")
        conn.execute("commit")
    except Exception:
        conn.execute("rollback")
        raise
    return LoadReport(table, read, loaded, read - loaded, reasons, files, window)


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


def file_days(config: Config, table: str, path: str) -> tuple[date, date] | None:
    """The first and last day of the usable timestamps in one source file (None if it has none):
    the partitions a new file touches. Reads the file in a private in-memory DuckDB."""
    spec, source = TABLES[table], config.sources[table]
    if spec.timestamp is None:
        return None
    conn = duckdb.connect()
    try:
        conn.execute(f"set TimeZone = '{config.timezone}'")
        _read_file(conn, config, table, path, first=True)
        params = _timestamp_params(source, config)
        kind = CANONICAL_COLUMNS[table][spec.timestamp]
        parsed = _typed(spec.timestamp, kind, source, config)
        first, last = conn.execute(
            f"select cast(min({parsed}) as date), cast(max({parsed}) as date) from _incoming",
            params,
        ).fetchone()
    finally:
        conn.close()
    return (first, last) if first is not None else None
