"""An independent count of the rows in a source file, by readers that are not the loader.

The loader reads files with DuckDB; the reconciliation check (landing/reconcile.py) compares
what it loaded and quarantined with the count made here, so a row the loader folds into another,
skips or reads twice shows up as a discrepancy naming the file.

- CSV: Python's csv module streams the file (it understands quoting, so a quoted line break
  stays inside its record). Records after the header are counted. A blank line (nothing between
  two line breaks) is not a record, as DuckDB's reader skips it too; a line holding only spaces
  or delimiters is a record (the loader quarantines or loads it).
  A record whose quoted field spans lines that each look like a whole record (every line holds
  exactly the header's number of delimiters) is counted as that many records: that is what an
  unbalanced quote does when it folds the next lines into one field, and it is valid CSV, so no
  CSV parser, DuckDB's or Python's, would see it otherwise. A real multi-line text (an address,
  a review) is one record: its lines do not each carry a whole record's delimiters.
- Parquet: the row count in the file's metadata.

Memory stays bounded: the file is streamed, and a single field may hold at most FIELD_LIMIT
characters (an unbalanced quote that would swallow the rest of a large file makes the count fail
with the line, instead of reading gigabytes into one field).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from landing.config import Config

FIELD_LIMIT = 16 * 1024 * 1024  # characters in one field; DuckDB rejects lines over 2 MB anyway
CSV_METHOD = "python csv module"
PARQUET_METHOD = "parquet metadata"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class FileCount:
    """The rows in one file by an independent reader. `rows` is None when the file could not be
    counted; `note` then says why, or else reports records that were counted as folded lines."""

    rows: int | None
    method: str
    note: str | None = None


def count_parquet_rows(path: str | Path) -> FileCount:
    """The row count stored in a Parquet file's metadata (no data is read)."""
    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except Exception as error:  # noqa: BLE001 - any unreadable file is reported, not raised
        return FileCount(None, PARQUET_METHOD, f"not a readable Parquet file ({error})")
    return FileCount(rows, PARQUET_METHOD)


@dataclass(frozen=True)
class CsvScan:
    """One streaming pass over a CSV file: its independent count, and what the loader needs to
    number its rows by physical line and to recover lines with invalid bytes.

    Items are what the csv module yields, numbered from 1 (the header is item 1): each record
    and each blank line, so a record's item number is DuckDB's `line` in its rejects table (a
    quoted line break does not start an item). `starts` maps records (not blank lines, 0-based
    `ordinal` in file order) to item numbers and physical starting lines; it holds only the
    records where either offset changes (after a blank line or a record spanning lines), so it
    stays small: (ordinal, item, line) of such a record; the records after it follow one item
    and one line each. `records` is the number of records (blank lines and the header not
    counted, and a folded record counted once); None when the scan failed. `replaced` holds, by
    item number, the fields of records that had bytes invalid in the encoding, decoded with
    U+FFFD in their place (at most REPLACED_LIMIT records)."""

    count: FileCount
    starts: list[tuple[int, int, int]]
    records: int | None
    replaced: dict[int, list[str]]


REPLACED_LIMIT = 100_000  # records with invalid bytes kept per file for recovery


def count_csv_rows(
    path: str | Path, delimiter: str = ",", encoding: str = "utf-8", header: bool = True
) -> FileCount:
    """The records in a CSV file after its header (see the module docstring for blank lines and
    folded lines), streamed with Python's csv module: linear time, bounded memory."""
    return scan_csv(path, delimiter, encoding, header).count


def scan_csv(
    path: str | Path, delimiter: str = ",", encoding: str = "utf-8", header: bool = True
) -> CsvScan:
    """Count a CSV file's records (count_csv_rows) and, in the same streaming pass, note where
    each record starts and keep records with invalid bytes (see CsvScan): linear time, memory
    bounded by the lines that break the one-record-per-line pattern."""
    count, starts, records, replaced = _scan(path, delimiter, encoding, header)
    return CsvScan(count, starts, records, replaced)


class _ReplacedLines:
    """The lines of a text file, as csv.reader reads them (it reads exactly the lines of each
    record, no further), noting the number of the last line that held U+FFFD (an invalid byte
    decoded with errors="replace"): a record starting on or before it may hold one."""

    def __init__(self, handle: Iterator[str]) -> None:
        self.lines = iter(handle)
        self.number = 0
        self.last = 0

    def __iter__(self) -> _ReplacedLines:
        return self

    def __next__(self) -> str:
        text = next(self.lines)
        self.number += 1
        if "\ufffd" in text:
            self.last = self.number
        return text


def _scan(
    path: str | Path, delimiter: str, encoding: str, header: bool
) -> tuple[FileCount, list[tuple[int, int, int]], int | None, dict[int, list[str]]]:
    starts: list[tuple[int, int, int]] = []
    replaced: dict[int, list[str]] = {}
    if csv.field_size_limit() < FIELD_LIMIT:
        csv.field_size_limit(FIELD_LIMIT)  # only ever raised, never lowered (process-wide)
    text_encoding = "utf-8-sig" if encoding == "utf-8" else encoding
    rows = folded = 0
    first_fold: int | None = None
    try:
        handle = open(path, encoding=text_encoding, errors="replace", newline="")  # noqa: SIM115
    except OSError as error:
        return FileCount(None, CSV_METHOD, f"could not be opened ({error})"), [], None, {}
    with handle:
        flags = _ReplacedLines(handle)
        reader = csv.reader(flags, delimiter=delimiter, quotechar='"', doublequote=True)
        width: int | None = None
        line = 0  # physical lines consumed so far
        item = ordinal = 0  # items (records and blank lines) and records seen so far
        item_offset = line_offset = None  # item - ordinal and line - ordinal of the last record
        try:
            if header:
                names = next(reader, None)
                if names is None:
                    return FileCount(0, CSV_METHOD), [], 0, {}
                width, line, item = len(names), reader.line_num, 1
            for record in reader:
                start, line = line + 1, reader.line_num
                item += 1
                if not record:
                    continue  # a blank line
                if item - ordinal != item_offset or start - ordinal != line_offset:
                    item_offset, line_offset = item - ordinal, start - ordinal
                    starts.append((ordinal, item, start))
                ordinal += 1
                # A line of this record held U+FFFD (checked per line by _ReplacedLines: a
                # check of every field of every record cost more than the parsing).
                if (
                    flags.last >= start
                    and len(replaced) < REPLACED_LIMIT
                    and any("\ufffd" in value for value in record)
                ):
                    replaced[item] = record
                if width is None:
                    width = len(record)
                if line > start and width > 1:  # a quoted field holds line breaks
                    pieces = [p for p in _LINE_BREAK.split(delimiter.join(record)) if p]
                    if len(pieces) > 1 and all(p.count(delimiter) == width - 1 for p in pieces):
                        rows += len(pieces)
                        folded += len(pieces) - 1
                        first_fold = first_fold or start
                        continue
                rows += 1
        except OSError as error:
            return FileCount(None, CSV_METHOD, f"line {reader.line_num}: {error}"), [], None, {}
        except csv.Error as error:
            note = (
                f"line {reader.line_num}: {error}: expected at most {FIELD_LIMIT:,} characters in "
                "a field (an unbalanced quote?); the file could not be counted"
            )
            return FileCount(None, CSV_METHOD, note), [], None, {}
    note = None
    if folded:
        note = (
            f"{folded} line(s) that each look like a whole record are inside a quoted field, "
            f"first at line {first_fold} (an unbalanced quote?); counted as records"
        )
    return FileCount(rows, CSV_METHOD, note), starts, ordinal, replaced


def count_source_file(config: Config, table: str, path: str | Path) -> FileCount:
    """The independent count of one file of a configured source, with the source's dialect."""
    return scan_source_file(config, table, path).count


def scan_source_file(config: Config, table: str, path: str | Path) -> CsvScan:
    """The independent count of one file of a configured source, with the source's dialect, and
    for CSV what the loader needs to number and recover its lines (CsvScan; for Parquet and
    empty files only the count)."""
    if config.source_format(table) == "parquet":
        return CsvScan(count_parquet_rows(path), [], None, {})
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        return CsvScan(FileCount(0, CSV_METHOD), [], 0, {})  # no header, no rows, as logged
    source = config.sources[table]
    return scan_csv(path, source.delimiter, source.encoding, source.header)
