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


def count_csv_rows(
    path: str | Path, delimiter: str = ",", encoding: str = "utf-8", header: bool = True
) -> FileCount:
    """The records in a CSV file after its header (see the module docstring for blank lines and
    folded lines), streamed with Python's csv module: linear time, bounded memory."""
    if csv.field_size_limit() < FIELD_LIMIT:
        csv.field_size_limit(FIELD_LIMIT)  # only ever raised, never lowered (process-wide)
    text_encoding = "utf-8-sig" if encoding == "utf-8" else encoding
    rows = folded = 0
    first_fold: int | None = None
    try:
        handle = open(path, encoding=text_encoding, errors="replace", newline="")  # noqa: SIM115
    except OSError as error:
        return FileCount(None, CSV_METHOD, f"could not be opened ({error})")
    with handle:
        reader = csv.reader(handle, delimiter=delimiter, quotechar='"', doublequote=True)
        width: int | None = None
        line = 0  # physical lines consumed so far
        try:
            if header:
                names = next(reader, None)
                if names is None:
                    return FileCount(0, CSV_METHOD)
                width, line = len(names), reader.line_num
            for record in reader:
                start, line = line + 1, reader.line_num
                if not record:
                    continue  # a blank line
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
            return FileCount(None, CSV_METHOD, f"line {reader.line_num}: {error}")
        except csv.Error as error:
            return FileCount(
                None,
                CSV_METHOD,
                f"line {reader.line_num}: {error}: expected at most {FIELD_LIMIT:,} characters in "
                "a field (an unbalanced quote?); the file could not be counted",
            )
    note = None
    if folded:
        note = (
            f"{folded} line(s) that each look like a whole record are inside a quoted field, "
            f"first at line {first_fold} (an unbalanced quote?); counted as records"
        )
    return FileCount(rows, CSV_METHOD, note)


def count_source_file(config: Config, table: str, path: str | Path) -> FileCount:
    """The independent count of one file of a configured source, with the source's dialect."""
    if config.source_format(table) == "parquet":
        return count_parquet_rows(path)
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        return FileCount(0, CSV_METHOD)  # no header and no rows, as the loader logs it
    source = config.sources[table]
    return count_csv_rows(path, source.delimiter, source.encoding, source.header)
