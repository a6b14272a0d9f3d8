"""Load a configured source into its canonical raw table so that every row is loaded or quarantined.

Plain DuckDB code, no Dagster. `load_source` reads a source's files (CSV or Parquet) through the
config's column mapping, types every value, classifies each row by the first rule it breaks (or
as a duplicate), and in one transaction replaces the rows of the requested days in
`raw.<table>`, records rejected rows with file, line or row number and reason in
`raw.quarantine`, and records per file and day counts in `raw.load_log` and, per file, its rows
counted by an independent reader (landing/count.py) in `raw.file_counts`.

Partitioned tables (those with a timestamp, see TABLES) are loaded a window of days at a time:
re-loading a day replaces exactly that day. Rows that belong to no day (an unreadable line, an
unparseable, too old or future timestamp) are re-recorded each time their file is read. From a
Parquet file unchanged since the previous load, a window's load reads only the rows it writes and
those sharing their key (landing/read.py WindowRows).
Source column names are validated by the config and quoted; formats and other values are always
bound parameters, never spliced into SQL, and so are file paths, but for the view over the Parquet
files the passes read (landing/read.py incoming_view), which holds each path as a quoted string
literal (landing/sql.py string_literal).
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb

from landing.config import Config
from landing.count import FileCount, scan_source_file
from landing.erasure import ERASED_KEPT, erased_sql, erasure_count
from landing.read import (
    FileRead,
    SourceError,
    WindowRows,
    _bind,
    _read_file,
    _timestamp_params,
    _typed,
    file_fingerprint,
    incoming_view,
    native_types,
    other_file_error,
    window_keys,
    written_rows,
)
from landing.sql import identifier, relation
from landing.tables import (
    CUSTOMER_COLUMN,
    FILE_COUNT_TABLE,
    FRACTIONAL_QUANTITY_TYPE,
    LOAD_LOG_TABLE,
    PERSONAL_COLUMNS,
    QUARANTINE_TABLE,
    TABLES,
    column_types,
    ensure_raw_tables,
    masked_sql,
    scrubbed_sql,
)


@dataclass(frozen=True)
class LoadReport:
    table: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    reasons: dict[str, int]  # reason -> rows
    files: list[str]
    window: tuple[date, date] | None  # [first day, last day]; None: every day
    # What was tolerated, each naming its file (also in raw.load_log.warnings): a header column
    # without a name or named twice that the config does not use; rows loaded with invalid bytes
    # replaced by U+FFFD; a file no longer delivered, whose rows were removed.
    warnings: tuple[str, ...] = ()
    rows_erased: int = 0  # rows of customers on the erasure list (landing/erasure.py)
    # Files new or changed since the previous load (by size and modification time): each was
    # reloaded on every day it has rows, whatever the window.
    reloaded_files: tuple[str, ...] = ()
    # The first and last day whose rows this load replaced: the window, widened by the days the
    # reloaded files' rows were on before and are on now. None: every day (a load without window).
    days: tuple[date, date] | None = None


_QUOTE = "''''"  # SQL for one quote character, to quote an offending value in a reason
_EXPECTED = {
    "bigint": "a whole number",
    "decimal(18, 4)": "a number",
    "timestamp": "a date and time",
    "boolean": "true or false",
}


def _expected(column: str, kind: str) -> str:
    if column == "quantity" and kind == FRACTIONAL_QUANTITY_TYPE:
        return "a number with at most 4 decimal places"
    return _EXPECTED[kind]


def _hint(table: str, column: str, kind: str) -> str:
    """SQL appended to a type reason: for a fractional quantity where whole numbers are
    expected, the config key that allows fractions."""
    if column != "quantity" or kind != "bigint":
        return ""
    return (
        f" || case when try_cast(trim(_raw_quantity) as decimal(38, 10)) is not null then ' (a "
        f"fraction: set sources.{table}.fractional_quantities: true if quantities may be "
        "fractional, e.g. weights or litres)' else '' end"
    )


def _ensure_column_types(
    conn: duckdb.DuckDBPyConnection, schema: str, table: str, columns: dict[str, str]
) -> None:
    """Widen a raw table's whole-number quantity to the fractional type when the source now
    allows fractions (a table created before keeps its rows; whole numbers convert exactly)."""
    if columns.get("quantity") != FRACTIONAL_QUANTITY_TYPE:
        return
    (current,) = conn.execute(
        "select data_type from duckdb_columns() where schema_name = ? and table_name = ? "
        "and column_name = 'quantity'",
        [schema, table],
    ).fetchone()
    if current == "BIGINT":
        conn.execute(
            f"alter table {relation(schema, table)} alter column quantity "
            f"type {FRACTIONAL_QUANTITY_TYPE}"
        )


def reason_kind(reason: str) -> str:
    """A quarantine reason without the offending value, to count rows by kind of problem."""
    kind = re.split(r", got | \(", reason)[0]
    return kind.split(": ")[0] if ": " in kind and ": expected" not in kind else kind


def _partition_day(value: str, config: Config) -> str:
    """SQL: the day of the timestamp `value` when it is in the calendar (from first_day to today,
    and to last_day when set), else NULL."""
    in_calendar = f"{value} >= $first_day and {value} < $tomorrow"
    if config.last_day is not None:
        in_calendar += f" and {value} < $after_last_day"
    return f"case when {in_calendar} then cast({value} as date) end"


def _whole_calendar(window: tuple[date, date], config: Config, tomorrow: date) -> bool:
    """Whether `window` covers every day of the calendar: a load of it writes every row (a row
    outside the calendar has no day, and rows without a day are written by every load)."""
    last = tomorrow - timedelta(days=1)
    if config.last_day is not None:
        last = min(last, config.last_day)
    return window[0] <= config.first_day and window[1] >= last


def _window_rows(
    config: Config, table: str, native: dict[str, str], params: dict[str, object]
) -> WindowRows | None:
    """What a day window's load needs of an unchanged Parquet file of `table` (None: a table
    without a key, whose duplicates are ranked by all values, reads every row)."""
    spec, source = TABLES[table], config.sources[table]
    if not spec.key or spec.timestamp is None:
        return None
    kinds = column_types(table, source)
    ts = _typed(spec.timestamp, kinds[spec.timestamp], source, config, native.get(spec.timestamp))
    return WindowRows(
        _partition_day(ts, config),
        tuple(_typed(c, kinds[c], source, config, native.get(c)) for c in spec.key),
        params,
    )


def load_source(
    conn: duckdb.DuckDBPyConnection,
    config: Config,
    table: str,
    schema: str = "raw",
    window: tuple[date, date] | None = None,
    salt: str | None = None,
) -> LoadReport:
    """Load the configured source of `table` for the days in `window` (inclusive; None: all days,
    and always for tables without a timestamp). One transaction: all or nothing.

    Whatever the window, a file that is new or changed since the previous load replaces every
    row it contributed before, on every day, and a file no longer delivered takes its rows
    with it: the tables are the same as after a full load. The duplicate rules compare the
    rows loaded with every row of every file that shares their key, on any day, so a window
    does not change which copy is kept. The erasure list (landing/erasure.py) is applied with
    `salt`, the deployment's pseudonymization salt, which is required once the list is not
    empty."""
    spec = TABLES[table]
    source = config.sources[table]
    columns = column_types(table, source)
    files = [str(path) for path in config.source_files(table)]
    if not files:
        raise SourceError(
            f"sources.{table}.path: no file matches {config.resolve(source.path)}; nothing was loaded"
        )
    if spec.timestamp is None:
        window = None
    target = relation(schema, table)
    quarantine = relation(schema, QUARANTINE_TABLE)
    load_log = relation(schema, LOAD_LOG_TABLE)
    conn.execute(f"set TimeZone = '{config.timezone}'")  # a validated IANA zone name
    ensure_raw_tables(conn, schema)
    _ensure_column_types(conn, schema, table, columns)
    file_counts = relation(schema, FILE_COUNT_TABLE)
    fingerprints = {path: file_fingerprint(path) for path in files}
    previous = dict(
        conn.execute(
            f"select source_file, fingerprint from {file_counts} where source_table = ?", [table]
        ).fetchall()
    )
    # New or changed files are loaded on every day; so is everything when nothing is recorded.
    changed = [path for path in files if previous.get(path) != fingerprints[path]]
    gone = sorted(set(previous) - set(files))
    # The passes name a row's file by a number (see landing/read.py's _same_file), given in the
    # paths' text order: ordering by number is ordering by path (the duplicate rules' order).
    paths = sorted(files)
    numbers = {path: number for number, path in enumerate(paths)}
    native = native_types(conn, config, table, files)
    params = _timestamp_params(source, config)
    ts = identifier(spec.timestamp) if spec.timestamp else None
    day, day_rules = "null::date", ""
    if ts:
        # Today's rows, also those later today, are in today's partition (the shop's zone);
        # from tomorrow on a row is in the future, quarantined until a load on its day.
        params["first_day"] = config.first_day
        params["tomorrow"] = datetime.now(ZoneInfo(config.timezone)).date() + timedelta(days=1)
        day_rules = (
            f"when {ts} < $first_day then '{spec.timestamp} before first_day ' "
            f"|| cast($first_day as varchar) || ': ' || cast({ts} as varchar)\n"
            f"when {ts} >= $tomorrow then '{spec.timestamp} in the future (after today, ' "
            f"|| cast($tomorrow - 1 as varchar) || '): ' || cast({ts} as varchar)"
        )
        if config.last_day is not None:
            params["after_last_day"] = config.last_day + timedelta(days=1)
            day_rules += (
                f"\nwhen {ts} >= $after_last_day then '{spec.timestamp} after last_day ' "
                f"|| cast($after_last_day - 1 as varchar) || ': ' || cast({ts} as varchar)"
            )
        day = _partition_day(ts, config)
    written = ""  # the rows this load writes, when not all: the window's, changed files'
    if window and ts:
        params |= {
            "window_start": window[0],
            "window_end": window[1],
            "changed": [numbers[path] for path in changed],
        }
        if not _whole_calendar(window, config, params["tomorrow"]):
            written = written_rows("_partition_day")
    # A day window reads from an unchanged Parquet file only the rows it writes and those
    # sharing their key (whose copy is kept depends on them): the rest of a large file is not
    # copied, typed or ranked (a one-day load of a large file did that for every row).
    only = None
    if written and config.source_format(table) == "parquet":
        only = _window_rows(config, table, native, params)
    mapped: set[str] = set()
    reads: dict[str, FileRead] = {}
    file_warnings: dict[str, list[str]] = {}
    partial_counts: dict[str, int] = {}  # files of which _incoming holds only some rows
    # Each file is also counted by a reader that is not the loader (landing/count.py), in a
    # thread while DuckDB (which releases the GIL) reads the files.
    counter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="count")
    try:
        # The same streaming pass gives the loader each record's physical line (CsvScan).
        counting = {path: counter.submit(scan_source_file, config, table, path) for path in files}
        # Files read whole first: the keys of the rows written from them are the window's too.
        partial = [path for path in files if only is not None and path not in changed]
        whole = [path for path in files if path not in partial]
        for index, path in enumerate(whole + partial):
            if partial and path == partial[0]:
                window_keys(
                    conn,
                    config,
                    table,
                    {path: numbers[path] for path in partial},
                    only,
                    incoming=bool(whole),
                    native=native,
                )
            file_read = _read_file(
                conn,
                config,
                table,
                path,
                numbers[path],
                index == 0,
                counting[path].result,
                native,
                only if path in partial else None,
            )
            reads[path] = file_read
            incoming_view(conn, reads.values())
            mapped |= file_read.columns
            file_warnings[path] = file_read.warnings
            if file_read.rows is not None:
                partial_counts[path] = file_read.rows
        counts: dict[str, FileCount] = {
            path: future.result().count for path, future in counting.items()
        }
    except duckdb.Error as error:
        raise other_file_error(error, paths) or error from None
    finally:
        counter.shutdown(wait=False, cancel_futures=True)  # on an error: count no further files
    # Customers on the erasure list: their rows are not loaded (order lines: without the id).
    erased, replaced_id = "false", ""
    if CUSTOMER_COLUMN in columns and erasure_count(conn, schema):
        if salt is None:
            raise SourceError(
                f"{schema}.erasures lists erased customers, but no pseudonymization salt was "
                f"given to load {table}: pass the deployment's salt (PII_SALT)"
            )
        params["erasure_salt"] = salt
        if table in ERASED_KEPT:
            replaced_id = (
                f"replace (case when {erased_sql(CUSTOMER_COLUMN, schema)} then null "
                f"else {CUSTOMER_COLUMN} end as {CUSTOMER_COLUMN})"
            )
        else:
            erased = erased_sql(CUSTOMER_COLUMN, schema)
    typed = ", ".join(
        f"{_typed(column, kind, source, config, native.get(column))} as {identifier(column)}"
        for column, kind in columns.items()
    )
    # A row's values as read: text, but a value kept in its Parquet type stays so until the row
    # is quarantined (it cannot break a type rule, and the text of every row would cost).
    raw_values = ", ".join(
        f"{identifier(c) if c in native else f'cast({identifier(c)} as varchar)'} "
        f"as {identifier('_raw_' + c)}"
        for c in columns
    )
    fmt = " in the format ' || $timestamp_format || '" if source.timestamp_format else ""
    type_rules = "\n".join(
        f"when {identifier(c)} is null and trim(_raw_{c}) <> '' then "
        f"'{c}: expected {_expected(c, kind)}{fmt if kind == 'timestamp' else ''}, got ' "
        f"|| {_QUOTE} || _raw_{c} || {_QUOTE}{_hint(table, c, kind)}"
        for c, kind in columns.items()
        if kind in _EXPECTED and c not in native
    )
    rules = "\n".join(f"when {rule.condition} then {rule.reason}" for rule in spec.rules)
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
        f"order by _file_number, _row_number) > 1 "
        f"then 'duplicate {'/'.join(key)} with different values'"
        if key
        else ""
    )
    data = ", ".join(identifier(c) for c in columns)

    def checked(rows: str) -> str:
        """The CTEs typing and checking `rows` (of _incoming): `checked` has every rule's verdict
        but the duplicate rules'."""
        return f"""
            incoming as (
                select * {replaced_id}, {erased} as _erased from {rows}
            ),
            typed as (
                select {typed}, {raw_values}, _file_number, _row_number, _reject, _note, _erased
                from incoming
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
            )"""

    # The quarantine keeps a row's values as read, as JSON; only a quarantined row's are kept in
    # _classified. Personal values (PERSONAL_COLUMNS) are masked in the quarantine, and e-mail
    # addresses in any reason: they live only in raw.<table>.
    personal = PERSONAL_COLUMNS.get(table, ())
    record = (
        "to_json(struct_pack("
        + ", ".join(
            f"{identifier(c)} := "
            + (masked_sql(f"_raw_{c}") if c in personal else f"cast(_raw_{c} as varchar)")
            for c in columns
        )
        + "))"
    )
    # The duplicate rules rank rows by window, and ranking every row (by all its values) was most
    # of a large load's time. Only rows whose key another row shares can be duplicates (an exact
    # copy shares the key too), so they are found first by their key alone and only they are
    # ranked; without a key, by all their values. Every row sharing a key is ranked, whatever
    # the window, so the window does not decide which copy is kept. A load that writes only some
    # rows (a day window) looks only for the keys of those rows: counting every key of a large
    # file was most of a one-day load's time.
    group = ", ".join(identifier(c) for c in key or columns)

    def same(left: str, right: str) -> str:
        return " and ".join(
            f"{left}.{identifier(c)} is not distinct from {right}.{identifier(c)}"
            for c in key or columns
        )

    if written:
        shared = f"""
            select {group} from keys k
            semi join (select distinct {group} from checked where {written}) w
            on {same("k", "w")} group by all having count(*) > 1"""
    else:
        shared = f"select {group} from keys group by all having count(*) > 1"
    conn.execute("begin transaction")
    try:
        # The shared keys first: most loads have none, and then no row is read again to find
        # the rows that have one (a second pass typing every row: 111 M web events, 1m shop).
        keyed_rows = f"""
            with {checked("_incoming")},
            keys as not materialized (select {group}, _file_number, _row_number from checked)"""
        conn.execute(
            *_bind(f"create or replace temp table _shared as {keyed_rows} {shared}", params)
        )
        (any_shared,) = conn.execute("select count(*) > 0 from _shared").fetchone()
        conn.execute(
            *_bind(
                f"""
                create or replace temp table _candidates as {keyed_rows}
                select _file_number, _row_number from keys k semi join _shared r
                on {same("k", "r")}
                """
                if any_shared
                else "create or replace temp table _candidates as "
                "select _file_number, _row_number from _incoming limit 0",
                params,
            )
        )
        conn.execute(
            *_bind(
                f"""
                create or replace temp table _duplicates as
                with {checked("_incoming semi join _candidates using (_file_number, _row_number)")},
                ranked as (
                    select *, row_number() over (
                        partition by {data} order by _file_number, _row_number) as _copy
                    from checked
                )
                select _file_number, _row_number,
                    case when _copy > 1 then 'exact duplicate of an earlier row'
                         {key_rule}
                    end as _duplicate
                from ranked
                """,
                params,
            )
        )
        # Per file and day, the rows read and whether this load writes them; only the timestamp
        # is typed for it.
        conn.execute(
            *_bind(
                f"""
                create or replace temp table _tally as
                with {checked("_incoming")}
                select _file_number, _partition_day, {written or "true"} as _written,
                    count(*) as _rows
                from checked group by all
                """,
                params,
            )
        )
        read_by_loader = {
            paths[number]: rows
            for number, rows in conn.execute(
                "select _file_number, sum(_rows) from _tally group by 1"
            ).fetchall()
        } | partial_counts
        # Only the rows that are not simply loaded (quarantined, erased or loaded with a note) are
        # kept in _classified, and the raw table gets the other rows straight from _incoming: a
        # temp table of every row, then copied into the raw table, wrote every row twice, the
        # first time spilling to disk (a fifth of the load's time on 111 M web events).
        conn.execute(
            *_bind(
                f"""
                create or replace temp table _classified as
                with {checked("_incoming")},
                classified as (
                    select c.*, coalesce(c._rule, d._duplicate) as _reason
                    from checked c left join _duplicates d using (_file_number, _row_number)
                )
                select _file_number, _row_number, _partition_day, _reason, _erased, _note,
                    case when _reason is not null and not _erased then {record} end as _record
                from classified
                where (_reason is not null or _erased or _note is not null)
                    {f"and ({written})" if written else ""}
                """,
                params,
            )
        )
        if window:
            replaced_files = changed + gone
            days = conn.execute(
                f"select least(min(day), $first), greatest(max(day), $last) from ("
                f"select _partition_day as day from {target} where _source_file in "
                "(select unnest($files)) union all select _partition_day from _tally where _written)",
                {"first": window[0], "last": window[1], "files": replaced_files},
            ).fetchone()
            conn.execute(
                f"delete from {target} where _partition_day between ? and ? "
                "or _source_file in (select unnest(?))",
                [*window, replaced_files],
            )
            scope = (
                "source_table = $table and (partition_day between $window_start and $window_end "
                "or (partition_day is null and source_file in (select unnest($files))) "
                "or source_file in (select unnest($replaced)))"
            )
            scope_params = {
                "table": table,
                "window_start": window[0],
                "window_end": window[1],
                "files": files,
                "replaced": replaced_files,
            }
        else:
            days = None
            conn.execute(f"delete from {target}")
            scope, scope_params = "source_table = $table", {"table": table}
        conn.execute(
            *_bind(
                f"""
                insert into {target}
                with {checked("_incoming")}
                select {data}, $paths[_file_number + 1], _row_number, _partition_day, now()
                from checked
                anti join (select _file_number, _row_number from _classified
                    where _reason is not null or _erased) using (_file_number, _row_number)
                {f"where {written}" if written else ""}
                """,
                params | {"paths": paths},
            )
        )
        conn.execute(f"delete from {quarantine} where {scope}", scope_params)
        conn.execute(
            f"insert into {quarantine} select ?, ?[_file_number + 1], _row_number, _partition_day, "
            f"{scrubbed_sql('_reason')}, _record, now() from _classified "
            "where _reason is not null and not _erased order by _file_number, _row_number",
            [table, paths],
        )
        conn.execute(f"delete from {load_log} where {scope}", scope_params)
        # A file's warnings (what was tolerated) go on each of its rows in the load log, and
        # per day the rows loaded with a note (invalid bytes replaced), with their first lines.
        warned = ["; ".join(file_warnings.get(path, [])) or None for path in files]
        conn.execute(
            f"""
            insert into {load_log} (source_table, source_file, partition_day, rows_read,
                rows_loaded, rows_quarantined, rows_erased, loaded_at, warnings)
            with exceptions as (
                select _file_number, _partition_day,
                    count(*) filter (where _reason is not null and not _erased) as quarantined,
                    count(*) filter (where _erased) as erased,
                    count(_note) filter (where _reason is null) as noted,
                    list_slice(list(_row_number order by _row_number)
                        filter (where _note is not null and _reason is null), 1, 20) as lines
                from _classified group by all
            )
            select ?, f.file, t._partition_day, coalesce(t._rows, 0),
                coalesce(t._rows, 0) - coalesce(e.quarantined, 0) - coalesce(e.erased, 0),
                coalesce(e.quarantined, 0), coalesce(e.erased, 0), now(),
                nullif(concat_ws('; ', f.warnings,
                    case when e.noted > 0 then cast(e.noted as varchar)
                        || ' row(s) loaded with invalid bytes replaced by U+FFFD (lines '
                        || array_to_string(e.lines, ', ')
                        || case when e.noted > 20 then ', ...' else '' end || ')'
                    end), '')
            from (select unnest(?) as file, unnest(?) as number, unnest(?) as warnings) f
            left join (select * from _tally where _written) t on t._file_number = f.number
            left join exceptions e on e._file_number = t._file_number
                and e._partition_day is not distinct from t._partition_day
            -- a file without rows in the window has no entry, unless it has no rows at all
            where t._file_number is not null or f.file not in (select unnest(?))
            """,
            [
                table,
                files,
                [numbers[path] for path in files],
                warned,
                [path for path, rows in read_by_loader.items() if rows],
            ],
        )
        # The files of this load, each with its independent count (replacing the previous load's).
        in_window = {
            paths[number]: rows
            for number, rows in conn.execute(
                "select _file_number, sum(_rows) from _tally where _written group by 1"
            ).fetchall()
        }
        conn.execute(f"delete from {file_counts} where source_table = ?", [table])
        conn.executemany(
            f"insert into {file_counts} (source_table, source_file, rows_in_file, counted_by, "
            "count_note, rows_read_by_loader, rows_in_window, window_start, window_end, "
            "counted_at, fingerprint) values (?, ?, ?, ?, ?, ?, ?, ?, ?, now(), ?)",
            [
                [
                    table,
                    path,
                    counts[path].rows,
                    counts[path].method,
                    counts[path].note,
                    read_by_loader.get(path, 0),
                    in_window.get(path, 0),
                    # a file loaded on every day has no window
                    window[0] if window and path not in changed else None,
                    window[1] if window and path not in changed else None,
                    fingerprints[path],
                ]
                for path in files
            ],
        )
        read = sum(in_window.values())
        quarantined, erased_rows = conn.execute(
            "select count(*) filter (where _reason is not null and not _erased), "
            "count(*) filter (where _erased) from _classified"
        ).fetchone()
        loaded = read - quarantined - erased_rows
        reasons: dict[str, int] = {}
        for reason, rows in conn.execute(
            "select _reason, count(*) from _classified where _reason is not null and not _erased "
            "group by 1"
        ).fetchall():
            kind = reason_kind(reason)
            reasons[kind] = reasons.get(kind, 0) + rows
        repaired = [
            (paths[number], rows, lines)
            for number, rows, lines in conn.execute(
                "select _file_number, count(*), list_slice(list(_row_number order by "
                "_row_number), 1, 20) from _classified where _note is not null and _reason is "
                "null group by 1 order by 1"
            ).fetchall()
        ]
        for temporary in (
            "_classified",
            "_tally",
            "_duplicates",
            "_candidates",
            "_shared",
            "_incoming_rows",
        ):
            conn.execute(f"drop table {temporary}")
        conn.execute("drop view _incoming")
        conn.execute("drop table if exists _window_keys")
        # Each pass read the Parquet files that were not copied (FileRead.query) again: had one
        # changed meanwhile, the passes could disagree about its rows.
        for path, file_read in reads.items():
            if file_read.query is not None and file_fingerprint(path) != fingerprints[path]:
                raise SourceError(
                    f"{path}: changed while it was being loaded (size and modification time "
                    f"were {fingerprints[path]}, now {file_fingerprint(path)}); nothing was "
                    "loaded: load again to read the new file"
                )
        conn.execute("commit")
    except Exception as error:
        conn.execute("rollback")
        if isinstance(error, duckdb.Error):
            raise other_file_error(error, paths) or error from None
        raise
    warnings = (
        tuple(warning for path in files for warning in file_warnings.get(path, []))
        + tuple(
            f"{path}: {rows} row(s) loaded with invalid bytes replaced by U+FFFD (lines "
            f"{', '.join(map(str, lines))}{', ...' if rows > len(lines) else ''})"
            for path, rows, lines in repaired
        )
        + tuple(
            f"{path}: no longer delivered (it was in the previous load); its rows were removed"
            for path in gone
        )
    )
    return LoadReport(
        table,
        read,
        loaded,
        read - loaded - erased_rows,
        reasons,
        files,
        window,
        warnings,
        erased_rows,
        tuple(changed) if window else (),
        days,
    )
