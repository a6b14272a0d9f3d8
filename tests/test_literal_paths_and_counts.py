"""Files are read literally, whatever their names, and every file's rows are counted by a reader
that is not the loader, so the reconciliation catches rows the loader folds, skips or reads twice.

Loads run in a temporary DuckDB with load_source and reconcile, without Dagster.
"""

from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_ingestion import HEADER, _config, _write_lines

import landing.read
from landing import SourceError, load_config, load_source, reconcile
from landing.count import (
    CSV_METHOD,
    FIELD_LIMIT,
    PARQUET_METHOD,
    count_csv_rows,
    count_parquet_rows,
)
from landing.read import file_days, literal_path


def _line(order: int, name: str = "ITEM", day: str = "2010-06-01") -> str:
    return f"{order},P{order},{name},1,{day} 10:00:00,2.50,C{order},United Kingdom"


@pytest.fixture
def conn():
    with duckdb.connect() as connection:
        yield connection


def _orders_by_file(conn: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = conn.execute(
        "select regexp_extract(_source_file, '[^/]+$'), list(order_id order by order_id) "
        "from raw.order_lines group by 1"
    ).fetchall()
    return dict(rows)


def _read_per_file(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = conn.execute(
        "select regexp_extract(source_file, '[^/]+$'), sum(rows_read) from raw.load_log group by 1"
    ).fetchall()
    return dict(rows)


def test_brackets_in_a_file_name_are_read_literally(conn, tmp_path):
    _write_lines(tmp_path / "landing" / "orders[1].csv", [_line(1)])
    _write_lines(tmp_path / "landing" / "orders1.csv", [_line(2)])
    config = load_config(_config(tmp_path, path="landing/orders*.csv"))
    report = load_source(conn, config, "order_lines")
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (2, 2, 0)
    # Before: orders1.csv was read twice (its copy quarantined as duplicates), orders[1] never.
    assert _orders_by_file(conn) == {"orders[1].csv": ["1"], "orders1.csv": ["2"]}
    assert _read_per_file(conn) == {"orders[1].csv": 1, "orders1.csv": 1}
    assert conn.execute("select count(*) from raw.quarantine").fetchone()[0] == 0
    assert reconcile(conn, "order_lines") == []
    assert literal_path("/a[1]/b]*?.csv") == "/a[[]1[]]/b[]][*][?].csv"


def test_question_marks_and_stars_in_file_names_are_read_literally(conn, tmp_path):
    # Read as patterns, o?x.csv and o*x.csv would each also read oax.csv.
    for order, name in enumerate(["o?x.csv", "o*x.csv", "oax.csv"], start=1):
        _write_lines(tmp_path / "landing" / name, [_line(order)])
    config = load_config(_config(tmp_path, path="landing/o*.csv"))
    report = load_source(conn, config, "order_lines")
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (3, 3, 0)
    assert _orders_by_file(conn) == {"o?x.csv": ["1"], "o*x.csv": ["2"], "oax.csv": ["3"]}
    assert reconcile(conn, "order_lines") == []


def _write_parquet(path, lines: list[str], **options) -> None:
    """The CSV lines (test_ingestion's source columns) as a Parquet file of text columns."""
    names = HEADER.strip().split(",")
    columns = list(zip(*(line.split(",") for line in lines), strict=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(dict(zip(names, columns, strict=True))), path, **options)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_rows_from_another_file_than_asked_for_fail_loudly(conn, tmp_path, monkeypatch, fmt):
    """Without the escaping, DuckDB returns orders1's rows for orders[1]: the file name of each
    row is checked against the file asked for, and the load fails naming both; so does the
    landing sensor's reading of a file's days (a Parquet file's rows are first read there, and
    in the load by its passes, not where the file is opened)."""
    write = _write_lines if fmt == "csv" else _write_parquet
    write(tmp_path / "landing" / f"orders[1].{fmt}", [_line(1)])
    write(tmp_path / "landing" / f"orders1.{fmt}", [_line(2)])
    config = load_config(_config(tmp_path, path=f"landing/orders*.{fmt}", format=fmt))
    monkeypatch.setattr(landing.read, "literal_path", lambda path: path)
    asked = str(tmp_path / "landing" / f"orders[1].{fmt}")
    for read in (
        lambda: load_source(conn, config, "order_lines"),
        lambda: file_days(config, "order_lines", asked),
    ):
        with pytest.raises(SourceError) as error:
            read()
        message = str(error.value)
        assert message.startswith(asked + ": asked DuckDB")
        assert str(tmp_path / "landing" / f"orders1.{fmt}") in message


UNBALANCED = [
    # The quote opened before PINK closes after GLASS: one valid CSV record over two lines, which
    # DuckDB loads (read 2, quarantined 0 for 3 data lines).
    (_line(1, '"PINK LIGHTS'), _line(2, 'GLASS"'), _line(3, "BALL")),
    # The quote never closes: DuckDB rejects everything after it as one unreadable line.
    (_line(1, '"PINK LIGHTS'), _line(2, "GLASS"), _line(3, "BALL")),
]


@pytest.mark.parametrize("lines", UNBALANCED, ids=["closed-later", "never-closed"])
def test_an_unbalanced_quote_that_swallows_lines_fails_the_reconciliation(conn, tmp_path, lines):
    _write_lines(tmp_path / "landing" / "folded.csv", list(lines))
    _write_lines(tmp_path / "landing" / "clean.csv", [_line(4), _line(5)])
    config = load_config(_config(tmp_path))
    report = load_source(conn, config, "order_lines")
    folded_read = report.rows_read - 2
    assert folded_read < 3  # the loader's own count: it cannot see the folded lines
    (problem,) = reconcile(conn, "order_lines")  # clean.csv is fine
    assert problem.startswith(str(tmp_path / "landing" / "folded.csv") + ": 3 rows in the file")
    assert f"loaded + quarantined + erased {folded_read}" in problem
    assert "first at line 2 (an unbalanced quote?)" in problem


def test_a_window_that_covers_part_of_a_file_compares_with_what_the_loader_read(conn, tmp_path):
    """A day window loads only some days of a file, so loaded + quarantined of those days is not
    the file's count; the file's count is then compared with the rows the loader read in all."""
    lines = [_line(1, '"PINK', "2010-06-01"), _line(2, 'GLASS"', "2010-06-02")]
    _write_lines(tmp_path / "landing" / "folded.csv", [*lines, _line(3, "BALL", "2010-06-03")])
    config = load_config(_config(tmp_path))
    load_source(conn, config, "order_lines")  # a new file is loaded on every day
    load_source(conn, config, "order_lines", window=(date(2010, 6, 3), date(2010, 6, 3)))
    (problem,) = reconcile(conn, "order_lines")
    assert "folded.csv: 3 rows in the file by the python csv module, but the loader read 2" in (
        problem
    )
    assert "this load covered 2010-06-03..2010-06-03 only" in problem
    # A clean file loaded for part of its days reconciles.
    _write_lines(tmp_path / "landing" / "folded.csv", [_line(1), _line(3, day="2010-06-03")])
    load_source(conn, config, "order_lines")
    load_source(conn, config, "order_lines", window=(date(2010, 6, 3), date(2010, 6, 3)))
    assert reconcile(conn, "order_lines") == []


def test_clean_csv_and_parquet_files_reconcile(conn, tmp_path):
    lines = [_line(order, day=f"2010-06-0{order}") for order in range(1, 6)]
    _write_lines(tmp_path / "landing" / "clean.csv", lines)
    csv_config = load_config(_config(tmp_path))
    assert load_source(conn, csv_config, "order_lines").rows_loaded == 5
    assert reconcile(conn, "order_lines") == []

    # A quote in the name too: the loader's passes read a Parquet file through a view, which
    # holds its path as an SQL string literal.
    parquet = tmp_path / "landing" / "o'brien lines[2].parquet"
    _write_parquet(parquet, lines, row_group_size=2)
    config = load_config(_config(tmp_path, path="landing/*.parquet", format="parquet"))
    assert load_source(conn, config, "order_lines").rows_loaded == 5
    assert reconcile(conn, "order_lines") == []
    assert conn.execute("select distinct _source_file from raw.order_lines").fetchall() == [
        (str(parquet),)
    ]
    counted = conn.execute("select rows_in_file, counted_by from raw.file_counts").fetchall()
    assert counted == [(5, PARQUET_METHOD)]
    assert count_parquet_rows(parquet).rows == 5


def test_a_quoted_line_break_is_one_record_for_both_counters(conn, tmp_path):
    path = tmp_path / "landing" / "multiline.csv"
    _write_lines(path, [_line(1, '"LINE ONE\nLINE TWO, AND MORE"'), _line(2)])
    assert count_csv_rows(path).rows == 2
    config = load_config(_config(tmp_path))
    report = load_source(conn, config, "order_lines")
    assert (report.rows_read, report.rows_loaded) == (2, 2)
    assert reconcile(conn, "order_lines") == []
    name = conn.execute("select product_name from raw.order_lines where order_id = '1'")
    assert name.fetchone()[0] == "LINE ONE\nLINE TWO, AND MORE"


def test_blank_lines_are_not_records_for_either_counter(conn, tmp_path):
    """DuckDB skips a blank line, and so does the count; a line of spaces is a record (the
    loader quarantines it)."""
    path = tmp_path / "landing" / "blanks.csv"
    _write_lines(path, [_line(1), "", _line(2), "   ", "", _line(3), ""])
    counted = count_csv_rows(path)
    assert (counted.rows, counted.method, counted.note) == (4, CSV_METHOD, None)
    report = load_source(conn, load_config(_config(tmp_path)), "order_lines")
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (4, 3, 1)
    assert reconcile(conn, "order_lines") == []


def test_a_quote_that_swallows_the_rest_of_a_large_file_is_reported_not_buffered(tmp_path):
    """The count holds at most FIELD_LIMIT characters of one field: a runaway quote in a large
    file fails the count with its line instead of reading the rest of the file into memory."""
    path = tmp_path / "runaway.csv"
    body = "".join(_line(order) + "\n" for order in range(2, 2 + FIELD_LIMIT // 60))
    path.write_text(HEADER + _line(1, '"RUNAWAY') + "\n" + body)
    counted = count_csv_rows(path)
    assert counted.rows is None
    assert "expected at most 16,777,216 characters in a field (an unbalanced quote?)" in (
        counted.note or ""
    )
