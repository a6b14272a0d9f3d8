"""Values are loaded as they were meant, or quarantined with a reason: nothing is bent silently.

Each test loads a small CSV into a temporary DuckDB with load_source (no Dagster) and checks the
values, the quarantine and the reconciliation (read = loaded + quarantined, and the independent
count of landing/count.py).
"""

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
import yaml
from test_ingestion import HEADER, _config, _write_lines

from landing import SourceError, load_config, load_source, reconcile


@pytest.fixture
def conn():
    with duckdb.connect() as connection:
        yield connection


def _line(order: int, when: str = "2010-06-01 10:00:00", quantity: str = "1", name: str = "ITEM"):
    return f"{order},P{order},{name},{quantity},{when},2.50,C{order},United Kingdom"


def _quarantine(conn: duckdb.DuckDBPyConnection) -> dict[int, str]:
    return dict(conn.execute("select row_number, reason from raw.quarantine").fetchall())


def test_timestamps_with_an_offset_are_converted_to_the_shop_zone(conn, tmp_path):
    """Before: `2010-06-01 10:00+05:00` was stored as 10:00 (the offset dropped)."""
    _write_lines(
        tmp_path / "landing" / "zones.csv",
        [
            _line(1, "2010-06-01 10:00+05:00"),  # 05:00 UTC = 06:00 in London (summer time)
            _line(2, "2010-06-01T10:00:00Z"),  # 11:00 in London
            _line(3, "2010-06-01 10:00:00"),  # naive: the shop's (the source's) own time
            _line(4, "2010-06-01 01:30:00+05:00"),  # 20:30 UTC the day before: another day
            _line(5, "2010-06-01"),  # a date, no offset
        ],
    )
    config = load_config(_config(tmp_path, timestamp_format=None))
    report = load_source(conn, config, "order_lines")
    assert (report.rows_loaded, report.rows_quarantined) == (5, 0)
    rows = conn.execute(
        "select order_id, ordered_at, _partition_day from raw.order_lines order by 1"
    ).fetchall()
    assert [(order, at, str(day)) for order, at, day in rows] == [
        ("1", datetime(2010, 6, 1, 6, 0), "2010-06-01"),
        ("2", datetime(2010, 6, 1, 11, 0), "2010-06-01"),
        ("3", datetime(2010, 6, 1, 10, 0), "2010-06-01"),
        ("4", datetime(2010, 5, 31, 21, 30), "2010-05-31"),
        ("5", datetime(2010, 6, 1, 0, 0), "2010-06-01"),
    ]
    assert reconcile(conn, "order_lines") == []
    # A source in another zone: naive times are its own, times with an offset are instants.
    conn.execute("delete from raw.order_lines")
    config = load_config(_config(tmp_path, timestamp_format=None, timezone="Asia/Karachi"))
    load_source(conn, config, "order_lines")
    times = dict(conn.execute("select order_id, ordered_at from raw.order_lines").fetchall())
    assert times["1"] == datetime(2010, 6, 1, 6, 0)  # the offset wins
    assert times["3"] == datetime(2010, 6, 1, 6, 0)  # 10:00 in Karachi (+05:00)
    # A strptime format with %z gives an instant too.
    _write_lines(tmp_path / "landing" / "zones.csv", [_line(1, "01/06/2010 10:00 +0500")])
    config = load_config(_config(tmp_path, timestamp_format="%d/%m/%Y %H:%M %z"))
    load_source(conn, config, "order_lines")
    assert conn.execute("select ordered_at from raw.order_lines").fetchall() == [
        (datetime(2010, 6, 1, 6, 0),)
    ]


def test_a_fractional_quantity_is_quarantined_unless_the_source_allows_fractions(conn, tmp_path):
    """Before: a quantity of 2.5 was loaded as 3."""
    _write_lines(
        tmp_path / "landing" / "units.csv",
        [_line(1, quantity="2.5"), _line(2, quantity="2"), _line(3, quantity="2.0")],
    )
    report = load_source(conn, load_config(_config(tmp_path)), "order_lines")
    assert (report.rows_loaded, report.rows_quarantined) == (2, 1)
    assert _quarantine(conn)[2].startswith(
        "quantity: expected a whole number, got '2.5' (a fraction"
    )
    assert "sources.order_lines.fractional_quantities: true" in _quarantine(conn)[2]
    assert conn.execute("select order_id, quantity from raw.order_lines order by 1").fetchall() == [
        ("2", 2),
        ("3", 2),
    ]
    assert reconcile(conn, "order_lines") == []
    # Weights: the source says quantities may be fractional; they load exactly, as decimals.
    _write_lines(
        tmp_path / "landing" / "units.csv",
        [_line(1, quantity="2.5"), _line(2, quantity="0.125"), _line(3, quantity="1.23456")],
    )
    config = load_config(_config(tmp_path, fractional_quantities=True))
    report = load_source(conn, config, "order_lines")
    assert (report.rows_loaded, report.rows_quarantined) == (2, 1)
    rows = conn.execute("select order_id, quantity from raw.order_lines order by 1").fetchall()
    assert [(order, str(quantity)) for order, quantity in rows] == [
        ("1", "2.5000"),
        ("2", "0.1250"),
    ]
    assert _quarantine(conn)[4].startswith(
        "quantity: expected a number with at most 4 decimal places, got '1.23456'"
    )
    kind = conn.execute(
        "select data_type from duckdb_columns() where table_name = 'order_lines' "
        "and column_name = 'quantity'"
    ).fetchone()[0]
    assert kind == "DECIMAL(18,4)"
    assert reconcile(conn, "order_lines") == []


def _customers_config(folder: Path) -> Path:
    path = _config(folder)
    config = yaml.safe_load(path.read_text())
    config["sources"]["customers"] = {
        "path": "people/*.csv",
        "timestamp_format": "%Y-%m-%d",
        "columns": {"customer_id": "id", "signup_at": "joined", "email": "mail"},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_quarantine_masks_personal_data(conn, tmp_path):
    """Before: raw.quarantine kept e-mail addresses and names in its record and reason."""
    people = tmp_path / "people" / "people.csv"
    people.parent.mkdir(parents=True)
    people.write_text(
        "id,joined,mail,first_name,last_name\n"
        "1,2010-06-01,john.smith@example.com,John,Smith\n"
        "2,not a day,jane.doe@privatemail.org,Jane Mary,Doe\n"  # quarantined: bad signup_at
        "3,2010-06-01,alice@corp.example.co.uk,Alice\n"  # unreadable: a field is missing
        ",2010-06-01,bob@example.com,Bob,Brown\n"  # quarantined: no customer id
    )
    _write_lines(tmp_path / "landing" / "x.csv", [_line(1)])
    config = load_config(_customers_config(tmp_path))
    report = load_source(conn, config, "customers")
    assert (report.rows_loaded, report.rows_quarantined) == (1, 3)
    quarantine = conn.execute(
        "select row_number, reason, cast(record as varchar) from raw.quarantine order by 1"
    ).fetchall()
    text = repr(quarantine)
    for secret in ("jane.doe", "privatemail", "Jane", "Mary", "alice", "corp.example", "bob@"):
        assert secret not in text, (secret, text)
    assert "Brown" not in text and "Doe" not in text
    records = {row: json.loads(record) for row, _, record in quarantine}
    assert (records[3]["email"], records[3]["first_name"], records[3]["last_name"]) == (
        "j***@p***.org",
        "J*** M***",
        "D***",
    )
    assert records[5]["email"] == "b***@e***.com"
    assert quarantine[1][1].startswith("unreadable line (MISSING COLUMNS")
    assert "its text is not kept" in quarantine[1][1]
    # raw.customers itself keeps the personal data: raw is the one place it lives.
    assert conn.execute("select email, first_name from raw.customers").fetchall() == [
        ("john.smith@example.com", "John")
    ]
    assert reconcile(conn, "customers") == []


def test_a_trailing_delimiter_or_an_unused_repeated_column_is_tolerated_with_a_warning(
    conn, tmp_path
):
    """Before: a header `a,b,c,` or a column named twice refused the whole table."""
    trailing = tmp_path / "landing" / "trailing.csv"
    trailing.parent.mkdir(parents=True)
    trailing.write_text(HEADER.strip() + ",\n" + _line(1) + ",\n" + _line(2) + ",\n")
    twice = tmp_path / "landing" / "twice.csv"
    twice.write_text(HEADER.strip() + ",Note,Note\n" + _line(3) + ",a,b\n")
    report = load_source(conn, load_config(_config(tmp_path)), "order_lines")
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (3, 3, 0)
    assert len(report.warnings) == 2
    logged = dict(
        conn.execute(
            "select regexp_extract(source_file, '[^/]+$'), warnings from raw.load_log"
        ).fetchall()
    )
    assert logged["trailing.csv"] == (
        f"{trailing}: header column(s) 9 have no name (a trailing delimiter?); their values "
        "are ignored"
    )
    assert logged["twice.csv"] == (
        f"{twice}: header names column 'Note' 2 times (columns 9, 10); the config does not use "
        "it, so it is ignored"
    )
    assert reconcile(conn, "order_lines") == []
    # A repeated column the config uses stays an error naming the file, the column and the key.
    twice.write_text(HEADER.strip() + ",Price\n" + _line(3) + ",9.99\n")
    with pytest.raises(SourceError) as error:
        load_source(conn, load_config(_config(tmp_path)), "order_lines")
    assert str(error.value).startswith(
        f"{twice}: the header names column 'Price' 2 times (columns 6, 9), and it is used "
        "(mapped to 'unit_price' by sources.order_lines.columns.unit_price)"
    )


def test_invalid_bytes_in_a_text_are_replaced_and_the_row_loaded_and_flagged(conn, tmp_path):
    """Before: a line whose description held Latin-1 bytes in a UTF-8 file was quarantined
    whole (unreadable line), and its revenue lost."""
    path = tmp_path / "landing" / "mixed.csv"
    _write_lines(
        path,
        [
            _line(1),
            _line(2, name="CAF\xe9 AU LAIT"),  # a Latin-1 byte in the description
            _line(3, quantity="1\xe9"),  # in a value the row needs: quarantined, not bent
            "4,P4,CAF\xe9,1,2010-06-01 10:00:00",  # invalid bytes and too few fields
            _line(5),
        ],
    )
    report = load_source(conn, load_config(_config(tmp_path)), "order_lines")
    assert (report.rows_read, report.rows_loaded, report.rows_quarantined) == (5, 3, 2)
    loaded = dict(conn.execute("select _row_number, product_name from raw.order_lines").fetchall())
    assert loaded == {2: "ITEM", 3: "CAF\ufffd AU LAIT", 6: "ITEM"}
    reasons = _quarantine(conn)
    assert reasons[4] == "quantity: expected a whole number, got '1\ufffd'"
    assert reasons[5].startswith("unreadable line (")
    revenue = conn.execute("select sum(quantity * unit_price) from raw.order_lines").fetchone()[0]
    assert float(revenue) == 7.5
    (warnings,) = conn.execute(
        "select warnings from raw.load_log where partition_day is not null"
    ).fetchone()
    assert warnings == "1 row(s) loaded with invalid bytes replaced by U+FFFD (lines 3)"
    assert report.warnings == (f"{path}: {warnings}",)
    assert reconcile(conn, "order_lines") == []  # read = loaded + quarantined = the csv count
    assert conn.execute("select rows_in_file from raw.file_counts").fetchone()[0] == 5


def test_quarantine_line_numbers_are_physical_lines_after_quoted_newlines_and_blanks(
    conn, tmp_path
):
    """Before: a row's line number ignored quoted line breaks and blank lines (one record per
    line was assumed), so quarantine pointed at the wrong lines."""
    records = [  # (CSV text, expected: "loaded" or the start of the reason)
        (_line(1, name='"TWO\nLINES"'), "loaded"),  # lines 2-3
        ("", None),  # line 4: blank
        (_line(2, quantity="x"), "quantity: expected"),  # line 5
        (_line(3, name='"THREE\n\nLINES"', quantity="0"), "quantity is 0"),  # lines 6-8
        ("", None),  # line 9
        ("", None),  # line 10
        ("6,P6,SHORT", "unreadable line (MISSING COLUMNS"),  # line 11
        (_line(7, name='"A\nB"') + ",extra", "unreadable line (TOO MANY COLUMNS"),  # 12-13
        (_line(8), "loaded"),  # line 14
        (_line(9, quantity="-0.5"), "quantity: expected a whole number"),  # line 15
        (_line(10), "loaded"),  # line 16
    ]
    path = tmp_path / "landing" / "lines.csv"
    _write_lines(path, [text for text, _ in records] + [""])
    expected, line = {}, 2
    for text, outcome in records:
        if outcome:
            expected[line] = outcome
        line += text.count("\n") + 1
    report = load_source(conn, load_config(_config(tmp_path)), "order_lines")
    assert report.rows_read == len(expected)
    loaded = {row for (row,) in conn.execute("select _row_number from raw.order_lines").fetchall()}
    reasons = _quarantine(conn)
    assert loaded == {line for line, outcome in expected.items() if outcome == "loaded"}
    assert {line: reason[: len(expected[line])] for line, reason in reasons.items()} == {
        line: outcome for line, outcome in expected.items() if outcome != "loaded"
    }
    assert reconcile(conn, "order_lines") == []
    # Without a header, the first line is line 1.
    path.write_text("".join(text + "\n" for text, _ in records))
    config = load_config(
        _config(
            tmp_path,
            header=False,
            columns={
                "order_id": "column1",
                "quantity": "column4",
                "ordered_at": "column5",
                "unit_price": "column6",
                "customer_id": "column7",
            },
        )
    )
    load_source(conn, config, "order_lines")
    assert {
        row for (row,) in conn.execute("select _row_number from raw.order_lines").fetchall()
    } == {line - 1 for line, outcome in expected.items() if outcome == "loaded"}
    assert set(_quarantine(conn)) == {
        line - 1 for line, outcome in expected.items() if outcome != "loaded"
    }
