"""Run Great Expectations 1.x suites kept as JSON files in expectations/, on bounded data.

Each suite file names the warehouse table it validates and the Dagster asset it belongs to in
its `meta`. Validation goes through GE's pandas path: GE's SQL path on DuckDB returns wrong
failures (see README, "Data quality"), so the referenced columns are pulled into pandas first.

What is pulled is bounded (`validate_table`), so a check's cost follows what a run changed, not
the size of the table:

- **Day-partitioned raw tables** (order lines, web events; a `_partition_day` column): the rows
  of the days the run reloaded are validated in full, so a bad value there always fails the
  check. Of the other rows, all of them when they are at most `QUALITY_SAMPLE_ROWS`
  (orchestration/settings.py), else a reproducible sample of that many (DuckDB reservoir
  sampling of row ids with a fixed seed: the same table gives the same rows). A bad row outside
  the run's days and outside the sample can be missed by that run; it was validated in full by
  the run that loaded its day. When the run's days hold more than `full_limit` rows
  (`QUALITY_FULL_ROWS`: a full refresh of a large shop), pulling them into pandas would not fit
  in memory: the run is validated like one without days, on a sample, and the metadata says so.
- **Other tables** (customers, reviews, campaign sends, marts.customer_features), and a
  partitioned table in a run without day tags: the whole table when it has at most
  `QUALITY_SAMPLE_ROWS` rows, else a reproducible sample of that many.

Row-level expectations (`expect_column_values_to_*`, `expect_column_pair_values_*`: each row
passes or fails on its own) give the right answer on any subset, so they run through GE on those
rows. An expectation with `mostly` is judged on the share among the validated rows (the run's
days weigh more than their share of the table; a sample estimates the rest).

Expectations that are about the whole table give wrong answers on a subset: a row count of a
sample is not the table's, and a sample can hide a duplicate. They are not run on the subset:

- `expect_table_row_count_to_be_between` and `expect_column_values_to_be_unique` are computed
  on the whole table in DuckDB by a small aggregate (`count(*)`; a `group by` of the column
  keeping values seen more than once), not through GE's SQL path. This costs a scan of one
  column, far less than pulling the table into pandas, so it stays exact. In a run with day tags
  on a partitioned table, uniqueness is checked for the values of the reloaded days against the
  whole table (a join on those values): a duplicate between a reloaded row and any other row
  fails, and a duplicate between two older rows was caught by the run that loaded the later of
  them. A run without day tags groups the whole column.
- Any other expectation that is not row-level (a column mean, a distinct-value count, ...) is
  kept on full data: when the rows were bounded, it is validated through GE on the whole
  table's columns it references (its cost grows with the table; none of today's suites has one).

A failure's examples go into the check's metadata, which Dagster keeps in its event log and shows
in the UI, so personal values are masked first (`mask`): the examples, and any value observed, of
an expectation on a personal column (`PERSONAL_COLUMNS`, the canonical customer columns holding
personal data, plus any a suite lists in its meta `personal_columns`) show only their shape, and
anything e-mail-like in a failure's text is masked whatever its column (`scrub`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from landing.sql import identifier, relation
from landing.tables import PERSONAL_COLUMNS as PERSONAL

if TYPE_CHECKING:
    import pandas as pd

PARTITION_DAY_COLUMN = "_partition_day"  # landing.tables.LINEAGE_COLUMNS
SAMPLE_SEED = 42  # DuckDB's REPEATABLE seed for the reservoir sample of rows beyond a run's days

# Computed on the whole table in DuckDB (see the module docstring), never on a subset.
ROW_COUNT = "expect_table_row_count_to_be_between"
UNIQUE = "expect_column_values_to_be_unique"
TABLE_WIDE_IN_SQL = frozenset({ROW_COUNT, UNIQUE})
_ROW_LEVEL_PREFIXES = ("expect_column_values_to_", "expect_column_pair_values_")
_NOT_ROW_LEVEL = frozenset(
    {UNIQUE, "expect_column_values_to_be_increasing", "expect_column_values_to_be_decreasing"}
)

# Columns whose values never enter a check's metadata in clear: the canonical columns holding
# personal data (landing.tables.PERSONAL_COLUMNS); a suite adds its own with a list in its meta,
# `"personal_columns": ["phone"]`.
PERSONAL_COLUMNS = frozenset(column for columns in PERSONAL.values() for column in columns)
MASKED_LENGTH = 60  # a masked value longer than this is cut, with an ellipsis
_WORD = re.compile(r"\w+")
# Anything shaped like an e-mail address inside free text (an example, an exception message).
_EMAIL_LIKE = re.compile(r"[^\s@'\"`<>,;:()\[\]{}|]+@[^\s@'\"`<>,;:()\[\]{}|]+")


def _missing(value: object) -> bool:
    import pandas as pd  # not at the top: the Dagster code location imports this module

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # an array-like value: not a single missing value
        return False


def _mask_word(match: re.Match[str]) -> str:
    word = match.group(0)
    return f"{word[0]}***" if len(word) >= 3 else "***"


def mask(value: object) -> object:
    """A personal value shown by its shape only: each run of letters or digits becomes its first
    character and `***` (`***` alone when shorter than three), while `@`, dots, spaces and other
    punctuation stay, so why a value failed (a missing `@`, a space) is still visible:
    `john.doe@example.com` -> `j***.d***@e***.c***`. Numbers are masked the same way (a phone
    number is personal too). Lists, tuples and dicts are masked item by item; missing values
    (None, NaN) and booleans are kept."""
    if isinstance(value, dict):
        return {key: mask(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask(item) for item in value]
    if value is None or isinstance(value, bool) or _missing(value):
        return value
    masked = _WORD.sub(_mask_word, str(value))
    return masked if len(masked) <= MASKED_LENGTH else masked[: MASKED_LENGTH - 1] + "…"


def _scrub_token(match: re.Match[str]) -> str:
    token = match.group(0)
    return token if "***" in token else str(mask(token))  # already masked: kept


def scrub(text: str) -> str:
    """`text` with every e-mail-like token masked (`mask`), whatever column it came from."""
    return _EMAIL_LIKE.sub(_scrub_token, text)


def is_row_level(expectation_type: str) -> bool:
    """True when each row passes or fails on its own, so any subset of rows gives the right
    answer for those rows."""
    return (
        expectation_type.startswith(_ROW_LEVEL_PREFIXES)
        or expectation_type == "expect_select_column_values_to_be_unique_within_record"
    ) and expectation_type not in _NOT_ROW_LEVEL


def _columns_of(expectations: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for expectation in expectations:
        kwargs = expectation.get("kwargs", {})
        named = [kwargs.get(key) for key in ("column", "column_A", "column_B")]
        for column in [*named, *kwargs.get("column_list", [])]:
            if column:
                seen[column] = None
    return list(seen)


@dataclass(frozen=True)
class SuiteFile:
    """A suite on disk and what it checks."""

    name: str
    path: Path
    table: str  # schema.table in the warehouse
    asset_key: tuple[str, ...]
    blocking: bool
    description: str
    personal_columns: frozenset[str] = PERSONAL_COLUMNS  # their values are masked (`mask`)

    @property
    def columns(self) -> list[str]:
        """Columns the suite's expectations reference, in first-seen order."""
        return _columns_of(self.definition()["expectations"])

    def definition(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())


@dataclass(frozen=True)
class Failure:
    expectation: str
    column: str | None
    observed: str
    details: str


@dataclass(frozen=True)
class Outcome:
    success: bool
    evaluated: int
    failures: list[Failure]


def discover_suites(directory: Path) -> list[SuiteFile]:
    """Every `*.json` suite in `directory`, with its target table and asset from `meta`."""
    suites = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text())
        meta = data.get("meta", {})
        missing = [key for key in ("table", "asset_key") if key not in meta]
        if missing:
            raise ValueError(
                f"{path}: suite meta is missing {missing} (expected the table and asset it checks)"
            )
        suites.append(
            SuiteFile(
                name=data["name"],
                path=path,
                table=meta["table"],
                asset_key=tuple(meta["asset_key"]),
                blocking=bool(meta.get("blocking", False)),
                description=meta.get("description", f"Great Expectations suite {data['name']}"),
                personal_columns=PERSONAL_COLUMNS | frozenset(meta.get("personal_columns", [])),
            )
        )
    return suites


@cache
def _context() -> Any:
    # GE sends usage analytics unless told otherwise before its import; this machine is offline.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _is_personal(kwargs: dict[str, Any], suite: SuiteFile) -> bool:
    """True when an expectation with these kwargs reads a personal column of the suite."""
    named = [kwargs.get(key) for key in ("column", "column_A", "column_B")]
    return any(c in suite.personal_columns for c in [*named, *kwargs.get("column_list", [])])


def _describe(result: dict[str, Any], personal: bool = False) -> tuple[str, str]:
    """What GE observed and up to five failing examples, masked (`mask`) when `personal`, and
    e-mail-like text scrubbed (`scrub`) in any case."""
    if "observed_value" in result:
        observed_value = result["observed_value"]
        return scrub(str(mask(observed_value) if personal else observed_value)), ""
    count = result.get("unexpected_count")
    percent = result.get("unexpected_percent")
    sample = list(result.get("partial_unexpected_list", [])[:5])
    if personal:
        sample = [mask(value) for value in sample]
    observed = f"{count} unexpected values" if count is not None else "failed"
    if percent is not None:
        observed += f" ({percent:.2f}%)"
    return observed, scrub(f"examples: {sample}") if sample else ""


def validate(
    frame: pd.DataFrame, suite: SuiteFile, select: Callable[[str], bool] | None = None
) -> Outcome:
    """Validate `frame` against the suite (only the expectations whose type `select` accepts,
    when given); return which expectations failed and what was seen."""
    import great_expectations as gx

    context = _context()
    definition = suite.definition()
    gx_suite = gx.ExpectationSuite(name=definition["name"], expectations=definition["expectations"])
    if len(gx_suite.expectations) != len(definition["expectations"]):
        # GE logs and drops an expectation it cannot build (e.g. a misspelled type): fail instead.
        known = {e.expectation_type for e in gx_suite.expectations}
        dropped = [e["type"] for e in definition["expectations"] if e["type"] not in known]
        raise ValueError(
            f"{suite.path}: invalid expectations {dropped}; check each 'type' and its kwargs"
        )
    if select is not None:
        chosen = [e for e in definition["expectations"] if select(e["type"])]
        if not chosen:
            return Outcome(success=True, evaluated=0, failures=[])
        gx_suite = gx.ExpectationSuite(name=definition["name"], expectations=chosen)
    source_name = f"frames_{suite.name}"
    try:
        source = context.data_sources.get(source_name)
    except Exception:  # not registered yet in this process
        source = context.data_sources.add_pandas(source_name)
    try:
        batch_definition = source.get_asset("frame").get_batch_definition("whole")
    except Exception:
        batch_definition = source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe(
            "whole"
        )
    result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(gx_suite)

    failures = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        observed, details = _describe(item.result or {}, _is_personal(config.kwargs, suite))
        if item.exception_info and item.exception_info.get("raised_exception"):
            details = scrub(item.exception_info.get("exception_message", "")) or details
        failures.append(Failure(config.type, config.kwargs.get("column"), observed, details))
    return Outcome(success=bool(result.success), evaluated=len(result.results), failures=failures)


@dataclass(frozen=True)
class Selection:
    """Which rows of a table a check validated through GE, and why."""

    table_rows: int
    days: tuple[date, date] | None  # the run's reloaded days, validated in full
    day_rows: int  # rows of those days
    other_rows: int  # rows outside those days (all rows when `days` is None)
    sample_rows: int | None  # None: every other row was validated
    seed: int | None
    too_many_days: tuple[tuple[date, date], int, int] | None = None  # days, their rows, limit

    @property
    def rows(self) -> int:
        return self.day_rows + (self.other_rows if self.sample_rows is None else self.sample_rows)

    @property
    def whole(self) -> bool:
        return self.sample_rows is None

    def describe(self) -> str:
        if self.too_many_days is not None:
            (first, last), rows, limit = self.too_many_days
            return (
                f"days {first}..{last} hold {rows:,} rows, more than the {limit:,} validated in "
                f"full at once: {self._describe_rows()}"
            )
        return self._describe_rows()

    def _describe_rows(self) -> str:
        if self.days is None:
            if self.whole:
                return f"whole table ({self.table_rows:,} rows)"
            return (
                f"sample of {self.sample_rows:,} of {self.table_rows:,} rows (reservoir, seed "
                f"{self.seed}); the run names no days, so none was validated in full"
            )
        first, last = self.days
        span = f"day {first}" if first == last else f"days {first}..{last}"
        head = f"{span} in full ({self.day_rows:,} rows)"
        if self.other_rows == 0:
            return f"{head}: the whole table"
        if self.whole:
            return f"{head} + all {self.other_rows:,} other rows (whole table)"
        return (
            f"{head} + sample of {self.sample_rows:,} of {self.other_rows:,} other rows "
            f"(reservoir, seed {self.seed})"
        )


def _table_sql(table: str) -> str:
    schema, name = table.split(".")
    return relation(schema, name)


def _is_base_table(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    found = conn.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
        [schema, name],
    ).fetchone()
    return bool(found and found[0])


def rows_to_validate(
    conn: duckdb.DuckDBPyConnection,
    suite: SuiteFile,
    days: tuple[date, date] | None,
    bound: int,
    seed: int = SAMPLE_SEED,
    full_limit: int | None = None,
) -> tuple[pd.DataFrame, Selection]:
    """The rows GE validates for `suite`, with the columns its row-level expectations reference.

    `days` (inclusive; only for a table with a `_partition_day` column): those days' rows in full.
    The other rows (every row when `days` is None): all of them when at most `bound`, else a
    reservoir sample of `bound` rows with DuckDB's REPEATABLE `seed`, the same rows for the same
    table. Raises duckdb.BinderException when a referenced column is missing."""
    expectations = [e for e in suite.definition()["expectations"] if is_row_level(e["type"])]
    columns = _columns_of(expectations)
    table = _table_sql(suite.table)
    listed = ", ".join(identifier(column) for column in columns) if columns else "1 as _row"
    if days is None:
        in_days, params = "false", []
    else:
        in_days = f"coalesce({identifier(PARTITION_DAY_COLUMN)} between ? and ?, false)"
        params = [days[0], days[1]]
    counted = conn.execute(
        f"select count(*), count(*) filter (where {in_days}) from {table}", params
    ).fetchone()
    table_rows, day_rows = (int(counted[0]), int(counted[1])) if counted else (0, 0)
    if days is not None and full_limit is not None and day_rows > full_limit:
        # Too many reloaded rows to pull into pandas (a full refresh of a large shop): validated
        # like a run without days, on a bounded sample of the whole table; the metadata says so.
        frame, selection = rows_to_validate(conn, suite, None, bound, seed)
        return frame, replace(selection, too_many_days=(days, day_rows, full_limit))
    other_rows = table_rows - day_rows
    sampled = other_rows > bound
    if not sampled:
        query, query_params = f"select {listed} from {table}", []
    elif _is_base_table(conn, suite.table):  # sample row ids, then read only those rows
        query = (
            f"select {listed} from {table} where {in_days} or rowid in ("
            f"select rowid from (select rowid from {table} where not {in_days}) "
            f"using sample reservoir({int(bound)} rows) repeatable ({int(seed)}))"
        )
        query_params = params * 2
    else:
        query = (
            f"select {listed} from {table} where {in_days} union all "
            f"select * from (select {listed} from {table} where not {in_days}) "
            f"using sample reservoir({int(bound)} rows) repeatable ({int(seed)})"
        )
        query_params = params * 2
    frame = conn.execute(query, query_params).df()
    selection = Selection(
        table_rows=table_rows,
        days=days,
        day_rows=day_rows,
        other_rows=other_rows,
        sample_rows=bound if sampled else None,
        seed=seed if sampled else None,
    )
    return frame, selection


def _sql_outcome(
    conn: duckdb.DuckDBPyConnection,
    suite: SuiteFile,
    days: tuple[date, date] | None,
) -> tuple[Outcome, list[str]]:
    """Row count and uniqueness expectations on the whole table in DuckDB (see the module
    docstring); what was computed, in words."""
    table = _table_sql(suite.table)
    failures: list[Failure] = []
    evaluated = 0
    said: list[str] = []
    for expectation in suite.definition()["expectations"]:
        kind, kwargs = expectation["type"], expectation.get("kwargs", {})
        if kind == ROW_COUNT:
            evaluated += 1
            row = conn.execute(f"select count(*) from {table}").fetchone()
            count = int(row[0]) if row else 0
            low, high = kwargs.get("min_value"), kwargs.get("max_value")
            if (low is not None and count < low) or (high is not None and count > high):
                failures.append(Failure(kind, None, str(count), f"expected {low}..{high} rows"))
            said.append("row count of the whole table")
        elif kind == UNIQUE:
            evaluated += 1
            column = identifier(kwargs["column"])
            if days is None:
                scope = f"select {column} as value from {table} where {column} is not null"
                said.append(f"uniqueness of {kwargs['column']} over the whole table")
            else:  # the reloaded days' values against every row of the table
                scope = (
                    f"select t.{column} as value from {table} t semi join (select distinct "
                    f"{column} as value from {table} where {identifier(PARTITION_DAY_COLUMN)} "
                    f"between ? and ?) d on t.{column} = d.value"
                )
                said.append(
                    f"uniqueness of {kwargs['column']}: the reloaded days' values against the "
                    "whole table"
                )
            params = [] if days is None else [days[0], days[1]]
            duplicated = conn.execute(
                f"with repeated as (select value, count(*) as n from ({scope}) group by value "
                "having count(*) > 1) select coalesce(sum(n), 0), "
                "list(value order by value)[1:5] from repeated",
                params,
            ).fetchone()
            unexpected = int(duplicated[0]) if duplicated else 0
            if unexpected:
                present = conn.execute(f"select count({column}) from {table}").fetchone()
                share = unexpected / max(int(present[0]) if present else 0, 1)
                mostly = kwargs.get("mostly")
                if mostly is None or 1 - share < mostly:
                    examples = list(duplicated[1] or [])
                    if _is_personal(kwargs, suite):
                        examples = [mask(value) for value in examples]
                    failures.append(
                        Failure(
                            kind,
                            kwargs["column"],
                            f"{unexpected} unexpected values ({share * 100:.2f}%)",
                            scrub(f"examples: {examples}"),
                        )
                    )
    outcome = Outcome(success=not failures, evaluated=evaluated, failures=failures)
    return outcome, said


@dataclass(frozen=True)
class TableReport:
    """A suite's outcome on a table and what it was computed on."""

    outcome: Outcome
    selection: Selection
    validated: str  # in words, for the check's metadata
    table_wide: list[str] = field(default_factory=list)


def validate_table(
    conn: duckdb.DuckDBPyConnection,
    suite: SuiteFile,
    days: tuple[date, date] | None,
    bound: int,
    seed: int = SAMPLE_SEED,
    full_limit: int | None = None,
) -> TableReport:
    """Validate the suite's table on bounded rows (`rows_to_validate`): row-level expectations
    through GE on those rows, row count and uniqueness on the whole table in DuckDB, any other
    expectation through GE on the whole table's columns it references."""
    definition = suite.definition()
    frame, selection = rows_to_validate(conn, suite, days, bound, seed, full_limit)
    parts = [validate(frame, suite, is_row_level)]
    sql_outcome, said = _sql_outcome(conn, suite, days)
    parts.append(sql_outcome)

    def other(kind: str) -> bool:
        return not is_row_level(kind) and kind not in TABLE_WIDE_IN_SQL

    others = [e for e in definition["expectations"] if other(e["type"])]
    if others:  # kept on full data: these expectations are about the whole table
        listed = ", ".join(identifier(c) for c in _columns_of(others)) or "1 as _row"
        whole = conn.execute(f"select {listed} from {_table_sql(suite.table)}").df()
        said.append(f"{len(others)} other table-wide expectations on the whole table")
        parts.append(validate(whole, suite, other))
    failures = [failure for part in parts for failure in part.failures]
    outcome = Outcome(
        success=all(part.success for part in parts),
        evaluated=sum(part.evaluated for part in parts),
        failures=failures,
    )
    return TableReport(outcome, selection, selection.describe(), said)
