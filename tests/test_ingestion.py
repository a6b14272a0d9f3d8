"""Ingestion never loses a row: each row read is loaded or quarantined with file, line and reason.

The fixture is an order-lines CSV in the layout of the public Online Retail II data set, with one
of every fault real exports have; the expected outcome of each line is spelled out below.
"""

import random
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
import yaml

from landing import (
    Config,
    ConfigError,
    SourceError,
    file_days,
    load_config,
    load_source,
    reconcile,
)
from landing.erasure import erase_from_raw, record_erasure
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
    # A second file for 2 June arrives: only that day is reloaded; the first file is unchanged,
    # so its other days are not read into the load.
    _write_lines(tmp_path / "landing" / "b.csv", ["4,P4,D,4,2010-06-02 13:00:00,6.0,C4,UK"])
    report = load_source(conn, config, "order_lines", window=day)
    assert report.rows_read == 2  # 2 June: one row of each file
    assert report.reloaded_files == (str(tmp_path / "landing" / "b.csv"),)
    assert conn.execute(snapshot).fetchall() == [
        ("1", 1, date(2010, 6, 1)),
        ("2", 2, date(2010, 6, 2)),
        ("3", 3, date(2010, 6, 3)),  # outside the window: untouched
        ("4", 4, date(2010, 6, 2)),
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


@pytest.mark.slow
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


SNAPSHOT = (
    "select order_id, line_number, quantity, customer_id, _source_file, _partition_day "
    "from raw.order_lines order by all"
)
QUARANTINE = (
    "select source_file, row_number, partition_day, reason from raw.quarantine order by all"
)
LOG = (
    "select source_file, partition_day, rows_read, rows_loaded, rows_quarantined, rows_erased "
    "from raw.load_log order by all"
)


def _state(conn: duckdb.DuckDBPyConnection) -> tuple[list, list, list]:
    return tuple(conn.execute(query).fetchall() for query in (SNAPSHOT, QUARANTINE, LOG))


def _day_by_day(conn, config, first: date, last: date) -> None:
    day = first
    while day <= last:
        load_source(conn, config, "order_lines", window=(day, day))
        day += timedelta(days=1)


def _config_with_line_numbers(folder: Path, path: str = "landing/*.csv") -> Config:
    """The test source (files `path`) with a `Line` column mapped to line_number (files need the
    header's extra column: HEADER.replace("\\n", ",Line\\n"))."""
    config_path = _config(folder, path=path)
    config = yaml.safe_load(config_path.read_text())
    config["sources"]["order_lines"]["columns"]["line_number"] = "Line"
    config_path.write_text(yaml.safe_dump(config))
    return load_config(config_path)


def test_duplicate_key_rule_is_the_same_whatever_the_window(tmp_path):
    """The same order line with different values on two days: a full load and day-by-day loads
    keep the same copy and quarantine the other (before, day-by-day loads kept both)."""
    path = tmp_path / "landing" / "a.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        HEADER.replace("\n", ",Line\n")
        + "1,P1,A,1,2010-06-01 10:00:00,3.5,C1,UK,1\n"
        + "1,P1,A,5,2010-06-03 10:00:00,3.5,C1,UK,1\n"  # order 1 line 1 again, other values
        + "2,P2,B,2,2010-06-02 11:00:00,4.0,C2,UK,1\n"
    )
    config = _config_with_line_numbers(tmp_path)
    with duckdb.connect() as full, duckdb.connect() as daily:
        load_source(full, config, "order_lines")
        _day_by_day(daily, config, date(2010, 6, 1), date(2010, 6, 3))
        assert _state(daily)[:2] == _state(full)[:2]
        (quarantined,) = full.execute("select row_number, reason from raw.quarantine").fetchall()
        assert quarantined[0] == 3 and "duplicate order_id/line_number" in quarantined[1]
        assert reconcile(daily, "order_lines") == [] and reconcile(full, "order_lines") == []


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
@pytest.mark.parametrize("seed", range(3))
def test_random_duplicates_end_the_same_day_by_day_as_in_a_full_load(tmp_path, seed, file_format):
    """Rows drawn at random from a few keys, days and values, across two files (exact copies,
    the same key with other values on the same or another day, missing keys, timestamps that
    are no date or before first_day): loading day by day keeps and quarantines exactly what a
    full load does, and every file reconciles; so does a day's load after one file changed
    (read whole) while the other did not. A day's load ranks only the rows sharing a key with
    the rows it writes; from an unchanged Parquet file it reads no other row."""
    rng = random.Random(seed)

    def line() -> str:
        day = rng.choice([f"2010-06-0{d}" for d in range(1, 5)] * 5 + ["2010-06-31", "2009-12-31"])
        return (  # an order id or none; a day, no date or one before first_day
            f"{rng.choice(['', *map(str, range(1, 9))])},P{rng.randint(1, 3)},A,"
            f"{rng.randint(1, 2)},{day} 10:00:00,3.5,C{rng.randint(1, 3)},UK,{rng.randint(1, 2)}"
        )

    def deliver(name: str, rows: list[str]) -> None:
        path = tmp_path / "landing" / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(HEADER.replace("\n", ",Line\n") + "\n".join(rows) + "\n")
        if file_format == "parquet":  # the same values, as text, in file order
            with duckdb.connect() as conn:
                conn.execute(
                    f"copy (select * from read_csv('{path}', all_varchar = true)) "
                    f"to '{path.with_suffix('.parquet')}' (format parquet)"
                )
            path.unlink()

    lines = {"a": [], "b": []}
    for _ in range(120):
        lines[rng.choice(list(lines))].append(line())
    for name, rows in lines.items():
        deliver(name, rows)
    config = _config_with_line_numbers(tmp_path, f"landing/*.{file_format}")
    with duckdb.connect() as full, duckdb.connect() as daily:
        load_source(full, config, "order_lines")
        # The first day's load meets new files and loads them whole; each later day loads
        # only its own rows, ranked with the rows that share their keys.
        _day_by_day(daily, config, date(2010, 6, 1), date(2010, 6, 4))
        assert _state(daily)[:2] == _state(full)[:2]
        reasons = {
            reason.split(" ")[0]
            for (reason,) in full.execute("select reason from raw.quarantine").fetchall()
        }
        assert {"exact", "duplicate", "ordered_at:", "ordered_at"} <= reasons, reasons
        assert reconcile(daily, "order_lines") == [] and reconcile(full, "order_lines") == []
        deliver("b", [line() for _ in range(60)])  # b re-delivered with other rows; a unchanged
        load_source(full, config, "order_lines")
        load_source(daily, config, "order_lines", window=(date(2010, 6, 4), date(2010, 6, 4)))
        assert _state(daily)[:2] == _state(full)[:2]
        assert reconcile(daily, "order_lines") == []


def test_a_corrected_file_replaces_its_rows_on_every_day(conn, tmp_path):
    """A corrected file moves order 2 from 2 June to 5 June and fixes order 3 (3 June); a refresh
    of 5 June only replaces every row the file contributed, with quarantine and load log to
    match: the tables equal a full load's. A file no longer delivered takes its rows with it."""
    landing = tmp_path / "landing"
    _write_lines(
        landing / "a.csv",
        [
            "1,P1,A,1,2010-06-01 10:00:00,3.5,C1,UK",
            "2,P2,B,2,2010-06-02 11:00:00,4.0,C2,UK",
            "3,P3,C,0,2010-06-03 12:00:00,5.0,C3,UK",  # quantity 0: quarantined
        ],
    )
    _write_lines(landing / "b.csv", ["4,P4,D,4,2010-06-04 13:00:00,6.0,C4,UK"])
    config = load_config(_config(tmp_path))
    load_source(conn, config, "order_lines")
    corrected = [
        "1,P1,A,1,2010-06-01 10:00:00,3.5,C1,UK",
        "2,P2,B,2,2010-06-05 11:00:00,4.0,C2,UK",
        "3,P3,C,3,2010-06-03 12:00:00,5.0,C3,UK",
    ]
    _write_lines(landing / "a.csv", corrected)
    report = load_source(conn, config, "order_lines", window=(date(2010, 6, 5), date(2010, 6, 5)))
    assert report.reloaded_files == (str(landing / "a.csv"),)
    # the days whose rows changed: a.csv's before (1, 2 June) and now (1, 3, 5 June)
    assert report.days == (date(2010, 6, 1), date(2010, 6, 5))
    with duckdb.connect() as reference:
        load_source(reference, config, "order_lines")
        assert _state(conn) == _state(reference)
    orders = conn.execute("select order_id, _partition_day from raw.order_lines order by 1")
    assert orders.fetchall() == [
        ("1", date(2010, 6, 1)),
        ("2", date(2010, 6, 5)),  # moved: no copy left on 2 June
        ("3", date(2010, 6, 3)),  # corrected: loaded, out of the quarantine
        ("4", date(2010, 6, 4)),
    ]
    assert conn.execute("select count(*) from raw.quarantine").fetchone() == (0,)
    assert reconcile(conn, "order_lines") == []

    (landing / "b.csv").unlink()  # no longer delivered
    report = load_source(conn, config, "order_lines", window=(date(2010, 6, 1), date(2010, 6, 1)))
    assert any("b.csv: no longer delivered" in warning for warning in report.warnings)
    assert conn.execute("select count(*) from raw.order_lines where order_id = '4'").fetchone() == (
        0,
    )
    assert reconcile(conn, "order_lines") == []


def test_rows_later_today_are_loaded_into_today_and_tomorrow_is_the_future(conn, tmp_path):
    """A row stamped later today (the shop's zone) is loaded into today's partition by a refresh
    of today; one stamped tomorrow is quarantined as in the future, not left out unseen."""
    zone = ZoneInfo("Europe/London")
    now = datetime.now(zone)
    today = now.date()
    later_today = datetime.combine(today, datetime.max.time()).replace(microsecond=0)
    tomorrow = later_today + timedelta(seconds=1)
    _write_lines(
        tmp_path / "landing" / "a.csv",
        [
            f"1,P1,A,1,{now:%Y-%m-%d %H:%M:%S},3.5,C1,UK",
            f"2,P2,B,1,{later_today:%Y-%m-%d %H:%M:%S},3.5,C1,UK",
            f"3,P3,C,1,{tomorrow:%Y-%m-%d %H:%M:%S},3.5,C1,UK",
        ],
    )
    config = load_config(_config(tmp_path))
    load_source(conn, config, "order_lines")  # the first load: every day
    report = load_source(conn, config, "order_lines", window=(today, today))
    assert (report.rows_loaded, report.rows_quarantined) == (2, 1)
    assert conn.execute(
        "select order_id, _partition_day from raw.order_lines order by 1"
    ).fetchall() == [
        ("1", today),
        ("2", today),
    ]
    (reason,) = conn.execute("select reason from raw.quarantine").fetchone()
    assert reason.startswith(f"ordered_at in the future (after today, {today})")
    assert reconcile(conn, "order_lines") == []


def test_the_erasure_list_is_applied_on_every_load(conn, tmp_path):
    """An erased customer's order lines are loaded without their id (revenue unchanged), their
    other rows are counted as erased, not loaded, and the reconciliation holds, before and after
    erase_from_raw, and on a reload of the same files."""
    lines = [
        "1,P1,A,1,2010-06-01 10:00:00,3.5,C1,UK",
        "2,P2,B,2,2010-06-02 11:00:00,4.0,C2,UK",
        "3,P3,C,0,2010-06-02 12:00:00,5.0,C2,UK",  # quarantined: quantity 0
    ]
    _write_lines(tmp_path / "landing" / "a.csv", lines)
    config = load_config(_config(tmp_path))
    revenue = "select sum(quantity * unit_price), count(*) from raw.order_lines"
    load_source(conn, config, "order_lines")
    before = conn.execute(revenue).fetchone()
    assert record_erasure(conn, "C2", "salt") and not record_erasure(conn, "C2", "salt")
    with pytest.raises(SourceError, match="no pseudonymization salt"):
        load_source(conn, config, "order_lines")
    affected = erase_from_raw(conn, "C2", "salt")
    assert affected["order_lines"] == 1
    assert conn.execute(revenue).fetchone() == before
    assert reconcile(conn, "order_lines") == []
    snapshot = _state(conn)
    load_source(conn, config, "order_lines", salt="salt")
    assert _state(conn) == snapshot  # a reload does not bring the id back
    assert conn.execute(
        "select count(*) from raw.order_lines where customer_id = 'C2'"
    ).fetchone() == (0,)
    records = conn.execute("select record::varchar from raw.quarantine").fetchall()
    assert records and not any("C2" in record for (record,) in records)
    assert reconcile(conn, "order_lines") == []
    with pytest.raises(SourceError, match="no pseudonymization salt"):
        load_source(conn, config, "order_lines", salt=None)


def _typed_columns_config(folder: Path, pattern: str, zone: str | None) -> Config:
    source = {"path": f"landing/{pattern}"} | ({"timezone": zone} if zone else {})
    config = {
        "name": "typed_parquet",
        "data_dir": ".",
        "timezone": "Europe/London",
        "currency": "EUR",
        "first_day": "2024-01-01",
        "sources": {"order_lines": source},
    }
    (folder / "config.yml").write_text(yaml.safe_dump(config))
    return load_config(folder / "config.yml")


@pytest.mark.parametrize("zone", [None, "America/New_York"])
@pytest.mark.parametrize("instants", [False, True], ids=["local-times", "instants"])
def test_parquet_values_kept_in_their_type_load_exactly_as_the_same_values_as_text(
    tmp_path, zone, instants
):
    """A Parquet file's timestamps and whole numbers are typed without a round trip through text
    (landing/read.py native_types): the raw table, the quarantine and the load log are those of
    the same values delivered as CSV text. Times without a zone are in the source's zone (a time
    in New York's spring-forward gap included); times with one (UTC) are instants."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from landing.read import native_types

    utc = ZoneInfo("UTC")
    times = [
        datetime(2024, 3, 10, 2, 30),  # does not exist in New York
        datetime(2024, 3, 31, 0, 30),
        datetime(2024, 6, 1, 23, 59, 59),
        None,
        datetime(2024, 6, 2, 12, 0),
        datetime(2024, 6, 2, 12, 0),
    ]
    rows = {
        "order_id": ["1", "2", "3", "4", "5", "5"],
        "line_number": [1, 1, 1, 1, 1, 1],
        "customer_id": ["C1", None, "C3", "C4", "C5", "C5"],
        "ordered_at": [t.replace(tzinfo=utc) if t and instants else t for t in times],
        "product_id": ["P1", "P2", "P3", "P4", "P5", "P5"],
        "quantity": [2, -1, 0, 1, 3, 3],  # 0 breaks a rule, -1 is a return; 5 repeats
        "unit_price": [1.5, 2.25, 3.0, 4.0, 5.0, 5.0],
    }
    kinds = {
        "ordered_at": pa.timestamp("us", tz="UTC" if instants else None),
        "line_number": pa.int64(),
        "quantity": pa.int32(),
    }
    arrow = pa.table({name: pa.array(values, kinds.get(name)) for name, values in rows.items()})
    loaded = {}
    for fmt in ("parquet", "csv"):
        folder = tmp_path / fmt
        (folder / "landing").mkdir(parents=True)
        path = folder / "landing" / f"lines.{fmt}"
        if fmt == "parquet":
            pq.write_table(arrow, path)
        else:  # ISO text; an instant with its offset
            text = {
                **rows,
                "ordered_at": [t.isoformat() if t else "" for t in rows["ordered_at"]],
            }
            lines = [",".join(text)] + [
                ",".join("" if v is None else str(v) for v in line)
                for line in zip(*text.values(), strict=True)
            ]
            path.write_text("\n".join(lines) + "\n")
        config = _typed_columns_config(folder, f"*.{fmt}", zone)
        with duckdb.connect() as conn:
            if fmt == "parquet":
                assert native_types(conn, config, "order_lines", [str(path)]) == {
                    "ordered_at": "TIMESTAMP WITH TIME ZONE" if instants else "TIMESTAMP",
                    "line_number": "BIGINT",
                    "quantity": "INTEGER",
                }
            report = load_source(conn, config, "order_lines")
            loaded[fmt] = (
                file_days(config, "order_lines", str(path)),  # what the landing sensor refreshes
                conn.execute(
                    "select * exclude (_source_file, _loaded_at) from raw.order_lines "
                    "order by _row_number"
                ).fetchall(),
                conn.execute(
                    "select row_number, partition_day, reason from raw.quarantine order by 1"
                ).fetchall(),
                conn.execute(
                    "select partition_day, rows_read, rows_loaded, rows_quarantined "
                    "from raw.load_log order by 1"
                ).fetchall(),
                report.reasons,
            )
            assert reconcile(conn, "order_lines") == []
    # Row numbers: the CSV's physical lines start at 2 (its header), Parquet's rows at 1.
    days, table, quarantine, load_log, reasons = loaded["csv"]
    table = [(*row[:-2], row[-2] - 1, row[-1]) for row in table]
    quarantine = [(number - 1, day, reason) for number, day, reason in quarantine]
    assert loaded["parquet"] == (days, table, quarantine, load_log, reasons)
    loaded_days = [day for day, *_ in load_log if day is not None]
    assert days == (min(loaded_days), max(loaded_days))
    assert len(table) == 3 and reasons == {
        "quantity is 0": 1,
        "missing ordered_at": 1,
        "exact duplicate of an earlier row": 1,
    }


def test_parquet_files_that_store_a_column_in_different_types_are_read_as_text(tmp_path):
    """One file stores the timestamps as timestamps, a later one as text with a bad value: the
    column is read as text from both, so the bad value is quarantined with what it was."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from landing.read import native_types

    (tmp_path / "landing").mkdir()
    common = {
        "order_id": ["1"],
        "customer_id": ["C1"],
        "product_id": ["P1"],
        "quantity": [1],
        "unit_price": [2.0],
    }
    pq.write_table(
        pa.table({**common, "ordered_at": pa.array([datetime(2024, 3, 1, 10)])}),
        tmp_path / "landing" / "a.parquet",
    )
    pq.write_table(
        pa.table({**common, "order_id": ["2"], "ordered_at": ["not a date"]}),
        tmp_path / "landing" / "b.parquet",
    )
    config = _typed_columns_config(tmp_path, "*.parquet", None)
    files = [str(tmp_path / "landing" / name) for name in ("a.parquet", "b.parquet")]
    with duckdb.connect() as conn:
        assert native_types(conn, config, "order_lines", files) == {"quantity": "BIGINT"}
        report = load_source(conn, config, "order_lines")
        assert (report.rows_loaded, report.rows_quarantined) == (1, 1)
        assert conn.execute("select reason from raw.quarantine").fetchall() == [
            ("ordered_at: expected a date and time, got 'not a date'",)
        ]
        assert conn.execute("select ordered_at from raw.order_lines").fetchall() == [
            (datetime(2024, 3, 1, 10),)
        ]


def test_a_parquet_file_changed_while_it_is_loaded_loads_nothing(tmp_path):
    """A Parquet file read whole is read again by each of the loader's passes (it is not copied):
    when it is rewritten between two of them, the load names the file, loads nothing and keeps
    the previous load; the next load reads the new file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "landing").mkdir()
    path = tmp_path / "landing" / "lines.parquet"

    def deliver(order_ids: list[str]) -> None:
        rows = len(order_ids)
        pq.write_table(
            pa.table(
                {
                    "order_id": order_ids,
                    "customer_id": ["C1"] * rows,
                    "ordered_at": [datetime(2024, 3, 1, 10)] * rows,
                    "product_id": ["P1"] * rows,
                    "quantity": [1] * rows,
                    "unit_price": [2.0] * rows,
                }
            ),
            path,
        )

    class RewrittenMidLoad:
        """A connection that delivers a new file once the loader's first pass has read it."""

        def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
            self.conn, self.rewritten = conn, False

        def execute(self, sql: str, *args):
            result = self.conn.execute(sql, *args)
            if "temp table _shared" in sql and not self.rewritten:
                self.rewritten = True
                deliver(["3", "4", "5", "7"])  # another size: seen whatever the clock
            return result

        def __getattr__(self, name: str):
            return getattr(self.conn, name)

    config = _typed_columns_config(tmp_path, "*.parquet", None)
    deliver(["1", "2"])
    with duckdb.connect() as conn:
        load_source(conn, config, "order_lines")
        deliver(["1", "2", "6"])  # a corrected delivery, rewritten again while it is loaded
        with pytest.raises(SourceError, match=r"lines\.parquet: changed while it was being loaded"):
            load_source(RewrittenMidLoad(conn), config, "order_lines")
        orders = "select order_id from raw.order_lines order by 1"
        assert conn.execute(orders).fetchall() == [("1",), ("2",)]
        assert reconcile(conn, "order_lines") == []
        load_source(conn, config, "order_lines")
        assert conn.execute(orders).fetchall() == [("3",), ("4",), ("5",), ("7",)]
        assert reconcile(conn, "order_lines") == []
