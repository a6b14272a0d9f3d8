"""Ingestion never loses a row: each row read is loaded or quarantined with file, line and reason.

The fixture is an order-lines CSV in the layout of the public Online Retail II data set, with one
of every fault real exports have; the expected outcome of each line is spelled out below.
"""

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from landing import ConfigError, SourceError, load_config, load_source, reconcile
from orchestration.defs.partitions import month_partitions
from orchestration.gallery import run_make_run

HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
FUTURE = (datetime.now() + timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S")
# (line in the file, CSV text, expected: "loaded", "refund" or the start of the quarantine reason)
LINES = [
    (2, "489434,85048,GLASS BALL,12,2010-12-01 07:45:00,6.95,13085,United Kingdom", "loaded"),
    (3, "489434,79323P,PINK LIGHTS,12,2010-12-01 07:45:00,6.75,13085,United Kingdom", "loaded"),
    (
        4,
        "489434,79323P,PINK LIGHTS,12,2010-12-01 07:45:00,6.75,13085,United Kingdom",
        "exact duplicate",
    ),
    (5, "C489449,22087,BUNTING,-12,2010-12-01 10:33:00,2.95,16321,Australia", "refund"),
    (6, "489450,22088,NO CUSTOMER,3,2010-12-02 10:40:00,2.95,,United Kingdom", "loaded"),
    (
        7,
        '489451,22089,"=HYPERLINK(""http://x"")",1,2010-12-02 10:41:00,2.95,12345,France',
        "loaded",
    ),
    (8, "489452,22090,FEB 30,1,2010-02-30 10:40:00,2.95,12345,France", "ordered_at: expected"),
    (9, "489453,22091,BAD QTY,abc,2010-12-02 10:40:00,2.95,12345,France", "quantity: expected"),
    (10, f"489454,22092,FUTURE,1,{FUTURE},2.95,12345,France", "ordered_at in the future"),
    (
        11,
        "489455,22093,TOO OLD,1,2009-01-01 10:00:00,2.95,12345,France",
        "ordered_at before first_day",
    ),
    (12, "489456,22094,ZERO,0,2010-12-03 10:00:00,2.95,12345,France", "quantity is 0"),
    (
        13,
        "489457,22095,NEG PRICE,1,2010-12-03 10:00:00,-11062.06,,United Kingdom",
        "unit_price must be >= 0",
    ),
    # Latin-1 bytes in a UTF-8 file: replaced by U+FFFD, and the line loaded (flagged in the
    # load log), so its revenue is not lost.
    (14, "489458,22096,CAF\xe9,1,2010-12-03 10:00:00,2.95,12345,France", "loaded"),
    (15, "489459,22097,TRUNCATED,1,2010-12-0", "unreadable line (MISSING COLUMNS"),
]


def _config(folder: Path, **source_overrides) -> Path:
    source = {
        "path": "landing/*.csv",
        "timestamp_format": "%Y-%m-%d %H:%M:%S",
        "returns": {"order_id_prefix": "C"},
        "columns": {
            "order_id": "Invoice",
            "product_id": "StockCode",
            "product_name": "Description",
            "quantity": "Quantity",
            "ordered_at": "InvoiceDate",
            "unit_price": "Price",
            "customer_id": "Customer ID",
            "country": "Country",
        },
    } | source_overrides
    config = {
        "name": "retail_test",
        "data_dir": ".",
        "timezone": "Europe/London",
        "currency": "GBP",
        "first_day": "2010-01-01",
        "sources": {"order_lines": source},
    }
    path = folder / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _write_lines(path: Path, lines: list[str], encoding: str = "utf-8") -> None:
    """Write CSV lines; a line with a non-ASCII character is written as latin-1 bytes, so a
    UTF-8 reader meets an invalid byte, like an export saved by a spreadsheet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(HEADER.encode())
        for index, text in enumerate(lines):
            end = "" if index == len(lines) - 1 else "\n"  # the last line is cut short
            handle.write((text + end).encode("latin-1" if "\xe9" in text else encoding))


@pytest.fixture
def retail(tmp_path):
    _write_lines(tmp_path / "landing" / "export.csv", [text for _, text, _ in LINES])
    return load_config(_config(tmp_path))


@pytest.fixture
def conn():
    with duckdb.connect() as connection:
        yield connection


def test_every_line_is_loaded_or_quarantined_with_file_line_and_reason(conn, retail):
    report = load_source(conn, retail, "order_lines")
    assert report.rows_read == len(LINES)
    assert report.rows_read == report.rows_loaded + report.rows_quarantined
    loaded = dict(
        conn.execute("select _row_number, status from raw.order_lines order by 1").fetchall()
    )
    quarantined = dict(
        conn.execute(
            "select row_number, reason from raw.quarantine where source_file like '%export.csv'"
        ).fetchall()
    )
    for line, text, expected in LINES:
        if expected in ("loaded", "refund"):
            assert line in loaded, (line, text, quarantined.get(line))
            assert loaded[line] == ("refund" if expected == "refund" else "completed")
        else:
            assert quarantined.get(line, "").startswith(expected), (line, quarantined.get(line))
    assert reconcile(conn, "order_lines") == []


def test_a_log_that_has_ended_quarantines_rows_after_its_last_day(conn, tmp_path):
    _write_lines(tmp_path / "landing" / "export.csv", [text for _, text, _ in LINES])
    path = _config(tmp_path)
    path.write_text(path.read_text() + "last_day: 2010-12-01\n")
    config = load_config(path)
    report = load_source(conn, config, "order_lines")
    assert report.rows_read == report.rows_loaded + report.rows_quarantined
    reasons = dict(conn.execute("select row_number, reason from raw.quarantine").fetchall())
    # Line 6 (2010-12-02) is after the log's last day; lines of 2010-12-01 still load.
    assert reasons[6] == "ordered_at after last_day 2010-12-01: 2010-12-02 10:40:00"
    loaded = {row for (row,) in conn.execute("select _row_number from raw.order_lines").fetchall()}
    assert {2, 5} <= loaded and not loaded & {6, 7}
    assert reconcile(conn, "order_lines") == []
    # The calendar ends there too: no partitions for the years since.
    keys = month_partitions(config).get_partition_keys()
    assert keys[0] == "2010-01-01" and keys[-1] == "2010-12-01"  # January through December


def test_values_are_typed_and_missing_customers_kept_for_revenue(conn, retail):
    load_source(conn, retail, "order_lines")
    rows = conn.execute(
        "select customer_id, quantity, unit_price, currency, product_name "
        "from raw.order_lines order by _row_number"
    ).fetchall()
    assert (None, 3, 2.95, "GBP", "NO CUSTOMER") in [
        (c, q, float(p), cur, name) for c, q, p, cur, name in rows
    ]
    # Spreadsheet formulas are data here; exports escape them (tests/test_exports.py).
    assert any(name.startswith("=HYPERLINK") for *_, name in rows)


def test_file_delivered_twice_header_only_and_empty_files(conn, retail, tmp_path):
    landing = tmp_path / "landing"
    (landing / "export_copy.csv").write_bytes((landing / "export.csv").read_bytes())
    (landing / "header_only.csv").write_text(HEADER)
    (landing / "empty.csv").write_text("")
    report = load_source(conn, retail, "order_lines")
    assert report.rows_read == 2 * len(LINES)
    copy_reasons = conn.execute(
        "select reason from raw.quarantine where source_file like '%export_copy.csv'"
    ).fetchall()
    assert len(copy_reasons) == len(LINES)  # every line of the copy is rejected
    logged = dict(
        conn.execute(
            "select regexp_extract(source_file, '[^/]+$'), sum(rows_read) from raw.load_log "
            "group by 1"
        ).fetchall()
    )
    assert logged == {
        "export.csv": len(LINES),
        "export_copy.csv": len(LINES),
        "header_only.csv": 0,
        "empty.csv": 0,
    }
    assert reconcile(conn, "order_lines") == []


def test_latin1_file_loads_when_the_config_says_so(conn, tmp_path):
    _write_lines(
        tmp_path / "landing" / "latin.csv",
        ["1,P1,CAF\xe9 AU LAIT,2,2010-06-01 10:00:00,3.5,C1,France"],
    )
    config = load_config(_config(tmp_path, encoding="latin-1"))
    report = load_source(conn, config, "order_lines")
    assert (report.rows_loaded, report.rows_quarantined) == (1, 0)
    assert conn.execute("select product_name from raw.order_lines").fetchone()[0] == "CAFé AU LAIT"


def test_missing_mapped_column_names_file_column_and_key_and_loads_nothing(conn, retail, tmp_path):
    load_source(conn, retail, "order_lines")
    before = conn.execute("select count(*) from raw.order_lines").fetchone()[0]
    bad = tmp_path / "landing" / "zz_no_price.csv"
    bad.write_text("Invoice,StockCode,Description,Quantity,InvoiceDate,Customer ID,Country\n")
    with pytest.raises(SourceError) as error:
        load_source(conn, retail, "order_lines")
    message = str(error.value)
    assert "zz_no_price.csv" in message and "'Price'" in message
    assert "sources.order_lines.columns.unit_price" in message
    assert conn.execute("select count(*) from raw.order_lines").fetchone()[0] == before


def test_reloading_a_day_replaces_exactly_that_day(conn, tmp_path):
    lines = [
        "1,P1,A,1,2010-06-01 10:00:00,3.5,C1,UK",
        "2,P2,B,2,2010-06-02 11:00:00,4.0,C2,UK",
        "3,P3,C,3,2010-06-03 12:00:00,5.0,C3,UK",
    ]
    _write_lines(tmp_path / "landing" / "a.csv", lines)
    config = load_config(_config(tmp_path))
    load_source(conn, config, "order_lines")
    day = (date(2010, 6, 2), date(2010, 6, 2))
    snapshot = "select order_id, quantity, _partition_day from raw.order_lines order by 1"
    first = conn.execute(snapshot).fetchall()
    load_source(conn, config, "order_lines", window=day)  # same files: idempotent
    assert conn.execute(snapshot).fetchall() == first
    # The export for 2 June is corrected: only that day changes.
    _write_lines(
        tmp_path / "landing" / "a.csv",
        [
            lines[0],
            "2,P2,B,7,2010-06-02 11:00:00,4.0,C2,UK",
            "3,P3,C,9,2010-06-03 12:00:00,5.0,C3,UK",
        ],
    )
    report = load_source(conn, config, "order_lines", window=day)
    assert report.rows_read == 1
    assert conn.execute(snapshot).fetchall() == [
        ("1", 1, date(2010, 6, 1)),
        ("2", 7, date(2010, 6, 2)),
        ("3", 3, date(2010, 6, 3)),  # outside the window: untouched
    ]
    assert reconcile(conn, "order_lines") == []


def test_reconciliation_reports_rows_that_went_missing(conn, retail):
    load_source(conn, retail, "order_lines")
    conn.execute("delete from raw.order_lines where _row_number = 2")
    (problem,) = reconcile(conn, "order_lines")
    assert "export.csv day 2010-12-01" in problem and "loaded 3 (2 in order_lines)" in problem


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"sources": {}}, "an 'order_lines' source is required"),
        ({"sources": {"orders": {"path": "x.csv"}}}, "unknown source 'orders'"),
        ({"timezone": "Mars/Olympus"}, "timezone: expected an IANA time zone"),
        ({"first_day": "last tuesday"}, "first_day:"),
        ({"last_day": "2009-12-31"}, "last_day 2009-12-31 is before first_day 2010-01-01"),
        ({"colour": "blue"}, "colour: unknown key"),
    ],
)
def test_config_errors_name_the_file_key_and_expectation(tmp_path, change, expected):
    path = _config(tmp_path)
    config = yaml.safe_load(path.read_text()) | change
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(path) in str(error.value) and expected in str(error.value)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"encoding": "ebcdic"}, "sources.order_lines.encoding: expected one of utf-8"),
        ({"delimiter": ";;"}, "sources.order_lines.delimiter: expected a single character"),
        (
            {"columns": {"customer_id": 'x"; drop table raw.order_lines; --'}},
            "is not allowed",
        ),
        ({"columns": {"customer": "Customer ID"}}, "unknown column 'customer'"),
        ({"columns": {"customer_id": "c", "ordered_at": "d"}}, "map either 'amount' or both"),
    ],
)
def test_source_errors_name_the_key(tmp_path, source, expected):
    path = _config(tmp_path)
    config = yaml.safe_load(path.read_text())
    config["sources"]["order_lines"] |= source
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert expected in str(error.value)


def test_make_run_prints_why_a_step_failed(tmp_path):
    """A file without its mapped customer column: the run fails, and the terminal says which
    file, which column and which config key (not only "open the UI")."""
    _write_lines(tmp_path / "landing" / "export.csv", [text for _, text, _ in LINES[:3]])
    landing = tmp_path / "landing" / "export.csv"
    landing.write_text(landing.read_text().replace("Customer ID", "Client"))
    config = _config(tmp_path)
    config.write_text(config.read_text() + "last_day: 2010-12-31\n")  # a year of partitions
    done = run_make_run(config, tmp_path, timeout=600)
    assert done.returncode != 0
    printed = done.stdout[done.stdout.index("Steps that did not succeed") :]
    assert (
        f"  raw__order_lines: {landing}: no column 'Customer ID' (mapped to 'customer_id' by "
        "sources.order_lines.columns.customer_id)" in printed
    ), printed[:3000]


def test_shipped_example_configs_are_valid():
    for path in sorted((Path(__file__).parent.parent / "configs").glob("*.yml")):
        assert load_config(path).sources["order_lines"]


def test_pipeline_quarantined_nothing_from_the_clean_synthetic_shop(warehouse):
    assert warehouse.execute("select count(*) from raw.quarantine").fetchone()[0] == 0
    logged = warehouse.execute(
        "select sum(rows_read), sum(rows_loaded) from raw.load_log"
    ).fetchone()
    assert logged[0] == logged[1] > 0
